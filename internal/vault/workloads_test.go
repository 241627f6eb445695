package vault

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// TestTenantWorkloadsInVault logs real ServiceAccounts of a real API server in to a real
// Vault through the roles EnsureTenant writes and the fixed tenant policies, and tries to
// cross every boundary: another workload's capability, another instance's key, another
// namespace's key and secrets (also by tampering with the annotations the policies read),
// the restore grant outside its window, a token for the wrong audience, and a role the
// operator binds to itself.
func TestTenantWorkloadsInVault(t *testing.T) {
	ctx := context.Background()
	kube := startKube(t)
	srv := vaultdev.Start(t)
	admin, _ := newTestClient(t, srv)
	if err := admin.EnsureMounts(ctx, kube.authConfig(t)); err != nil {
		t.Fatal(err)
	}
	root := rootClient(t, srv)

	type instance struct {
		tenant Tenant
		key    string
	}
	newInstance := func(ns, name string) instance {
		tenant := testTenant(ns, name)
		tenant.ServiceAccounts[WorkloadApp] = name + "-app"
		if _, err := admin.EnsureTenant(ctx, tenant); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "SECRET_KEY_BASE"}}); err != nil {
			t.Fatal(err)
		}
		for _, sa := range tenant.ServiceAccounts {
			kube.serviceAccount(t, ns, sa, instanceAnnotations(name))
		}
		return instance{tenant: tenant, key: KeyName("helpdesk", ns, name)}
	}
	a := newInstance("tenant-a", "desk")
	sibling := newInstance("tenant-a", "other")
	b := newInstance("tenant-b", "desk")

	// workload logs in as inst's workload with a fresh token for the Vault audience.
	workload := func(inst instance, w Workload) *vaultapi.Client {
		t.Helper()
		sa := inst.tenant.ServiceAccounts[w]
		c, err := login(t, srv, RoleName("helpdesk", inst.tenant.Namespace, inst.tenant.Name, w), kube.token(t, inst.tenant.Namespace, sa, "vault"))
		if err != nil {
			t.Fatalf("%s/%s %s workload login: %v", inst.tenant.Namespace, inst.tenant.Name, w, err)
		}
		return c
	}
	plaintext := base64.StdEncoding.EncodeToString([]byte("file key"))
	ciphertext := func(key string) string {
		t.Helper()
		s, err := root.Logical().Write("transit/encrypt/"+key, map[string]any{"plaintext": plaintext})
		if err != nil {
			t.Fatal(err)
		}
		return s.Data["ciphertext"].(string)
	}
	encrypt := func(c *vaultapi.Client, key string) error {
		_, err := c.Logical().Write("transit/encrypt/"+key, map[string]any{"plaintext": plaintext})
		return err
	}
	decrypt := func(c *vaultapi.Client, key string) error {
		_, err := c.Logical().Write("transit/decrypt/"+key, map[string]any{"ciphertext": ciphertext(key)})
		return err
	}
	hmacVerify := func(c *vaultapi.Client, key string) error {
		s, err := root.Logical().Write("transit/hmac/"+key, map[string]any{"input": plaintext, "algorithm": "sha2-256"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Logical().Write("transit/verify/"+key, map[string]any{"input": plaintext, "hmac": s.Data["hmac"], "algorithm": "sha2-256"})
		return err
	}
	hmacSign := func(c *vaultapi.Client, key string) error {
		_, err := c.Logical().Write("transit/hmac/"+key, map[string]any{"input": plaintext, "algorithm": "sha2-256"})
		return err
	}
	readSecrets := func(c *vaultapi.Client, ns, name string) error {
		_, err := c.Logical().Read("secret/data/" + SecretsPath("helpdesk", ns, name))
		return err
	}
	type check struct {
		what    string
		err     error
		allowed bool
	}
	expect := func(checks ...check) {
		t.Helper()
		for _, c := range checks {
			switch {
			case c.allowed && c.err != nil:
				t.Errorf("%s: %v, want allowed", c.what, c.err)
			case !c.allowed && !IsPermissionDenied(c.err):
				t.Errorf("%s: %v, want 403", c.what, c.err)
			}
		}
	}

	backup, restore, app := workload(a, WorkloadBackup), workload(a, WorkloadRestore), workload(a, WorkloadApp)
	expect(
		check{"backup encrypts with its key", encrypt(backup, a.key), true},
		check{"backup signs with its key", hmacSign(backup, a.key), true},
		check{"backup verifies with its key", hmacVerify(backup, a.key), true},
		check{"backup decrypts with its key", decrypt(backup, a.key), false},
		check{"backup encrypts with a sibling's key", encrypt(backup, sibling.key), false},
		check{"backup encrypts with another namespace's key", encrypt(backup, b.key), false},
		check{"backup reads the app secrets", readSecrets(backup, "tenant-a", "desk"), false},

		check{"restore decrypts with its key", decrypt(restore, a.key), true},
		check{"restore verifies with its key", hmacVerify(restore, a.key), true},
		check{"restore encrypts with its key", encrypt(restore, a.key), false},
		check{"restore signs with its key", hmacSign(restore, a.key), false},
		check{"restore decrypts a sibling's key without a restore source", decrypt(restore, sibling.key), false},
		check{"restore decrypts another namespace's key", decrypt(restore, b.key), false},

		check{"app reads its secrets", readSecrets(app, "tenant-a", "desk"), true},
		check{"app reads a sibling's secrets", readSecrets(app, "tenant-a", "other"), false},
		check{"app reads another namespace's secrets", readSecrets(app, "tenant-b", "desk"), false},
		check{"app decrypts with its instance's key", decrypt(app, a.key), false},
		check{"app reads the ownership record", func() error {
			_, err := app.Logical().Read("secret/data/" + OwnerPath("helpdesk", "tenant-a", "desk"))
			return err
		}(), false},
	)

	// The restore grant: while the operator names a source on the restore ServiceAccount,
	// and only for that source of the same namespace.
	restoreSA := a.tenant.ServiceAccounts[WorkloadRestore]
	kube.serviceAccount(t, "tenant-a", restoreSA, map[string]string{
		ServiceAccountAnnotation(MetadataInstance): "desk", ServiceAccountAnnotation(MetadataRestoreSource): "other",
	})
	restoring := workload(a, WorkloadRestore)
	expect(
		check{"restoring decrypts with the source's key", decrypt(restoring, sibling.key), true},
		check{"restoring verifies with the source's key", hmacVerify(restoring, sibling.key), true},
		check{"restoring encrypts with the source's key", encrypt(restoring, sibling.key), false},
		check{"restoring decrypts another namespace's key", decrypt(restoring, b.key), false},
	)
	kube.serviceAccount(t, "tenant-a", restoreSA, instanceAnnotations("desk"))
	expect(check{"after the restore, a new login decrypts with the source's key", decrypt(workload(a, WorkloadRestore), sibling.key), false})

	// A tenant that edits its own ServiceAccounts' annotations stays in its namespace: '*'
	// globs only over its own keys, and a path cannot climb into another namespace.
	tamper := func(w Workload, annotations map[string]string) *vaultapi.Client {
		t.Helper()
		kube.serviceAccount(t, "tenant-a", a.tenant.ServiceAccounts[w], annotations)
		return workload(a, w)
	}
	globbing := tamper(WorkloadBackup, instanceAnnotations("*"))
	expect(
		check{"a globbing annotation encrypts with another namespace's key", encrypt(globbing, b.key), false},
		check{"a globbing annotation signs with another namespace's key", hmacSign(globbing, b.key), false},
	)
	climbing := tamper(WorkloadApp, instanceAnnotations("../../tenant-b/desk"))
	expect(check{"a climbing annotation reads another namespace's secrets", readSecrets(climbing, "tenant-b", "desk"), false})
	// The policy now names the literal path with "..": Vault does not resolve it, so it
	// holds nothing (or is refused), never tenant B's secrets.
	if s, err := climbing.Logical().Read("secret/data/helpdesk/secrets/tenant-a/../../tenant-b/desk"); err == nil && s != nil {
		t.Errorf("a climbing annotation read data through the literal path: %v", s.Data)
	}
	joining := tamper(WorkloadBackup, instanceAnnotations("x_tenant-b_desk"))
	expect(check{"an annotation joining names reaches another namespace's key", encrypt(joining, b.key), false})
	kube.serviceAccount(t, "tenant-a", a.tenant.ServiceAccounts[WorkloadBackup], map[string]string{
		ServiceAccountAnnotation(MetadataInstance): "desk", ServiceAccountAnnotation(metadataNamespace): "tenant-b",
	})
	if _, err := login(t, srv, RoleName("helpdesk", "tenant-a", "desk", WorkloadBackup), kube.token(t, "tenant-a", a.tenant.ServiceAccounts[WorkloadBackup], "vault")); err == nil {
		t.Error("a ServiceAccount annotation overriding the verified namespace was accepted at login")
	}
	kube.serviceAccount(t, "tenant-a", a.tenant.ServiceAccounts[WorkloadBackup], instanceAnnotations("desk"))

	// Audience: a token for the API server does not log in; a token for Vault is no good
	// against the API server.
	apiToken := kube.token(t, "tenant-a", a.tenant.ServiceAccounts[WorkloadBackup], "")
	if _, err := login(t, srv, RoleName("helpdesk", "tenant-a", "desk", WorkloadBackup), apiToken); err == nil {
		t.Error("a token for the API server's audience logged in to Vault")
	}
	vaultToken := kube.token(t, "tenant-a", a.tenant.ServiceAccounts[WorkloadBackup], "vault")
	asPod := kubernetes.NewForConfigOrDie(&rest.Config{Host: kube.cfg.Host, BearerToken: vaultToken, TLSClientConfig: rest.TLSClientConfig{CAData: kube.cfg.CAData}})
	if _, err := asPod.CoreV1().ServiceAccounts("tenant-a").List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("a Vault-audience token against the API server: %v, want Unauthorized", err)
	}
	// Roles admit only their ServiceAccount.
	kube.serviceAccount(t, "tenant-a", "intruder", instanceAnnotations("desk"))
	if _, err := login(t, srv, RoleName("helpdesk", "tenant-a", "desk", WorkloadRestore), kube.token(t, "tenant-a", "intruder", "vault")); err == nil {
		t.Error("another ServiceAccount logged in with the restore role")
	}

	// A compromised operator binds a role with the restore policy to its own ServiceAccount
	// and annotates itself as the victim: the policy still names its own namespace's keys.
	_, op := operatorClient(t, srv)
	selfRole := RoleName("helpdesk", "helpdesk-system", "desk", WorkloadRestore)
	if _, err := op.Logical().Write("auth/kubernetes/role/"+selfRole, map[string]any{
		"bound_service_account_names": []string{"helpdesk-operator"}, "bound_service_account_namespaces": []string{"helpdesk-system"},
		"audience": "vault", "token_policies": []string{"helpdesk-tenant-restore"},
	}); err != nil {
		t.Fatalf("the operator writing a tenant-shaped role for itself (allowed, and harmless): %v", err)
	}
	kube.serviceAccount(t, "helpdesk-system", "helpdesk-operator", map[string]string{
		ServiceAccountAnnotation(MetadataInstance): "desk", ServiceAccountAnnotation(MetadataRestoreSource): "*",
	})
	self, err := login(t, srv, selfRole, kube.token(t, "helpdesk-system", "helpdesk-operator", "vault"))
	if err != nil {
		t.Fatal(err)
	}
	expect(
		check{"the operator's self-made role decrypts tenant A's key", decrypt(self, a.key), false},
		check{"the operator's self-made role decrypts tenant B's key", decrypt(self, b.key), false},
	)
}
