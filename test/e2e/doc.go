// Package e2e holds the end-to-end tests: the operator, installed with its Helm chart,
// against a real single-node cluster (hack/cluster.sh) with CloudNativePG, real PostgreSQL
// pods, NetworkPolicies enforced by kube-router, and Vault on the host. The tests are
// behind the e2e build tag, so `go test ./...` does not build them; run `make test-e2e`,
// which builds what is missing, brings the cluster up, runs them and tears it down.
package e2e
