package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// TestKubernetesAuthWithTheTenantPolicy runs backup, verify and restore as a Job would: logged
// in through Vault's Kubernetes auth with a real ServiceAccount token from a real API server,
// holding only the tenant policy the operator writes (transit encrypt and decrypt on the
// tenant's own key), which must be enough for wrapping keys and sealing manifests.
func TestKubernetesAuthWithTheTenantPolicy(t *testing.T) {
	ctx := context.Background()
	assets, err := binaries.EnvtestAssets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	restCfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kube := kubernetes.NewForConfigOrDie(restCfg)

	const ns, name, sa = "tenant-a", "desk", "desk-backup"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Vault runs outside the cluster and reviews each login with the logging-in token itself.
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + sa + "-auth-delegator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expiry := int64(3600)
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tr.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}

	v := vaultdev.Start(t)
	admin := v.Client(t)
	names := vault.NamesFor("helpdesk", ns, name)
	if err := admin.Sys().MountWithContext(ctx, "transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Logical().WriteWithContext(ctx, "transit/keys/"+names.Key, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Sys().EnableAuthWithOptionsWithContext(ctx, "kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Logical().WriteWithContext(ctx, "auth/kubernetes/config", map[string]any{
		"kubernetes_host": restCfg.Host, "kubernetes_ca_cert": string(restCfg.CAData), "disable_local_ca_jwt": true,
	}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Sys().PutPolicyWithContext(ctx, names.Policy, vault.TenantPolicy("transit", "secret", ns, name, names, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Logical().WriteWithContext(ctx, "auth/kubernetes/role/"+names.Role, map[string]any{
		"bound_service_account_names": sa, "bound_service_account_namespaces": ns,
		"policies": names.Policy, "ttl": "1h",
	}); err != nil {
		t.Fatal(err)
	}

	pg := postgres.Start(t)
	pg.CreateDatabase(t, "app")
	pg.CreateDatabase(t, "restored")
	common := []string{
		"--db-host=" + pg.Host, "--db-port=" + itoa(pg.Port), "--db-user=" + pg.User, "--db-sslmode=disable",
		"--pg-bin-dir=" + pg.BinDir(), "--path=" + t.TempDir(),
		"--vault-addr=" + v.Addr, "--vault-k8s-role=" + names.Role, "--vault-sa-token-file=" + tokenFile,
		"--transit-key=" + names.Key, "--instance-namespace=" + ns, "--instance-name=" + name,
	}
	t.Setenv("PGPASSWORD", pg.Password)
	t.Setenv("VAULT_TOKEN", "")
	res, err := runMain(t, "backup", append(common, "--db-name=app")...)
	if err != nil {
		t.Fatalf("backup with Kubernetes auth and the tenant policy: %v", err)
	}
	if _, err := runMain(t, "verify", append(common, "--db-name=app")...); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if _, err := runMain(t, "restore", append(common, "--db-name=restored", "--id="+res["id"].(string))...); err != nil {
		t.Fatalf("restore: %v", err)
	}
	// Another role's token is refused at login, before any data is read.
	_, err = runMain(t, "backup", append(common, "--db-name=app", "--vault-k8s-role=helpdesk-other-desk")...)
	if err == nil {
		t.Fatal("backup with a role the token is not bound to succeeded")
	}
}
