package vault

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// TestDocumentedOperatorPolicySuffices runs the whole tenant lifecycle with a token that has
// only config/vault/operator-policy.hcl, the policy the README tells administrators to
// give the operator: it must be enough, and must not let the operator use a tenant's key.
func TestDocumentedOperatorPolicySuffices(t *testing.T) {
	ctx := context.Background()
	root := rootClient(t, shared)
	newTestClient(t, shared) // enables the mounts, as an administrator would
	moduleRoot, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	hcl, err := os.ReadFile(filepath.Join(moduleRoot, "config", "vault", "operator-policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicyWithContext(ctx, "helpdesk-operator-test", string(hcl)); err != nil {
		t.Fatal(err)
	}
	token, err := root.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{"helpdesk-operator-test"}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(shared)
	cfg.Token = token.Auth.ClientToken
	c, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}

	tenant := Tenant{Namespace: "least", Name: "privilege", ServiceAccount: "sa", RotationPeriod: 24 * time.Hour}
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("EnsureTenant with the documented policy: %v", err)
	}
	tenant.RotationPeriod = 48 * time.Hour
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("changing the rotation period with the documented policy: %v", err)
	}
	if _, err := c.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "SECRET_KEY_BASE"}}); err != nil {
		t.Fatalf("EnsureAppSecrets with the documented policy: %v", err)
	}
	if _, err := c.API().Logical().WriteWithContext(ctx, "transit/encrypt/"+c.KeyName(tenant.Namespace, tenant.Name), map[string]any{"plaintext": "aGk="}); !IsPermissionDenied(err) {
		t.Errorf("the operator encrypting with a tenant key: %v, want permission denied", err)
	}
	if err := c.DeleteTenant(ctx, tenant, Shred); err != nil {
		t.Fatalf("DeleteTenant(Shred) with the documented policy: %v", err)
	}
	if key, err := root.Logical().ReadWithContext(ctx, "transit/keys/"+c.KeyName(tenant.Namespace, tenant.Name)); err != nil || key != nil {
		t.Errorf("the key survived Shred (err %v)", err)
	}
}
