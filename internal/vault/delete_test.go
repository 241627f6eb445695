package vault

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestDeleteTenant(t *testing.T) {
	tests := []struct {
		policy                     DeletionPolicy
		keepKey, keepData, keepRec bool
		state                      string
	}{
		{Retain, true, true, true, "retained"},
		{Delete, true, false, true, "key-retained"},
		{Shred, false, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			ctx := context.Background()
			c, _ := newTestClient(t, shared)
			root := rootClient(t, shared)
			tenant := testTenant("del-"+strings.ToLower(string(tt.policy)), "desk")
			names := c.names(tenant.Namespace, tenant.Name)
			if _, err := c.EnsureTenant(ctx, tenant); err != nil {
				t.Fatal(err)
			}
			if _, err := c.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "x"}}); err != nil {
				t.Fatal(err)
			}
			// A second version and a secret below the tenant path, which Delete must also remove.
			if _, err := c.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "x"}, {Key: "y"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := root.Logical().Write("secret/data/"+names.Secrets+"/extra", map[string]any{"data": map[string]any{"k": "v"}}); err != nil {
				t.Fatal(err)
			}

			for round := 0; round < 2; round++ { // the second round finds everything gone
				res, err := c.DeleteTenant(ctx, tenant, tt.policy)
				if err != nil {
					t.Fatalf("DeleteTenant round %d: %v", round, err)
				}
				if res.Owned != (round == 0 || tt.keepRec) {
					t.Errorf("round %d: Owned = %t", round, res.Owned)
				}
			}

			for _, w := range Workloads {
				if role := mustRead(t, root, "auth/kubernetes/role/"+names.Roles[w]); role != nil {
					t.Errorf("role of %s still exists", w)
				}
			}
			key := mustRead(t, root, "transit/keys/"+names.Key)
			if (key != nil) != tt.keepKey {
				t.Errorf("key exists = %t, want %t", key != nil, tt.keepKey)
			}
			for _, p := range []string{names.Secrets, names.Secrets + "/extra"} {
				meta := mustRead(t, root, "secret/metadata/"+p)
				if (meta != nil) != tt.keepData {
					t.Errorf("KV metadata of %s exists = %t, want %t", p, meta != nil, tt.keepData)
				}
				if tt.keepData {
					if v, _ := toInt(meta.Data["current_version"]); p == names.Secrets && v != 2 {
						t.Errorf("KV current_version %d, want 2 kept", v)
					}
				}
			}
			rec := mustRead(t, root, "secret/data/"+names.Owner)
			if (rec != nil) != tt.keepRec {
				t.Fatalf("ownership record exists = %t, want %t", rec != nil, tt.keepRec)
			}
			if rec != nil {
				if data, _ := rec.Data["data"].(map[string]any); data["state"] != tt.state || data["uid"] != tenant.UID {
					t.Errorf("ownership record after %s = %v, want state %s", tt.policy, data, tt.state)
				}
			}
		})
	}
}

func TestDeleteTenantRejectsUnknownPolicy(t *testing.T) {
	c, writes := newTestClient(t, shared)
	if _, err := c.DeleteTenant(context.Background(), testTenant("x", "y"), "Purge"); err == nil {
		t.Fatal("unknown deletion policy accepted")
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("wrote %v", got)
	}
}

func TestLeftovers(t *testing.T) {
	c, _ := newTestClient(t, shared)
	got := c.Leftovers("ns", "desk")
	for _, want := range []string{"transit key transit/keys/helpdesk_ns_desk", "app secrets secret/metadata/helpdesk/secrets/ns/desk",
		"ownership record secret/metadata/helpdesk/owners/ns/desk", "role auth/kubernetes/role/helpdesk_ns_desk_restore"} {
		if !slices.Contains(got, want) {
			t.Errorf("Leftovers lack %q: %v", want, got)
		}
	}
}
