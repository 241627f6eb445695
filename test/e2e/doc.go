// Package e2e holds the end-to-end tests: the operator, installed with its Helm chart,
// against a real single-node cluster (hack/cluster.sh) with CloudNativePG, real PostgreSQL
// pods, NetworkPolicies enforced by kube-router, Traefik as the edge, and Vault, the
// versitygw S3 gateway and a test OpenID provider on the host. The tests are behind the e2e build tag, so `go test ./...` does not build them;
// run `make test-e2e`, which builds what is missing, brings the cluster up, runs them and
// tears it down.
//
// The instances, shared where sharing does not weaken a test (a full run starts them
// together, so their databases come up side by side):
//
//   - minimal (instance_test.go): config/samples/helpdeskinstance_minimal.yaml;
//   - tenants A and B (tenants_test.go): config/samples/helpdeskinstance.yaml in namespaces
//     <base>-prod (instance desk) and <base> (instance prod-desk), names the old
//     <prefix>-<namespace>-<name> Vault scheme joined, each with the BackupPolicy of
//     config/samples/backuppolicy_s3.yaml on its own bucket;
//   - A's restore (backup_test.go): a new instance of A's namespace restored from A's
//     backup, sharing A's BackupPolicy, deleted with deletionPolicy Shred.
//
// What each file proves: tenants_test.go that two tenants start and keep apart keys;
// perimeter_test.go (and instance_test.go) the NetworkPolicies on real connections;
// backup_test.go backups, drills, restores, a shared destination and shredding;
// vault_test.go that one tenant's pod cannot use another's key; failure_test.go Vault
// outages and a killed PostgreSQL primary; edge_test.go an AccessPolicy on real requests
// through Traefik v3.5.3 (built from its module, run with its Ingress and CRD providers,
// its CRDs and RBAC from the module): from a pod outside the agent allow-list Traefik
// refuses /admin (with or without a session) while the portal answers, from a pod inside
// it the access gate sends a request without a session to the OpenID provider (zitadel/oidc
// on the host), a real sign-in whose ID token has amr otp reaches the app's /admin with
// the gate's identity and the pod's own address as the client, and one with amr pwd only
// is refused (MFA verified, not only requested).
//
// The operator runs with the exposure ingress/traefik for the whole suite (instances
// without an AccessPolicy get plain Ingresses either way) and its gates with an image that
// trusts the run's test CA (framework.GateImage).
//
// The app container runs helpy-standin (test/e2e/fixtures/helpy-standin), a test fixture
// that plays Helpy's commands against the real database; everything else of the app's pod
// (security context, volumes, probes, environment from Secrets) is the operator's own. So
// the suite proves the operator's wiring, not that Helpy itself runs under it.
package e2e
