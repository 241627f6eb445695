package vault

import (
	"strings"
	"testing"
)

func TestNamesFor(t *testing.T) {
	n := NamesFor("helpdesk", "team-a", "desk.v2")
	want := Names{
		Key: "helpdesk_team-a_desk.v2", Secrets: "helpdesk/secrets/team-a/desk.v2", Owner: "helpdesk/owners/team-a/desk.v2",
		Namespace: "team-a", Name: "desk.v2",
		Roles: map[Workload]string{
			WorkloadApp: "helpdesk_team-a_desk.v2_app", WorkloadBackup: "helpdesk_team-a_desk.v2_backup", WorkloadRestore: "helpdesk_team-a_desk.v2_restore",
		},
	}
	if n.Key != want.Key || n.Secrets != want.Secrets || n.Owner != want.Owner || n.Namespace != want.Namespace || n.Name != want.Name || len(n.Roles) != 3 {
		t.Errorf("NamesFor = %+v, want %+v", n, want)
	}
	for w, r := range want.Roles {
		if n.Roles[w] != r {
			t.Errorf("role of %s = %q, want %q", w, n.Roles[w], r)
		}
	}
	if got := TenantPolicyName("helpdesk", WorkloadBackup); got != "helpdesk-tenant-backup" {
		t.Errorf("TenantPolicyName = %q", got)
	}
}

// TestNamesNeverCollide: every name is injective over valid tenants, including the pairs
// that dashes and dots could join, and no tenant name equals another tenant's role or a
// fixed tenant policy.
func TestNamesNeverCollide(t *testing.T) {
	tenants := [][2]string{
		{"a-b", "c"}, {"a", "b-c"}, {"a", "b.c"}, {"a-b", "c.d"}, {"a", "b-c.d"}, {"a-b-c", "d"},
		{"ab", "c"}, {"a", "bc"}, {"a", "b"}, {"a", "b-app"}, {"a", "b.app"}, {"a-b", "app"},
		{"secrets", "x"}, {"owners", "x"}, {"x", "secrets"}, {"tenant", "app"}, {"helpdesk-tenant", "app"},
	}
	seen := map[string]string{}
	claim := func(kind, name, owner string) {
		t.Helper()
		if prev, ok := seen[kind+" "+name]; ok && prev != owner {
			t.Errorf("%s %q belongs to both %s and %s", kind, name, prev, owner)
		}
		seen[kind+" "+name] = owner
	}
	for _, tenant := range tenants {
		ns, name := tenant[0], tenant[1]
		if err := ValidateTenant(ns, name); err != nil {
			t.Fatalf("ValidateTenant(%q, %q): %v", ns, name, err)
		}
		owner := ns + "/" + name
		n := NamesFor("helpdesk", ns, name)
		// Keys, roles and policies share Vault's flat name space per mount type; count them together.
		claim("flat", n.Key, owner)
		for _, w := range Workloads {
			claim("flat", n.Roles[w], owner+"#"+string(w))
		}
		claim("kv", n.Secrets, owner)
		claim("kv", n.Owner, owner+"#owner")
	}
	for _, w := range Workloads {
		claim("flat", TenantPolicyName("helpdesk", w), "policy")
	}
}

// TestValidateTenantRefusesHostileNames: anything that could glob, traverse, or join two
// names never reaches a Vault name.
func TestValidateTenantRefusesHostileNames(t *testing.T) {
	bad := [][2]string{
		{"ns", "*"}, {"ns", "desk*"}, {"ns", "desk+"}, {"ns", "+"}, {"ns", ".."}, {"ns", "a/../b"}, {"ns", "a/b"},
		{"ns", "a_b"}, {"ns", "Desk"}, {"ns", ""}, {"ns", "-desk"}, {"ns", "desk-"}, {"ns", "a..b"}, {"ns", ".desk"},
		{"ns", "desk."}, {"ns", "de sk"}, {"ns", strings.Repeat("a", 254)},
		{"*", "desk"}, {"a.b", "desk"}, {"a_b", "desk"}, {"", "desk"}, {"NS", "desk"}, {strings.Repeat("a", 64), "desk"},
		{"ns/x", "desk"}, {"ns", "desk\n"},
	}
	for _, b := range bad {
		if err := ValidateTenant(b[0], b[1]); err == nil {
			t.Errorf("ValidateTenant(%q, %q) accepted a hostile name", b[0], b[1])
		}
	}
	for _, good := range [][2]string{{"a", "b"}, {"team-a", "desk.v2"}, {"0", "0"}, {strings.Repeat("a", 63), strings.Repeat("b", 253)}} {
		if err := ValidateTenant(good[0], good[1]); err != nil {
			t.Errorf("ValidateTenant(%q, %q): %v", good[0], good[1], err)
		}
	}
}
