package operator

import (
	"flag"
	"strings"
	"testing"
)

func TestFlagsFallBackToTheEnvironment(t *testing.T) {
	var f ManagerFlags
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	f.Bind(fs)
	env := map[string]string{
		"HELPDESK_HELPY_IMAGE":                "registry.example.com/helpy:2.8.0",
		"HELPDESK_INGRESS_NAMESPACE_SELECTOR": "team=ingress",
		"HELPDESK_LEADER_ELECT":               "false",
		"HELPDESK_VAULT_PREFIX":               "tenants",
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	if err := applyEnvironment(fs, lookup); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--vault-prefix=cli-wins"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"helpy-image": "registry.example.com/helpy:2.8.0", "ingress-namespace-selector": "team=ingress",
		"leader-elect": "false", "vault-prefix": "cli-wins",
	} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
	if f.LeaderElection || f.Controllers.Vault.Prefix != "cli-wins" {
		t.Errorf("parsed flags: leader election %v, vault prefix %q", f.LeaderElection, f.Controllers.Vault.Prefix)
	}

	bad := func(name string) (string, bool) {
		if name == "HELPDESK_LEADER_ELECT" {
			return "maybe", true
		}
		return "", false
	}
	err := applyEnvironment(flag.NewFlagSet("x", flag.ContinueOnError), bad)
	if err != nil {
		t.Fatalf("no flags, no error expected: %v", err)
	}
	fs2 := flag.NewFlagSet("manager", flag.ContinueOnError)
	(&ManagerFlags{}).Bind(fs2)
	if err := applyEnvironment(fs2, bad); err == nil || !strings.Contains(err.Error(), "HELPDESK_LEADER_ELECT") {
		t.Errorf("a bad value names the variable: %v", err)
	}
}
