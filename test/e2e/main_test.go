//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// The cluster, the host Vault and S3 gateway, and the operator the tests share, set up by
// TestMain.
var (
	cluster  *framework.Cluster
	operator = framework.Operator{
		Namespace:        framework.OperatorNamespace,
		Release:          "helpdesk-operator",
		IngressNamespace: "e2e-ingress",
		// Traefik is the edge (edge_test.go runs it in IngressNamespace): the operator
		// writes its Ingresses with Traefik's Middlewares, and its access gates run the
		// image that trusts the run's test CA. Instances without an AccessPolicy get
		// plain Ingresses either way.
		Values: []string{
			"exposure.mode=ingress",
			"exposure.ingressController=traefik",
			"gate.image=" + framework.GateImage,
		},
	}
	// testCA signs the test identity provider's and the edge's certificates.
	testCA *framework.TestCA
	// vaultServer is the host Vault; the failure tests stop and restart it.
	vaultServer *vaultdev.Server
	// vaultAdmin is a root client of it, for checks of what Vault holds.
	vaultAdmin *vaultapi.Client
	// s3 is the host S3 gateway the tenants' BackupPolicies point at.
	s3 *s3gw.Server
)

// vaultPrefix is the chart's default vault.prefix: the operator's names in Vault start with it.
const vaultPrefix = "helpdesk"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "e2e setup: "+format+"\n", args...)
		return 1
	}
	var err error
	if cluster, err = framework.Connect(ctx); err != nil {
		return fail("%v", err)
	}
	go cluster.RunProvisioner(ctx, func(err error) { fmt.Fprintf(os.Stderr, "e2e provisioner: %v\n", err) })

	start := time.Now()
	vault, stopVault, err := cluster.StartVault(ctx)
	if err != nil {
		return fail("starting Vault on %s: %v", cluster.NodeIP, err)
	}
	defer stopVault()
	vaultServer = vault
	if vaultAdmin, err = framework.VaultClient(vault.Addr, vault.RootToken); err != nil {
		return fail("%v", err)
	}
	// The operator gets exactly the least-privilege policy the README documents.
	if err := cluster.VaultPolicyFromFile(ctx, vaultAdmin, "helpdesk-operator", "config/vault/operator-policy.hcl"); err != nil {
		return fail("%v", err)
	}
	token, err := framework.VaultToken(ctx, vaultAdmin, "helpdesk-operator")
	if err != nil {
		return fail("%v", err)
	}
	operator.VaultAddress, operator.VaultToken = vault.Addr, token
	// Before the operator starts with the Traefik exposure: the Middleware CRD it writes,
	// and the gate image.
	if err := cluster.InstallTraefikCRDs(ctx); err != nil {
		return fail("%v", err)
	}
	if testCA, err = framework.NewTestCA(); err != nil {
		return fail("%v", err)
	}
	if err := cluster.BuildGateImage(ctx, testCA.PEM); err != nil {
		return fail("%v", err)
	}
	if err := cluster.InstallOperator(ctx, operator); err != nil {
		return fail("installing the operator with charts/helpdesk-operator: %v", err)
	}
	var stopS3 func()
	if s3, stopS3, err = cluster.StartS3(); err != nil {
		return fail("starting versitygw on %s: %v", cluster.ServicesIP, err)
	}
	defer stopS3()
	fmt.Fprintf(os.Stderr, "e2e setup: Vault at %s, S3 at %s, operator installed in %s (%s)\n", vault.Addr, s3.Endpoint, operator.Namespace, time.Since(start).Round(time.Second))

	// The instances' databases take most of a run's time: in a full run, start the shared
	// instances together now, so that their databases come up side by side. A run of
	// selected tests (-run) creates only what its tests ask for.
	if flag.Lookup("test.run").Value.String() == "" {
		startSharedInstances()
	}

	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "\n---- operator logs ----\n%s\n---- Vault log ----\n%s\n", cluster.OperatorLogs(ctx, operator, 80), proc.LogTail(vault.LogPath(), 30))
	}
	// Before Vault stops: the instances' finalizers clean up their Vault state.
	start = time.Now()
	if err := deleteSharedNamespaces(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	fmt.Fprintf(os.Stderr, "e2e teardown: the tests' namespaces deleted, their instances gone (%s)\n", time.Since(start).Round(time.Second))
	return code
}
