package vault

import (
	"context"
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// TestSetupProblemNamesWhatIsMissing: on a Vault set up for the operator there is no
// problem, also for a token with only the documented operator policy; a secrets engine
// that is not mounted, or of the wrong kind, and missing tenant policies are each named
// with what to do, and make EnsureTenant fail as not configured (VaultNotConfigured).
func TestSetupProblemNamesWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t, shared)
	if p, err := c.SetupProblem(ctx); err != nil || p != "" {
		t.Fatalf("a Vault set up by EnsureMounts: problem %q, error %v", p, err)
	}
	op, _ := operatorClient(t, shared)
	if p, err := op.SetupProblem(ctx); err != nil || p != "" {
		t.Fatalf("with only the documented operator policy: problem %q, error %v", p, err)
	}

	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"transit not mounted", func(c *Config) { c.TransitMount = "transit-elsewhere" },
			[]string{"no transit secrets engine is mounted at \"transit-elsewhere\"", "--vault-transit-mount"}},
		{"kv of the wrong kind", func(c *Config) { c.KVMount = "transit" },
			[]string{"\"transit\" is a transit secrets engine, not kv version 2", "--vault-kv-mount"}},
		{"no kubernetes auth", func(c *Config) { c.KubernetesMount = "kubernetes-elsewhere" },
			[]string{"no Kubernetes auth method is mounted at \"kubernetes-elsewhere\""}},
		{"no tenant policies", func(c *Config) { c.Prefix = "otherprefix" },
			[]string{"policy otherprefix-tenant-", "is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(shared)
			tc.mutate(&cfg)
			c, err := New(ctx, cfg, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.SetupProblem(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(p, want) {
					t.Errorf("problem %q does not say %q", p, want)
				}
			}
			_, err = c.EnsureTenant(ctx, testTenant("setup", "check"))
			if Reason(err) != ReasonNotConfigured {
				t.Errorf("EnsureTenant: reason %s (%v), want %s", Reason(err), err, ReasonNotConfigured)
			}
		})
	}

	// Vault down: an error, not a verdict.
	down := testConfig(&vaultdev.Server{Addr: "http://127.0.0.1:1", RootToken: "x"})
	c, err := New(ctx, down, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.SetupProblem(ctx); err == nil || p != "" {
		t.Errorf("an unreachable Vault: problem %q, error %v; want an error", p, err)
	}
}
