package vault

import "testing"

func TestNamesFor(t *testing.T) {
	tests := []struct {
		prefix, namespace, name string
		want                    Names
	}{
		{"helpdesk", "team-a", "desk", Names{Key: "helpdesk-team-a-desk", Policy: "helpdesk-team-a-desk", Role: "helpdesk-team-a-desk", KVPath: "helpdesk/team-a/desk"}},
		{"hd", "ns", "x.y", Names{Key: "hd-ns-x.y", Policy: "hd-ns-x.y", Role: "hd-ns-x.y", KVPath: "hd/ns/x.y"}},
		// Dashes make these two collide in the flat names but not in the KV path; EnsureTenant
		// refuses the second (TestNameConflict).
		{"p", "a-b", "c", Names{Key: "p-a-b-c", Policy: "p-a-b-c", Role: "p-a-b-c", KVPath: "p/a-b/c"}},
		{"p", "a", "b-c", Names{Key: "p-a-b-c", Policy: "p-a-b-c", Role: "p-a-b-c", KVPath: "p/a/b-c"}},
	}
	for _, tt := range tests {
		if got := NamesFor(tt.prefix, tt.namespace, tt.name); got != tt.want {
			t.Errorf("NamesFor(%q, %q, %q) = %+v, want %+v", tt.prefix, tt.namespace, tt.name, got, tt.want)
		}
		if got := TenantName(tt.prefix, tt.namespace, tt.name); got != tt.want.Key {
			t.Errorf("TenantName(%q, %q, %q) = %q, want %q", tt.prefix, tt.namespace, tt.name, got, tt.want.Key)
		}
		if got := KVPath(tt.prefix, tt.namespace, tt.name); got != tt.want.KVPath {
			t.Errorf("KVPath(%q, %q, %q) = %q, want %q", tt.prefix, tt.namespace, tt.name, got, tt.want.KVPath)
		}
	}
}

func TestTenantPolicy(t *testing.T) {
	got := TenantPolicy("transit", "secret", "team-a", "desk", NamesFor("helpdesk", "team-a", "desk"), "")
	want := `# helpdesk-operator tenant team-a/desk
path "transit/encrypt/helpdesk-team-a-desk" {
  capabilities = ["update"]
}
path "transit/decrypt/helpdesk-team-a-desk" {
  capabilities = ["update"]
}
path "transit/datakey/+/helpdesk-team-a-desk" {
  capabilities = ["update"]
}
path "transit/rewrap/helpdesk-team-a-desk" {
  capabilities = ["update"]
}
path "secret/data/helpdesk/team-a/desk" {
  capabilities = ["read"]
}
path "secret/data/helpdesk/team-a/desk/*" {
  capabilities = ["read"]
}
`
	if got != want {
		t.Errorf("TenantPolicy:\n%s\nwant:\n%s", got, want)
	}
	if owner := policyOwner(got); owner != "team-a/desk" {
		t.Errorf("policyOwner = %q, want team-a/desk", owner)
	}
	for _, foreign := range []string{"", `path "x" { capabilities = ["read"] }`, "# helpdesk-operator\n"} {
		if owner := policyOwner(foreign); owner != "" {
			t.Errorf("policyOwner(%q) = %q, want empty", foreign, owner)
		}
	}
}
