package vault

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

func TestEnsureTenant(t *testing.T) {
	ctx := context.Background()
	c, writes := newTestClient(t, shared)
	root := rootClient(t, shared)
	tenant := Tenant{Namespace: "team-a", Name: "desk", ServiceAccount: "helpdesk", RotationPeriod: 24 * time.Hour}
	// The test asserts first-time writes on a server shared by the package: leave nothing.
	t.Cleanup(func() { _ = c.DeleteTenant(context.Background(), tenant, Shred) })

	status, err := c.EnsureTenant(ctx, tenant)
	if err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	if status != (TenantStatus{KeyName: "helpdesk-team-a-desk", LatestVersion: 1}) || c.KeyName("team-a", "desk") != status.KeyName {
		t.Errorf("status = %+v", status)
	}
	if got := writes.take(); len(got) != 3 {
		t.Errorf("first call wrote %v, want key, policy and role", got)
	}

	key := mustRead(t, root, "transit/keys/helpdesk-team-a-desk")
	if key == nil {
		t.Fatal("transit key missing")
	}
	if key.Data["type"] != "aes256-gcm96" || key.Data["exportable"] != false ||
		key.Data["allow_plaintext_backup"] != false || key.Data["deletion_allowed"] != false {
		t.Errorf("key = type %v exportable %v allow_plaintext_backup %v deletion_allowed %v",
			key.Data["type"], key.Data["exportable"], key.Data["allow_plaintext_backup"], key.Data["deletion_allowed"])
	}
	if period, _ := toSeconds(key.Data["auto_rotate_period"]); period != 24*time.Hour {
		t.Errorf("auto_rotate_period = %v, want 24h", key.Data["auto_rotate_period"])
	}

	policy, err := root.Sys().GetPolicy("helpdesk-team-a-desk")
	if err != nil {
		t.Fatal(err)
	}
	if want := TenantPolicy("transit", "secret", "team-a", "desk", NamesFor("helpdesk", "team-a", "desk"), ""); policy != want {
		t.Errorf("policy in Vault:\n%s\nwant:\n%s", policy, want)
	}

	role := mustRead(t, root, "auth/kubernetes/role/helpdesk-team-a-desk")
	if role == nil {
		t.Fatal("Kubernetes auth role missing")
	}
	ttl, _ := toSeconds(role.Data["token_ttl"])
	maxTTL, _ := toSeconds(role.Data["token_max_ttl"])
	if !slices.Equal(toStrings(role.Data["bound_service_account_names"]), []string{"helpdesk"}) ||
		!slices.Equal(toStrings(role.Data["bound_service_account_namespaces"]), []string{"team-a"}) ||
		!slices.Equal(toStrings(role.Data["token_policies"]), []string{"helpdesk-team-a-desk"}) ||
		ttl != 15*time.Minute || maxTTL != time.Hour {
		t.Errorf("role = %v", role.Data)
	}

	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("second EnsureTenant: %v", err)
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("unchanged tenant: second call wrote %v, want nothing", got)
	}

	tenant.RotationPeriod = 7 * 24 * time.Hour
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("EnsureTenant with a new rotation period: %v", err)
	}
	if got := writes.take(); !slices.Equal(got, []string{"PUT transit/keys/helpdesk-team-a-desk/config"}) {
		t.Errorf("rotation change wrote %v, want only the key config", got)
	}
	info, err := c.KeyInfo(ctx, tenant)
	if err != nil || info == nil {
		t.Fatalf("KeyInfo: %v, %v", info, err)
	}
	if info.AutoRotatePeriod != 7*24*time.Hour || info.LatestVersion != 1 || info.Type != "aes256-gcm96" {
		t.Errorf("KeyInfo = %+v", info)
	}

	// A changed ServiceAccount rewrites only the role.
	tenant.ServiceAccount = "other"
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if got := writes.take(); !slices.Equal(got, []string{"PUT auth/kubernetes/role/helpdesk-team-a-desk"}) {
		t.Errorf("ServiceAccount change wrote %v, want only the role", got)
	}

	// Rotation shows up as LatestVersion.
	if _, err := root.Logical().Write("transit/keys/helpdesk-team-a-desk/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if status, err := c.EnsureTenant(ctx, tenant); err != nil || status.LatestVersion != 2 {
		t.Errorf("after rotation: %+v, %v; want LatestVersion 2", status, err)
	}
}

func TestEnsureTenantRejectsBadInput(t *testing.T) {
	c, writes := newTestClient(t, shared)
	for _, tenant := range []Tenant{
		{Namespace: "ns", Name: "x", ServiceAccount: "sa", RotationPeriod: time.Minute},
		{Namespace: "", Name: "x", ServiceAccount: "sa"},
		{Namespace: "ns", Name: "x"},
	} {
		if _, err := c.EnsureTenant(context.Background(), tenant); err == nil {
			t.Errorf("EnsureTenant(%+v) succeeded", tenant)
		}
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("invalid tenants wrote %v", got)
	}
}

func TestNameConflict(t *testing.T) {
	ctx := context.Background()
	c, writes := newTestClient(t, shared)
	first := Tenant{Namespace: "a-b", Name: "c", ServiceAccount: "sa"}
	second := Tenant{Namespace: "a", Name: "b-c", ServiceAccount: "sa"}
	if _, err := c.EnsureTenant(ctx, first); err != nil {
		t.Fatal(err)
	}
	writes.take()
	_, err := c.EnsureTenant(ctx, second)
	if !IsNameConflict(err) || Reason(err) != ReasonNameConflict {
		t.Fatalf("EnsureTenant of a colliding tenant: %v, want a name conflict", err)
	}
	if !strings.Contains(err.Error(), "a-b/c") {
		t.Errorf("conflict error does not name the owner: %v", err)
	}
	if err := c.DeleteTenant(ctx, second, Shred); !IsNameConflict(err) {
		t.Fatalf("DeleteTenant of a colliding tenant: %v, want a name conflict", err)
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("colliding tenant wrote %v", got)
	}
	if info, err := c.KeyInfo(ctx, first); err != nil || info == nil {
		t.Fatalf("first tenant's key after the conflict: %v, %v", info, err)
	}
}

// TestTenantIsolation proves the policy with a token holding only tenant A's policy.
func TestTenantIsolation(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t, shared)
	root := rootClient(t, shared)
	a := Tenant{Namespace: "iso-a", Name: "desk", ServiceAccount: "sa"}
	b := Tenant{Namespace: "iso-b", Name: "desk", ServiceAccount: "sa"}
	for _, tenant := range []Tenant{a, b} {
		if _, err := c.EnsureTenant(ctx, tenant); err != nil {
			t.Fatal(err)
		}
		if _, err := c.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "db-password"}}); err != nil {
			t.Fatal(err)
		}
	}
	aNames, bNames := c.names(a), c.names(b)
	token, err := root.Auth().Token().Create(&vaultapi.TokenCreateRequest{
		Policies: []string{aNames.Policy}, NoDefaultPolicy: true, TTL: "10m",
	})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	tc.SetToken(token.Auth.ClientToken)

	plaintext := base64.StdEncoding.EncodeToString([]byte("ticket #42"))
	enc, err := tc.Logical().Write("transit/encrypt/"+aNames.Key, map[string]any{"plaintext": plaintext})
	if err != nil {
		t.Fatalf("A encrypting with A's key: %v", err)
	}
	ciphertext := enc.Data["ciphertext"].(string)
	dec, err := tc.Logical().Write("transit/decrypt/"+aNames.Key, map[string]any{"ciphertext": ciphertext})
	if err != nil || dec.Data["plaintext"] != plaintext {
		t.Fatalf("A decrypting with A's key: %v, %v", dec, err)
	}
	for _, kind := range []string{"plaintext", "wrapped"} {
		if _, err := tc.Logical().Write("transit/datakey/"+kind+"/"+aNames.Key, nil); err != nil {
			t.Errorf("A datakey/%s with A's key: %v", kind, err)
		}
	}
	if _, err := tc.Logical().Write("transit/rewrap/"+aNames.Key, map[string]any{"ciphertext": ciphertext}); err != nil {
		t.Errorf("A rewrap with A's key: %v", err)
	}
	if s, err := tc.Logical().Read("secret/data/" + aNames.KVPath); err != nil || s == nil {
		t.Errorf("A reading its own app secrets: %v, %v", s, err)
	}

	denied := []struct {
		what string
		do   func() error
	}{
		{"encrypt with B's key", func() error {
			_, err := tc.Logical().Write("transit/encrypt/"+bNames.Key, map[string]any{"plaintext": plaintext})
			return err
		}},
		{"decrypt with B's key", func() error {
			_, err := tc.Logical().Write("transit/decrypt/"+bNames.Key, map[string]any{"ciphertext": ciphertext})
			return err
		}},
		{"datakey with B's key", func() error {
			_, err := tc.Logical().Write("transit/datakey/plaintext/"+bNames.Key, nil)
			return err
		}},
		{"read B's app secrets", func() error {
			_, err := tc.Logical().Read("secret/data/" + bNames.KVPath)
			return err
		}},
		{"read A's key configuration", func() error {
			_, err := tc.Logical().Read("transit/keys/" + aNames.Key)
			return err
		}},
		{"export A's key", func() error {
			_, err := tc.Logical().Read("transit/export/encryption-key/" + aNames.Key)
			return err
		}},
		{"rotate A's key", func() error {
			_, err := tc.Logical().Write("transit/keys/"+aNames.Key+"/rotate", nil)
			return err
		}},
		{"write A's app secrets", func() error {
			_, err := tc.Logical().Write("secret/data/"+aNames.KVPath, map[string]any{"data": map[string]any{"x": "y"}})
			return err
		}},
	}
	for _, d := range denied {
		if err := d.do(); !IsPermissionDenied(err) {
			t.Errorf("A's token could %s (error %v), want 403", d.what, err)
		}
	}

	// The operator's own errors on a 403 say which path and what to do.
	cfg := testConfig(shared)
	cfg.Token = token.Auth.ClientToken
	weak, err := New(ctx, cfg, c.log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = weak.EnsureTenant(ctx, a)
	if !IsPermissionDenied(err) || IsUnavailable(err) || Reason(err) != ReasonPermissionDenied {
		t.Fatalf("EnsureTenant with a tenant token: %v, want permission denied", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "sys/policies/acl/"+aNames.Policy) || !strings.Contains(msg, "grant") ||
		strings.Contains(msg, token.Auth.ClientToken) {
		t.Errorf("permission error message: %s", msg)
	}
}

// TestRestoreFromAnotherInstance: an instance created from another instance's backup may
// decrypt with that instance's key, and nothing more.
func TestRestoreFromAnotherInstance(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t, shared)
	root := rootClient(t, shared)
	old := Tenant{Namespace: "restore", Name: "old", ServiceAccount: "sa"}
	clone := Tenant{Namespace: "restore", Name: "clone", ServiceAccount: "sa", RestoreFrom: "old"}
	for _, tenant := range []Tenant{old, clone} {
		if _, err := c.EnsureTenant(ctx, tenant); err != nil {
			t.Fatal(err)
		}
	}
	oldKey, cloneNames := c.names(old).Key, c.names(clone)
	token, err := root.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{cloneNames.Policy}, NoDefaultPolicy: true, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	tc.SetToken(token.Auth.ClientToken)

	plaintext := base64.StdEncoding.EncodeToString([]byte("file key"))
	enc, err := root.Logical().Write("transit/encrypt/"+oldKey, map[string]any{"plaintext": plaintext})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := tc.Logical().Write("transit/decrypt/"+oldKey, map[string]any{"ciphertext": enc.Data["ciphertext"]})
	if err != nil || dec.Data["plaintext"] != plaintext {
		t.Fatalf("the clone decrypting the old instance's backup key: %v, %v", dec, err)
	}
	if _, err := tc.Logical().Write("transit/encrypt/"+oldKey, map[string]any{"plaintext": plaintext}); !IsPermissionDenied(err) {
		t.Errorf("the clone encrypting with the old instance's key: %v, want permission denied", err)
	}
	if _, err := tc.Logical().Read("secret/data/" + c.names(old).KVPath); !IsPermissionDenied(err) {
		t.Errorf("the clone reading the old instance's app secrets: %v, want permission denied", err)
	}

	// Once the clone no longer restores, the grant goes.
	clone.RestoreFrom = ""
	if _, err := c.EnsureTenant(ctx, clone); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Logical().Write("transit/decrypt/"+oldKey, map[string]any{"ciphertext": enc.Data["ciphertext"]}); !IsPermissionDenied(err) {
		t.Errorf("after the grant was dropped: %v, want permission denied", err)
	}
}
