package vault

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// operatorPolicyFile is config/vault/operator-policy.hcl, the policy the README tells
// administrators to give the operator.
func operatorPolicyFile(t *testing.T) string {
	t.Helper()
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	hcl, err := os.ReadFile(filepath.Join(root, "config", "vault", "operator-policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(hcl)
}

func TestOperatorPolicyFileIsGenerated(t *testing.T) {
	if got, want := operatorPolicyFile(t), OperatorPolicy(DefaultConfig(), "helpdesk-operator"); got != want {
		t.Errorf("config/vault/operator-policy.hcl differs from OperatorPolicy(defaults); write it anew:\n%s", want)
	}
}

// operatorClient is a root-made token holding only the documented operator policy.
func operatorClient(t *testing.T, srv *vaultdev.Server) (*Client, *vaultapi.Client) {
	t.Helper()
	ctx := context.Background()
	root := rootClient(t, srv)
	if err := root.Sys().PutPolicyWithContext(ctx, "helpdesk-operator-test", operatorPolicyFile(t)); err != nil {
		t.Fatal(err)
	}
	token, err := root.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{"helpdesk-operator-test"}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv)
	cfg.Token = token.Auth.ClientToken
	c, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	raw.SetToken(token.Auth.ClientToken)
	return c, raw
}

// TestDocumentedOperatorPolicySuffices runs the whole tenant lifecycle with a token that has
// only config/vault/operator-policy.hcl: it must be enough.
func TestDocumentedOperatorPolicySuffices(t *testing.T) {
	ctx := context.Background()
	newTestClient(t, shared) // enables the mounts and tenant policies, as an administrator would
	c, _ := operatorClient(t, shared)

	tenant := withRotation(testTenant("least", "privilege"), 24*time.Hour)
	tenant.ServiceAccounts[WorkloadApp] = "privilege-app"
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("EnsureTenant with the documented policy: %v", err)
	}
	tenant.RotationPeriod = 48 * time.Hour
	delete(tenant.ServiceAccounts, WorkloadApp)
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("changing the rotation period and dropping a role with the documented policy: %v", err)
	}
	if _, err := c.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "SECRET_KEY_BASE"}}); err != nil {
		t.Fatalf("EnsureAppSecrets with the documented policy: %v", err)
	}
	if retained, err := c.RetainedKey(ctx, tenant.Namespace, tenant.Name); err != nil || retained {
		t.Fatalf("RetainedKey with the documented policy: %t, %v", retained, err)
	}
	if _, err := c.DeleteTenant(ctx, tenant, Retain); err != nil {
		t.Fatalf("DeleteTenant(Retain) with the documented policy: %v", err)
	}
	adopter := tenant
	adopter.UID, adopter.AdoptRetained = "adopter-uid", true
	if _, err := c.EnsureTenant(ctx, adopter); err != nil {
		t.Fatalf("adopting with the documented policy: %v", err)
	}
	if _, err := c.DeleteTenant(ctx, adopter, Shred); err != nil {
		t.Fatalf("DeleteTenant(Shred) with the documented policy: %v", err)
	}
	if key, err := rootClient(t, shared).Logical().ReadWithContext(ctx, "transit/keys/"+KeyName("helpdesk", tenant.Namespace, tenant.Name)); err != nil || key != nil {
		t.Errorf("the key survived Shred (err %v)", err)
	}
}

// TestOperatorPolicyCannotEscalate: with exactly the documented policy, the operator can
// write no policy, give a role anything but a fixed tenant policy (in any encoding), touch
// its own role, make a key exportable, or use, export or back up a tenant's key. The
// templated policies' namespace binding, which keeps a role the operator binds to itself
// away from tenant keys, is proven with real logins in TestTenantWorkloadsInVault.
func TestOperatorPolicyCannotEscalate(t *testing.T) {
	ctx := context.Background()
	admin, _ := newTestClient(t, shared)
	_, op := operatorClient(t, shared)
	tenant := testTenant("escalate", "desk")
	if _, err := admin.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.DeleteTenant(context.Background(), tenant, Shred) })
	key := KeyName("helpdesk", tenant.Namespace, tenant.Name)
	role := "auth/kubernetes/role/" + RoleName("helpdesk", tenant.Namespace, tenant.Name, WorkloadBackup)
	validRole := func() map[string]any {
		return map[string]any{
			"bound_service_account_names": []string{"desk-backup"}, "bound_service_account_namespaces": []string{"escalate"},
			"audience": "vault", "token_policies": []string{"helpdesk-tenant-backup"}, "token_ttl": 900, "token_max_ttl": 3600,
		}
	}
	with := func(k string, v any) map[string]any { d := validRole(); d[k] = v; return d }
	write := func(path string, data map[string]any) func() error {
		return func() error { _, err := op.Logical().WriteWithContext(ctx, path, data); return err }
	}
	read := func(path string) func() error {
		return func() error { _, err := op.Logical().ReadWithContext(ctx, path); return err }
	}
	if err := write(role, validRole())(); err != nil {
		t.Fatalf("the operator writing a valid tenant role: %v", err)
	}
	denied := []struct {
		what string
		do   func() error
	}{
		{"write a tenant policy", func() error {
			return op.Sys().PutPolicyWithContext(ctx, "helpdesk-tenant-backup", `path "*" { capabilities = ["sudo", "read"] }`)
		}},
		{"write any policy", func() error {
			return op.Sys().PutPolicyWithContext(ctx, "helpdesk_escalate_desk", `path "*" { capabilities = ["sudo", "read"] }`)
		}},
		{"give a role the root policy", write(role, with("token_policies", []string{"root"}))},
		{"give a role the default policy too", write(role, with("token_policies", []string{"helpdesk-tenant-backup", "default"}))},
		{"give a role an extra policy as a comma string", write(role, with("token_policies", "helpdesk-tenant-backup,admin"))},
		{"give a role the operator's policy", write(role, with("token_policies", []string{"helpdesk-operator-test"}))},
		{"set a role's legacy policies", write(role, with("policies", []string{"helpdesk-operator-test"}))},
		{"bind a role by namespace selector", write(role, with("bound_service_account_namespace_selector", `{"matchLabels":{}}`))},
		{"set a role's alias name source", write(role, with("alias_name_source", "serviceaccount_name"))},
		{"attach CIDR-free token settings", write(role, with("token_no_default_policy", false))},
		{"write a role outside the prefix", write("auth/kubernetes/role/other", validRole())},
		{"read its own role", read("auth/kubernetes/role/helpdesk-operator")},
		{"write its own role", write("auth/kubernetes/role/helpdesk-operator", validRole())},
		{"configure Kubernetes auth", write("auth/kubernetes/config", map[string]any{"kubernetes_host": "https://evil:6443"})},
		{"create an exportable key", write("transit/keys/helpdesk_escalate_other", map[string]any{"type": "aes256-gcm96", "exportable": true})},
		{"create a key of another type", write("transit/keys/helpdesk_escalate_other", map[string]any{"type": "chacha20-poly1305"})},
		{"make a tenant key exportable", write("transit/keys/"+key+"/config", map[string]any{"exportable": true})},
		{"allow plaintext backup of a tenant key", write("transit/keys/"+key+"/config", map[string]any{"allow_plaintext_backup": true})},
		{"make a tenant key exportable while trimming", write("transit/keys/"+key+"/config", map[string]any{"min_decryption_version": 1, "exportable": true})},
		{"trim a key outside the prefix", write("transit/keys/other/trim", map[string]any{"min_available_version": 1})},
		{"rewrap with a tenant key", write("transit/rewrap/"+key, map[string]any{"ciphertext": "vault:v1:AAAA"})},
		{"make a data key with a tenant key", write("transit/datakey/plaintext/"+key, map[string]any{})},
		{"export a tenant key", read("transit/export/encryption-key/" + key)},
		{"back up a tenant key", read("transit/backup/" + key)},
		{"encrypt with a tenant key", write("transit/encrypt/"+key, map[string]any{"plaintext": "aGk="})},
		{"decrypt with a tenant key", write("transit/decrypt/"+key, map[string]any{"ciphertext": "vault:v1:AAAA"})},
		{"hmac with a tenant key", write("transit/hmac/"+key, map[string]any{"input": "aGk="})},
		{"create a token with the tenant policy", func() error {
			_, err := op.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{"helpdesk-tenant-restore"}})
			return err
		}},
		{"create an identity entity", write("identity/entity", map[string]any{"name": "x", "policies": []string{"root"}})},
		{"mount a secrets engine", write("sys/mounts/evil", map[string]any{"type": "kv"})},
	}
	for _, d := range denied {
		if err := d.do(); !IsPermissionDenied(err) {
			t.Errorf("the operator could %s (error %v), want 403", d.what, err)
		}
	}
	// The valid role is still what the operator wrote: no denied write changed it.
	got := mustRead(t, rootClient(t, shared), role)
	if !sameStrings(toStrings(got.Data["token_policies"]), []string{"helpdesk-tenant-backup"}) {
		t.Errorf("role after the denied writes: %v", got.Data)
	}
}
