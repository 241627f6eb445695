//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// The cluster, the host Vault and the operator the tests share, set up by TestMain.
var (
	cluster  *framework.Cluster
	operator = framework.Operator{
		Namespace:        framework.OperatorNamespace,
		Release:          "helpdesk-operator",
		IngressNamespace: "e2e-ingress",
	}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
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
	admin, err := framework.VaultClient(vault.Addr, vault.RootToken)
	if err != nil {
		return fail("%v", err)
	}
	// The operator gets exactly the least-privilege policy the README documents.
	if err := cluster.VaultPolicyFromFile(ctx, admin, "helpdesk-operator", "config/vault/operator-policy.hcl"); err != nil {
		return fail("%v", err)
	}
	token, err := framework.VaultToken(ctx, admin, "helpdesk-operator")
	if err != nil {
		return fail("%v", err)
	}
	operator.VaultAddress, operator.VaultToken = vault.Addr, token
	if err := cluster.InstallOperator(ctx, operator); err != nil {
		return fail("installing the operator with charts/helpdesk-operator: %v", err)
	}
	fmt.Fprintf(os.Stderr, "e2e setup: Vault at %s, operator installed in %s (%s)\n", vault.Addr, operator.Namespace, time.Since(start).Round(time.Second))

	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "\n---- operator logs ----\n%s\n---- Vault log ----\n%s\n", cluster.OperatorLogs(ctx, operator, 80), proc.LogTail(vault.LogPath(), 30))
	}
	return code
}
