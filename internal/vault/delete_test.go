package vault

import (
	"context"
	"testing"
)

func TestDeleteTenant(t *testing.T) {
	tests := []struct {
		policy            DeletionPolicy
		keepKey, keepData bool
	}{
		{Retain, true, true},
		{Delete, true, false},
		{Shred, false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			ctx := context.Background()
			c, _ := newTestClient(t, shared)
			root := rootClient(t, shared)
			tenant := Tenant{Namespace: "del-" + string(tt.policy), Name: "desk", ServiceAccount: "sa"}
			names := c.names(tenant)
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
			if _, err := root.Logical().Write("secret/data/"+names.KVPath+"/extra", map[string]any{"data": map[string]any{"k": "v"}}); err != nil {
				t.Fatal(err)
			}

			for round := 0; round < 2; round++ { // the second round finds everything gone
				if err := c.DeleteTenant(ctx, tenant, tt.policy); err != nil {
					t.Fatalf("DeleteTenant round %d: %v", round, err)
				}
			}

			if role := mustRead(t, root, "auth/kubernetes/role/"+names.Role); role != nil {
				t.Error("role still exists")
			}
			if policy, err := root.Sys().GetPolicy(names.Policy); err != nil || policy != "" {
				t.Errorf("policy still exists (%v)", err)
			}
			key := mustRead(t, root, "transit/keys/"+names.Key)
			if (key != nil) != tt.keepKey {
				t.Errorf("key exists = %t, want %t", key != nil, tt.keepKey)
			}
			for _, p := range []string{names.KVPath, names.KVPath + "/extra"} {
				meta := mustRead(t, root, "secret/metadata/"+p)
				if (meta != nil) != tt.keepData {
					t.Errorf("KV metadata of %s exists = %t, want %t", p, meta != nil, tt.keepData)
				}
				if tt.keepData {
					if v, _ := toInt(meta.Data["current_version"]); p == names.KVPath && v != 2 {
						t.Errorf("KV current_version %d, want 2 kept", v)
					}
				}
			}
		})
	}
}

func TestDeleteTenantRejectsUnknownPolicy(t *testing.T) {
	c, writes := newTestClient(t, shared)
	if err := c.DeleteTenant(context.Background(), Tenant{Namespace: "x", Name: "y"}, "Purge"); err == nil {
		t.Fatal("unknown deletion policy accepted")
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("wrote %v", got)
	}
}
