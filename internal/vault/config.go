package vault

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"
)

// Auth methods the operator logs in with.
const (
	AuthKubernetes = "kubernetes"
	AuthToken      = "token"
)

// DefaultServiceAccountTokenPath is where the kubelet mounts the pod's token.
const DefaultServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token" //nolint:gosec // a path, not a credential

// Config says how to reach and log in to Vault and where the tenant objects live.
type Config struct {
	// Address is Vault's URL.
	Address string
	// AuthMethod is AuthKubernetes or AuthToken.
	AuthMethod string
	// Role is the operator's own Kubernetes auth role (AuthKubernetes).
	Role string
	// KubernetesMount is where the Kubernetes auth method is mounted; tenant roles live there too.
	KubernetesMount string
	// TransitMount, KVMount (KV version 2) hold the tenant keys and app secrets.
	TransitMount string
	KVMount      string
	// Prefix starts every name the operator creates, keeping it apart from others in Vault.
	Prefix string
	// ServiceAccountTokenPath is read at every Kubernetes login (projected tokens rotate).
	ServiceAccountTokenPath string
	// Token is used with AuthToken. It only comes from VAULT_TOKEN, never from a flag,
	// so it does not show up in process listings.
	Token string
	// CACertFile verifies Vault's TLS certificate; empty uses the system roots.
	CACertFile string
	// RequestTimeout bounds each HTTP request to Vault.
	RequestTimeout time.Duration
	// TenantTokenTTL and TenantTokenMaxTTL are set on each tenant's Kubernetes auth role.
	TenantTokenTTL    time.Duration
	TenantTokenMaxTTL time.Duration
	// Audience is the one audience tenant roles accept; tenant pods request projected
	// ServiceAccount tokens for it, which the API server itself refuses.
	Audience string
	// DevBootstrap asks the operator to enable missing mounts at startup (EnsureMounts).
	DevBootstrap bool
}

// DefaultConfig is the configuration without flags, with the environment fallbacks applied.
func DefaultConfig() Config {
	c := Config{
		Address:                 envOr("VAULT_ADDR", "https://127.0.0.1:8200"),
		Role:                    os.Getenv("VAULT_ROLE"),
		KubernetesMount:         "kubernetes",
		TransitMount:            "transit",
		KVMount:                 "secret",
		Prefix:                  "helpdesk",
		ServiceAccountTokenPath: DefaultServiceAccountTokenPath,
		Token:                   os.Getenv("VAULT_TOKEN"),
		CACertFile:              os.Getenv("VAULT_CACERT"),
		RequestTimeout:          10 * time.Second,
		TenantTokenTTL:          15 * time.Minute,
		TenantTokenMaxTTL:       time.Hour,
		Audience:                "vault",
	}
	// With only VAULT_ADDR and VAULT_TOKEN set (a developer against a dev server), the
	// token is what they mean; in a pod there is no token and Kubernetes auth is the way.
	c.AuthMethod = AuthKubernetes
	if c.Token != "" {
		c.AuthMethod = AuthToken
	}
	c.AuthMethod = envOr("VAULT_AUTH_METHOD", c.AuthMethod)
	return c
}

// BindFlags sets c to DefaultConfig and registers the flags that override it.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	*c = DefaultConfig()
	fs.StringVar(&c.Address, "vault-address", c.Address,
		"Vault URL (env VAULT_ADDR).")
	fs.StringVar(&c.AuthMethod, "vault-auth-method", c.AuthMethod,
		`How the operator logs in to Vault: "kubernetes" (its ServiceAccount token and --vault-role) or "token" (env VAULT_TOKEN). Default "token" when VAULT_TOKEN is set, else "kubernetes" (env VAULT_AUTH_METHOD).`)
	fs.StringVar(&c.Role, "vault-role", c.Role,
		"The operator's Kubernetes auth role in Vault, required with --vault-auth-method=kubernetes (env VAULT_ROLE).")
	fs.StringVar(&c.KubernetesMount, "vault-kubernetes-mount", c.KubernetesMount,
		"Path of Vault's Kubernetes auth method; the operator logs in there and creates one role per tenant there.")
	fs.StringVar(&c.TransitMount, "vault-transit-mount", c.TransitMount,
		"Path of Vault's transit secrets engine holding one key per tenant.")
	fs.StringVar(&c.KVMount, "vault-kv-mount", c.KVMount,
		"Path of Vault's KV version 2 secrets engine holding each tenant's app secrets.")
	fs.StringVar(&c.Prefix, "vault-prefix", c.Prefix,
		"Prefix of every name the operator manages in Vault: keys <prefix>_<namespace>_<name>, roles <prefix>_<namespace>_<name>_<workload>, the tenant policies <prefix>-tenant-<workload>, KV paths <prefix>/secrets/... and <prefix>/owners/....")
	fs.StringVar(&c.ServiceAccountTokenPath, "vault-sa-token-path", c.ServiceAccountTokenPath,
		"File with the ServiceAccount token used for Kubernetes auth; read again at each login.")
	fs.StringVar(&c.CACertFile, "vault-ca-cert", c.CACertFile,
		"PEM file with the CA that signed Vault's TLS certificate; empty uses the system roots (env VAULT_CACERT).")
	fs.DurationVar(&c.RequestTimeout, "vault-request-timeout", c.RequestTimeout,
		"Limit for each request to Vault; an unreachable Vault fails a reconcile after this long.")
	fs.DurationVar(&c.TenantTokenTTL, "vault-tenant-token-ttl", c.TenantTokenTTL,
		"TTL of the Vault tokens a tenant's pods get from their Kubernetes auth role.")
	fs.DurationVar(&c.TenantTokenMaxTTL, "vault-tenant-token-max-ttl", c.TenantTokenMaxTTL,
		"Maximum TTL, renewals included, of the Vault tokens a tenant's pods get.")
	fs.StringVar(&c.Audience, "vault-audience", c.Audience,
		"Audience of the ServiceAccount tokens tenant pods log in to Vault with; every tenant role accepts only this audience.")
	fs.BoolVar(&c.DevBootstrap, "vault-dev-bootstrap", c.DevBootstrap,
		"Enable the transit, KV v2 and Kubernetes auth mounts when missing and configure Kubernetes auth for this cluster. For development Vault servers only.")
}

// The prefix is a DNS label: it holds no '_', which separates the parts of tenant names.
var prefixPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Validate reports every setting that cannot work, saying which flag to fix.
func (c Config) Validate() error {
	var errs []error
	if c.Address == "" {
		errs = append(errs, errors.New("--vault-address (or VAULT_ADDR) is empty"))
	}
	switch c.AuthMethod {
	case AuthKubernetes:
		if c.Role == "" {
			errs = append(errs, errors.New("--vault-role is required with --vault-auth-method=kubernetes"))
		}
		if c.ServiceAccountTokenPath == "" {
			errs = append(errs, errors.New("--vault-sa-token-path is empty"))
		}
	case AuthToken:
		if c.Token == "" {
			errs = append(errs, errors.New("VAULT_TOKEN is empty but --vault-auth-method=token"))
		}
	default:
		errs = append(errs, fmt.Errorf("--vault-auth-method=%q: want %q or %q", c.AuthMethod, AuthKubernetes, AuthToken))
	}
	for flagName, mount := range map[string]string{
		"--vault-kubernetes-mount": c.KubernetesMount,
		"--vault-transit-mount":    c.TransitMount,
		"--vault-kv-mount":         c.KVMount,
	} {
		if mount == "" {
			errs = append(errs, fmt.Errorf("%s is empty", flagName))
		}
	}
	if !prefixPattern.MatchString(c.Prefix) {
		errs = append(errs, fmt.Errorf("--vault-prefix=%q: want lowercase letters, digits and inner dashes", c.Prefix))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("--vault-request-timeout must be positive"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("--vault-audience must not be empty: tenant tokens would then be valid for the API server too"))
	}
	if c.TenantTokenTTL <= 0 || c.TenantTokenMaxTTL < c.TenantTokenTTL {
		errs = append(errs, errors.New("--vault-tenant-token-ttl must be positive and at most --vault-tenant-token-max-ttl"))
	}
	return errors.Join(errs...)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// redacted is Config without the token, for printing and logging.
type redacted Config

// String prints the configuration with the token hidden.
func (c Config) String() string { return fmt.Sprintf("%+v", c.MarshalLog()) }

// MarshalLog keeps the token out of structured logs (logr.Marshaler).
func (c Config) MarshalLog() any {
	r := redacted(c)
	if r.Token != "" {
		r.Token = "<redacted>"
	}
	return r
}
