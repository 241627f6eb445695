package vault

import (
	"context"
	"errors"
	"fmt"
)

// checkMounts confirms that the transit engine and the KV version 2 engine the operator uses
// are mounted where its configuration says. Vault tells a token about a mount only when
// its policies reach a path inside it (sys/internal/ui/mounts, open to every token), so a
// 403 there means the mount is missing or the operator's policy does not cover it: both
// need an administrator.
func (c *Client) checkMounts(ctx context.Context) error {
	for _, m := range []struct{ path, kind, version, flag string }{
		{c.cfg.TransitMount, "transit", "", "--vault-transit-mount"},
		{c.cfg.KVMount, "kv", "2", "--vault-kv-mount"},
	} {
		path := "sys/internal/ui/mounts/" + m.path
		secret, err := c.api.Logical().ReadWithContext(ctx, path)
		switch {
		case IsPermissionDenied(err) || isNotFound(err) || (err == nil && (secret == nil || secret.Data == nil)):
			return wrap("find secrets engine", m.path, fmt.Errorf(
				"%w: no %s secrets engine is mounted at %q that the operator's Vault policy reaches; enable it there (helpdesk-operator vault-setup) or set %s",
				ErrNotConfigured, describeEngine(m.kind, m.version), m.path, m.flag))
		case err != nil:
			return wrap("find secrets engine", path, err)
		}
		kind, _ := secret.Data["type"].(string)
		var version string
		if options, ok := secret.Data["options"].(map[string]any); ok {
			version, _ = options["version"].(string)
		}
		if kind != m.kind || (m.version != "" && version != m.version) {
			return wrap("check secrets engine", m.path, fmt.Errorf("%w: %q is a %s secrets engine, not %s; set %s to the right mount",
				ErrNotConfigured, m.path, describeEngine(kind, version), describeEngine(m.kind, m.version), m.flag))
		}
	}
	return nil
}

func describeEngine(kind, version string) string {
	if version != "" {
		return kind + " version " + version
	}
	return kind
}

// SetupProblem says what an administrator still has to set up in Vault for the operator:
// its secrets engines, Kubernetes auth with alias metadata, and the fixed tenant policies
// (the first problem found, as the instances' EncryptionReady=False/VaultNotConfigured says
// it). It returns "" when Vault is set up, and an error when Vault cannot be asked.
func (c *Client) SetupProblem(ctx context.Context) (string, error) {
	err := c.checkTenantPolicies(ctx)
	switch {
	case err == nil:
		return "", nil
	case errors.Is(err, ErrNotConfigured):
		return err.Error(), nil
	}
	return "", err
}
