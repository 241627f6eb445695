package vault

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBindFlagsDevelopmentEnvironment(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:8200")
	t.Setenv("VAULT_TOKEN", "dev-root-token")
	t.Setenv("VAULT_CACERT", "")
	t.Setenv("VAULT_ROLE", "")
	t.Setenv("VAULT_AUTH_METHOD", "")
	var cfg Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.BindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("VAULT_ADDR + VAULT_TOKEN should be enough: %v", err)
	}
	want := Config{
		Address: "http://127.0.0.1:8200", AuthMethod: AuthToken, KubernetesMount: "kubernetes",
		TransitMount: "transit", KVMount: "secret", Prefix: "helpdesk",
		ServiceAccountTokenPath: DefaultServiceAccountTokenPath, Token: "dev-root-token",
		RequestTimeout: 10 * time.Second, TenantTokenTTL: 15 * time.Minute, TenantTokenMaxTTL: time.Hour, Audience: "vault",
	}
	if cfg != want {
		t.Errorf("config = %+v\nwant %+v", cfg.MarshalLog(), want.MarshalLog())
	}
	for _, printed := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v", cfg.MarshalLog())} {
		if strings.Contains(printed, "dev-root-token") {
			t.Errorf("token printed: %s", printed)
		}
	}
	var help strings.Builder
	fs.SetOutput(&help)
	fs.PrintDefaults()
	if strings.Contains(help.String(), "dev-root-token") {
		t.Errorf("token in flag help:\n%s", help.String())
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" {
			t.Errorf("flag --%s has no help text", f.Name)
		}
	})
}

func TestBindFlagsOverrides(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://env:8200")
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("VAULT_AUTH_METHOD", "")
	var cfg Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.BindFlags(fs)
	if cfg.AuthMethod != AuthKubernetes {
		t.Errorf("without VAULT_TOKEN the default method = %q, want kubernetes", cfg.AuthMethod)
	}
	err := fs.Parse([]string{
		"--vault-address=https://vault.example:8200", "--vault-role=helpdesk-operator",
		"--vault-kubernetes-mount=k8s", "--vault-transit-mount=tr", "--vault-kv-mount=kv",
		"--vault-prefix=hd", "--vault-sa-token-path=/tmp/token", "--vault-ca-cert=/tmp/ca.pem",
		"--vault-request-timeout=2s", "--vault-dev-bootstrap",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Address != "https://vault.example:8200" || cfg.Role != "helpdesk-operator" || cfg.KubernetesMount != "k8s" ||
		cfg.TransitMount != "tr" || cfg.KVMount != "kv" || cfg.Prefix != "hd" || cfg.ServiceAccountTokenPath != "/tmp/token" ||
		cfg.CACertFile != "/tmp/ca.pem" || cfg.RequestTimeout != 2*time.Second || !cfg.DevBootstrap {
		t.Errorf("flags not applied: %+v", cfg)
	}
}

func TestValidate(t *testing.T) {
	base := Config{Address: "http://x", AuthMethod: AuthToken, Token: "hvs.not-a-real-token", KubernetesMount: "kubernetes",
		TransitMount: "transit", KVMount: "secret", Prefix: "helpdesk", RequestTimeout: time.Second,
		TenantTokenTTL: time.Minute, TenantTokenMaxTTL: time.Hour, Audience: "vault"}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"kubernetes without role", func(c *Config) { c.AuthMethod = AuthKubernetes; c.ServiceAccountTokenPath = "/t" }, "--vault-role is required"},
		{"token without token", func(c *Config) { c.Token = "" }, "VAULT_TOKEN is empty"},
		{"unknown method", func(c *Config) { c.AuthMethod = "approle" }, `--vault-auth-method="approle"`},
		{"prefix with slash", func(c *Config) { c.Prefix = "a/b" }, "--vault-prefix"},
		{"no timeout", func(c *Config) { c.RequestTimeout = 0 }, "--vault-request-timeout"},
		{"ttl above max", func(c *Config) { c.TenantTokenTTL = 2 * time.Hour }, "--vault-tenant-token-ttl"},
		{"empty mount", func(c *Config) { c.KVMount = "" }, "--vault-kv-mount is empty"},
		{"no audience", func(c *Config) { c.Audience = "" }, "--vault-audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.change(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), cfg.Token) && cfg.Token != "" {
				t.Fatalf("error contains the token: %v", err)
			}
		})
	}
}

func TestRandomValue(t *testing.T) {
	for _, length := range []int{0, 1, 7, 32, 33, 100} {
		v, err := randomValue(length)
		if err != nil {
			t.Fatal(err)
		}
		want := length
		if want == 0 {
			want = defaultSecretLength
		}
		if len(v) != want {
			t.Errorf("randomValue(%d) has %d characters", length, len(v))
		}
		if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Errorf("randomValue(%d) is not URL-safe", length)
		}
	}
}
