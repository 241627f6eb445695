package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// TestKubernetesAuthWithTheTenantPolicy runs backup, list, verify and restore as the Jobs do:
// logged in through Vault's Kubernetes auth with real, audience-bound ServiceAccount tokens
// from a real API server, through the roles and fixed tenant policies internal/vault sets
// up. The backup workload's role (encrypt, sign, verify) must be enough to back up and
// prune, the restore workload's (decrypt, verify) to drill and restore, and neither may do
// the other's job.
func TestKubernetesAuthWithTheTenantPolicy(t *testing.T) {
	ctx := context.Background()
	env, _ := kubeenv.StartForTest(t)
	restCfg := env.Config
	kube := kubernetes.NewForConfigOrDie(restCfg)

	const ns, name = "tenant-a", "desk"
	workloads := map[vault.Workload]string{vault.WorkloadBackup: "desk-backup", vault.WorkloadRestore: "desk-restore"}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tokenFiles := map[vault.Workload]string{}
	for w, sa := range workloads {
		// The annotation the operator's ServiceAccount builder sets; Vault reads it at login.
		if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: sa, Annotations: map[string]string{vault.ServiceAccountAnnotation(vault.MetadataInstance): name},
		}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		token, err := kubeenv.ServiceAccountToken(ctx, restCfg, ns, sa, "vault")
		if err != nil {
			t.Fatal(err)
		}
		tokenFiles[w] = filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFiles[w], []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reviewer, err := kubeenv.VaultReviewerToken(ctx, restCfg)
	if err != nil {
		t.Fatal(err)
	}

	v := vaultdev.Start(t)
	cfg := vault.DefaultConfig()
	cfg.Address, cfg.AuthMethod, cfg.Token = v.Addr, vault.AuthToken, v.RootToken
	admin, err := vault.New(ctx, cfg, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.EnsureMounts(ctx, vault.KubernetesAuthConfig{Host: restCfg.Host, CACertPEM: string(restCfg.CAData), ReviewerJWT: reviewer}); err != nil {
		t.Fatal(err)
	}
	tenant := vault.Tenant{Namespace: ns, Name: name, UID: "uid-desk", ServiceAccounts: workloads}
	if _, err := admin.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	names := vault.NamesFor(cfg.Prefix, ns, name)

	pg := postgres.Start(t)
	pg.CreateDatabase(t, "app")
	pg.CreateDatabase(t, "restored")
	dest := t.TempDir()
	as := func(w vault.Workload) []string {
		return []string{
			"--db-host=" + pg.Host, "--db-port=" + itoa(pg.Port), "--db-user=" + pg.User, "--db-sslmode=disable",
			"--pg-bin-dir=" + pg.BinDir(), "--path=" + dest,
			"--vault-addr=" + v.Addr, "--vault-k8s-role=" + names.Roles[w], "--vault-sa-token-file=" + tokenFiles[w],
			"--transit-key=" + names.Key, "--instance-namespace=" + ns, "--instance-name=" + name,
		}
	}
	vaultOnly := func(w vault.Workload) []string {
		return []string{
			"--path=" + dest, "--vault-addr=" + v.Addr, "--vault-k8s-role=" + names.Roles[w], "--vault-sa-token-file=" + tokenFiles[w],
			"--transit-key=" + names.Key, "--instance-namespace=" + ns, "--instance-name=" + name,
		}
	}
	t.Setenv("PGPASSWORD", pg.Password)
	t.Setenv("VAULT_TOKEN", "")
	res, err := runMain(t, "backup", append(as(vault.WorkloadBackup), "--db-name=app")...)
	if err != nil {
		t.Fatalf("backup with the backup workload's role: %v", err)
	}
	if _, err := runMain(t, "backup", append(as(vault.WorkloadBackup), "--db-name=app")...); err != nil {
		t.Fatalf("a second backup (which prunes, reading the catalog) with the backup workload's role: %v", err)
	}
	if list, err := runMain(t, "list", vaultOnly(vault.WorkloadRestore)...); err != nil || len(list["backups"].([]any)) != 2 {
		t.Fatalf("list with the restore workload's role: %v, %v", list, err)
	}
	// The drill needs no database settings, and no more than the restore role.
	if _, err := runMain(t, "verify", append(vaultOnly(vault.WorkloadRestore), "--pg-bin-dir="+pg.BinDir(), "--scratch-dir="+scratchDir(t))...); err != nil {
		t.Fatalf("verify with the restore workload's role: %v", err)
	}
	if _, err := runMain(t, "restore", append(as(vault.WorkloadRestore), "--db-name=restored", "--id="+res["id"].(string))...); err != nil {
		t.Fatalf("restore with the restore workload's role: %v", err)
	}
	// Each workload is refused the other's job.
	if _, err := runMain(t, "backup", append(as(vault.WorkloadRestore), "--db-name=app")...); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a backup with the restore workload's role (no encrypt, no sign): %v, want denied", err)
	}
	pg.CreateDatabase(t, "restored2")
	if _, err := runMain(t, "restore", append(as(vault.WorkloadBackup), "--db-name=restored2", "--id="+res["id"].(string))...); err == nil {
		t.Error("a restore with the backup workload's role (no decrypt) succeeded")
	}
	// A role the token is not bound to is refused at login, before any data is read.
	wrongRole := append(as(vault.WorkloadBackup), "--db-name=app", "--vault-k8s-role="+names.Roles[vault.WorkloadRestore])
	if _, err := runMain(t, "backup", wrongRole...); err == nil {
		t.Fatal("backup with a role the token is not bound to succeeded")
	}
}
