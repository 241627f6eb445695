// Package vault is the operator's Vault layer: one long-lived, logged-in client that keeps
// its token alive, and idempotent operations that make each tenant's transit key, policy,
// Kubernetes auth role and app secrets match the spec, writing only what differs.
package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	vaultapi "github.com/hashicorp/vault/api"
)

// Client is safe for concurrent use. Create it once with New and run Start (mgr.Add) so
// its token stays valid.
type Client struct {
	cfg Config
	log logr.Logger
	api *vaultapi.Client

	mu sync.Mutex
	// auth is the latest login (or token lookup) whose lifetime Start watches.
	auth *vaultapi.Secret
	// setupCheckedAt is when checkTenantPolicies last found Vault set up right.
	setupCheckedAt time.Time
}

// options are the client's optional settings.
type options struct {
	wrapTransport func(http.RoundTripper) http.RoundTripper
}

// Option changes how New builds the client.
type Option func(*options)

// WithTransport wraps the HTTP transport, e.g. to count or trace the requests to Vault.
func WithTransport(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(o *options) { o.wrapTransport = wrap }
}

// New validates cfg, builds the HTTP client and logs in once. Calls made before Start work;
// Start is what keeps them working past the token's TTL.
func New(ctx context.Context, cfg Config, logger logr.Logger, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return newClient(ctx, cfg, logger, o)
}

func newClient(ctx context.Context, cfg Config, logger logr.Logger, opts options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("vault configuration: %w", err)
	}
	cfg.KubernetesMount = strings.Trim(cfg.KubernetesMount, "/")
	cfg.TransitMount = strings.Trim(cfg.TransitMount, "/")
	cfg.KVMount = strings.Trim(cfg.KVMount, "/")

	apiCfg := vaultapi.DefaultConfig()
	if apiCfg.Error != nil {
		return nil, fmt.Errorf("vault client defaults from the VAULT_* environment: %w", apiCfg.Error)
	}
	apiCfg.Address = cfg.Address
	apiCfg.Timeout = cfg.RequestTimeout
	// Reconciles are retried with backoff by the controller; retrying inside a request as well
	// would stretch an outage well past the request timeout before anyone hears of it.
	apiCfg.MaxRetries = 0
	if cfg.CACertFile != "" {
		if err := apiCfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: cfg.CACertFile}); err != nil {
			return nil, fmt.Errorf("vault CA certificate %s (--vault-ca-cert): %w", cfg.CACertFile, err)
		}
	}
	if opts.wrapTransport != nil {
		apiCfg.HttpClient.Transport = opts.wrapTransport(apiCfg.HttpClient.Transport)
	}
	api, err := vaultapi.NewClient(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("vault client for %s: %w", cfg.Address, err)
	}
	// NewClient picks up VAULT_TOKEN and VAULT_NAMESPACE by itself; only cfg decides.
	api.ClearToken()
	api.ClearNamespace()

	c := &Client{cfg: cfg, log: logger.WithName("vault"), api: api}
	if err := c.login(ctx); err != nil {
		if !IsUnavailable(err) {
			return nil, err
		}
		// An outage at start must not crash-loop the operator: Start logs in with backoff,
		// and until then calls fail as unavailable and the conditions say so.
		c.log.Error(err, "Vault is unavailable at start; logging in once it answers")
	}
	return c, nil
}

// login gets a token (Kubernetes auth) or looks up the configured one (token auth) and
// records the result for Start to renew.
func (c *Client) login(ctx context.Context) error {
	var secret *vaultapi.Secret
	switch c.cfg.AuthMethod {
	case AuthToken:
		c.api.SetToken(c.cfg.Token)
		path := "auth/token/lookup-self"
		lookup, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
		switch {
		case IsPermissionDenied(err):
			// Tokens without the default policy cannot look themselves up. The token may still
			// be good for everything else, so go on without renewing it.
			c.log.Info("cannot look up VAULT_TOKEN (does it lack the default policy?); it will not be renewed")
			secret = &vaultapi.Secret{Auth: &vaultapi.SecretAuth{}}
		case err != nil:
			return wrap("look up VAULT_TOKEN", path, err)
		default:
			if secret, err = tokenSecret(lookup); err != nil {
				return wrap("look up VAULT_TOKEN", path, err)
			}
		}
	case AuthKubernetes:
		path := "auth/" + c.cfg.KubernetesMount + "/login"
		jwt, err := os.ReadFile(c.cfg.ServiceAccountTokenPath)
		if err != nil {
			return fmt.Errorf("vault: reading the ServiceAccount token for Kubernetes auth (--vault-sa-token-path): %w", err)
		}
		// The login request carries the JWT; it must not reach logs, and the api package does
		// not log request bodies.
		secret, err = c.api.Logical().WriteWithContext(ctx, path, map[string]any{
			"role": c.cfg.Role,
			"jwt":  strings.TrimSpace(string(jwt)),
		})
		if err != nil {
			return wrap(fmt.Sprintf("log in with Kubernetes auth role %q", c.cfg.Role), path, err)
		}
		if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
			return wrap("log in with Kubernetes auth", path, errors.New("no token in Vault's answer"))
		}
		c.api.SetToken(secret.Auth.ClientToken)
	}
	c.mu.Lock()
	c.auth = secret
	c.mu.Unlock()
	c.log.Info("logged in to Vault", "address", c.cfg.Address, "method", c.cfg.AuthMethod,
		"ttl", secret.Auth.LeaseDuration, "renewable", secret.Auth.Renewable, "policies", secret.Auth.Policies)
	return nil
}

// tokenSecret turns a lookup-self answer into the login-shaped Secret LifetimeWatcher wants.
func tokenSecret(lookup *vaultapi.Secret) (*vaultapi.Secret, error) {
	if lookup == nil {
		return nil, errors.New("empty token lookup")
	}
	ttl, err := lookup.TokenTTL()
	if err != nil {
		return nil, err
	}
	renewable, err := lookup.TokenIsRenewable()
	if err != nil {
		return nil, err
	}
	policies, err := lookup.TokenPolicies()
	if err != nil {
		return nil, err
	}
	id, err := lookup.TokenID()
	if err != nil {
		return nil, err
	}
	return &vaultapi.Secret{Auth: &vaultapi.SecretAuth{
		ClientToken:   id,
		LeaseDuration: int(ttl.Seconds()),
		Renewable:     renewable,
		Policies:      policies,
	}}, nil
}

// Config returns the configuration the client runs with (mount paths normalized), without
// the token.
func (c *Client) Config() Config {
	cfg := c.cfg
	cfg.Token = ""
	return cfg
}

// API is the underlying client, for callers that need an operation this package lacks.
func (c *Client) API() *vaultapi.Client { return c.api }

// NeedLeaderElection lets every replica keep its own token alive, not just the leader.
func (c *Client) NeedLeaderElection() bool { return false }

func (c *Client) names(namespace, name string) Names { return NamesFor(c.cfg.Prefix, namespace, name) }

// Names is everything the tenant namespace/name owns in Vault, with this client's prefix.
func (c *Client) Names(namespace, name string) Names { return c.names(namespace, name) }
