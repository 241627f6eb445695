package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
)

// rolePolicies are the transit rights of the tenant's Vault roles, one per kind of Job: the
// backup Job wraps file keys and signs manifests; restore and drill Jobs unwrap and check
// signatures; list only checks them. Nobody but the backup Job can sign.
var rolePolicies = map[string][]string{
	"backup":  {"encrypt", "hmac", "verify"},
	"restore": {"decrypt", "verify"},
	"list":    {"verify"},
}

// TestKubernetesAuthWithSplitRoles runs backup, list, verify and restore as Jobs would:
// logged in through Vault's Kubernetes auth with a real ServiceAccount token from a real API
// server, each holding only its role's transit rights on the tenant's key.
func TestKubernetesAuthWithSplitRoles(t *testing.T) {
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
	const key = "helpdesk-" + ns + "-" + name
	if err := admin.Sys().MountWithContext(ctx, "transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Logical().WriteWithContext(ctx, "transit/keys/"+key, nil); err != nil {
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
	for role, ops := range rolePolicies {
		var policy strings.Builder
		for _, op := range ops {
			fmt.Fprintf(&policy, "path %q {\n  capabilities = [\"update\"]\n}\n", "transit/"+op+"/"+key)
		}
		if err := admin.Sys().PutPolicyWithContext(ctx, key+"-"+role, policy.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Logical().WriteWithContext(ctx, "auth/kubernetes/role/"+key+"-"+role, map[string]any{
			"bound_service_account_names": sa, "bound_service_account_namespaces": ns,
			"policies": key + "-" + role, "ttl": "1h",
		}); err != nil {
			t.Fatal(err)
		}
	}

	pg := postgres.Start(t)
	pg.CreateDatabase(t, "app")
	pg.CreateDatabase(t, "restored")
	destination := t.TempDir()
	vaultFlags := func(role string) []string {
		return []string{"--vault-addr=" + v.Addr, "--vault-k8s-role=" + key + "-" + role, "--vault-sa-token-file=" + tokenFile,
			"--transit-key=" + key, "--instance-namespace=" + ns, "--instance-name=" + name, "--path=" + destination}
	}
	db := []string{"--db-host=" + pg.Host, "--db-port=" + itoa(pg.Port), "--db-user=" + pg.User, "--db-sslmode=disable", "--pg-bin-dir=" + pg.BinDir()}
	t.Setenv("PGPASSWORD", pg.Password)
	t.Setenv("VAULT_TOKEN", "")
	res, err := runMain(t, "backup", slices.Concat(vaultFlags("backup"), db, []string{"--db-name=app"})...)
	if err != nil {
		t.Fatalf("backup with the backup role: %v", err)
	}
	if list, err := runMain(t, "list", vaultFlags("list")...); err != nil || len(list["backups"].([]any)) != 1 {
		t.Fatalf("list with the list role: %v, %v", list, err)
	}
	// The drill needs no database settings, and no more than the restore role.
	if _, err := runMain(t, "verify", append(vaultFlags("restore"), "--pg-bin-dir="+pg.BinDir(), "--scratch-dir="+scratchDir(t))...); err != nil {
		t.Fatalf("verify with the restore role: %v", err)
	}
	if _, err := runMain(t, "restore", slices.Concat(vaultFlags("restore"), db, []string{"--db-name=restored", "--id=" + res["id"].(string)})...); err != nil {
		t.Fatalf("restore with the restore role: %v", err)
	}
	// Only the backup role can make a backup (and so sign a manifest).
	for _, role := range []string{"restore", "list"} {
		if _, err := runMain(t, "backup", slices.Concat(vaultFlags(role), db, []string{"--db-name=app"})...); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("backup with the %s role: %v, want denied", role, err)
		}
	}
	// Another instance's role is refused at login, before any data is read.
	_, err = runMain(t, "backup", slices.Concat(vaultFlags("backup"), db, []string{"--db-name=app", "--vault-k8s-role=helpdesk-other-desk"})...)
	if err == nil {
		t.Fatal("backup with a role the token is not bound to succeeded")
	}
}
