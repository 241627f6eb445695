package operator

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/go-logr/logr/testr"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// TestVaultSetupPreparesVaultForTheOperator runs `helpdesk-operator vault-setup` as an
// administrator would against a real Vault and API server, twice, and then logs in as the
// operator's ServiceAccount and manages a tenant with what it set up: nothing else.
func TestVaultSetupPreparesVaultForTheOperator(t *testing.T) {
	ctx := context.Background()
	env, c := kubeenv.StartForTest(t)
	t.Setenv("KUBECONFIG", writeKubeconfig(t, env))
	srv := vaultdev.Start(t)
	t.Setenv("VAULT_ADDR", srv.Addr)
	t.Setenv("VAULT_TOKEN", srv.RootToken)
	reviewer, err := kubeenv.VaultReviewerToken(ctx, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	reviewerFile := filepath.Join(t.TempDir(), "reviewer")
	if err := os.WriteFile(reviewerFile, []byte(reviewer), 0o600); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		if err := RunVaultSetup(ctx, []string{"--token-reviewer-jwt-file=" + reviewerFile, "--zap-log-level=error"}, io.Discard); err != nil {
			t.Fatalf("vault-setup round %d: %v", round, err)
		}
	}
	if err := RunVaultSetup(ctx, nil, io.Discard); err == nil {
		t.Error("vault-setup for a Vault outside the cluster without a reviewer token succeeded")
	}

	// The operator logs in with its own ServiceAccount and the role vault-setup wrote.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "helpdesk-system"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "helpdesk-system", Name: "helpdesk-operator"}}); err != nil {
		t.Fatal(err)
	}
	token, err := kubeenv.ServiceAccountToken(ctx, env.Config, "helpdesk-system", "helpdesk-operator", "")
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := vault.DefaultConfig()
	cfg.Address, cfg.AuthMethod, cfg.Token, cfg.Role, cfg.ServiceAccountTokenPath = srv.Addr, vault.AuthKubernetes, "", "helpdesk-operator", tokenFile
	cfg.RequestTimeout = 5 * time.Second
	operator, err := vault.New(ctx, cfg, testr.New(t))
	if err != nil {
		t.Fatalf("the operator logging in with the role vault-setup wrote: %v", err)
	}
	tenant := vault.Tenant{Namespace: "team-a", Name: "desk", UID: "uid-1", ServiceAccounts: map[vault.Workload]string{vault.WorkloadBackup: "desk-backup", vault.WorkloadRestore: "desk-restore"}}
	if _, err := operator.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("the operator managing a tenant after vault-setup: %v", err)
	}
	if _, err := operator.API().Sys().ListMountsWithContext(ctx); !vault.IsPermissionDenied(err) {
		t.Errorf("the operator listing Vault's mounts: %v, want permission denied (it has only its own policy)", err)
	}
}
