package vault

import (
	"context"
	"fmt"
)

func (c *Client) rolePath(role string) string {
	return "auth/" + c.cfg.KubernetesMount + "/role/" + role
}

// roleData is a workload's role: bound to exactly its ServiceAccount in the tenant's
// namespace, accepting only tokens for the Vault audience (a token meant for Vault cannot
// be replayed against the API server, nor an API token here), and carrying only the
// workload's fixed templated policy.
func (c *Client) roleData(t Tenant, w Workload) map[string]any {
	return map[string]any{
		"bound_service_account_names":      []string{t.ServiceAccounts[w]},
		"bound_service_account_namespaces": []string{t.Namespace},
		"audience":                         c.cfg.Audience,
		"token_policies":                   []string{TenantPolicyName(c.cfg.Prefix, w)},
		"token_ttl":                        seconds(c.cfg.TenantTokenTTL),
		"token_max_ttl":                    seconds(c.cfg.TenantTokenMaxTTL),
	}
}

// ensureRoles writes the role of every workload t lists and removes the others'.
func (c *Client) ensureRoles(ctx context.Context, t Tenant, names Names) error {
	for _, w := range Workloads {
		path := c.rolePath(names.Roles[w])
		current, err := c.api.Logical().ReadWithContext(ctx, path)
		if err != nil {
			return wrap("read Kubernetes auth role", path, err)
		}
		if _, wanted := t.ServiceAccounts[w]; !wanted {
			if current != nil {
				if _, err := c.api.Logical().DeleteWithContext(ctx, path); err != nil && !isNotFound(err) {
					return wrap("delete Kubernetes auth role", path, err)
				}
				c.log.Info("removed unused tenant role", "tenant", t.id(), "role", names.Roles[w])
			}
			continue
		}
		if current != nil && c.roleMatches(current.Data, t, w) {
			continue
		}
		if _, err := c.api.Logical().WriteWithContext(ctx, path, c.roleData(t, w)); err != nil {
			return wrap("write Kubernetes auth role", path, err)
		}
		c.log.Info("wrote tenant role", "tenant", t.id(), "role", names.Roles[w], "serviceAccount", t.ServiceAccounts[w])
	}
	return nil
}

func (c *Client) roleMatches(data map[string]any, t Tenant, w Workload) bool {
	ttl, err1 := toSeconds(data["token_ttl"])
	maxTTL, err2 := toSeconds(data["token_max_ttl"])
	return err1 == nil && err2 == nil &&
		sameStrings(toStrings(data["bound_service_account_names"]), []string{t.ServiceAccounts[w]}) &&
		sameStrings(toStrings(data["bound_service_account_namespaces"]), []string{t.Namespace}) &&
		sameStrings(toStrings(data["token_policies"]), []string{TenantPolicyName(c.cfg.Prefix, w)}) &&
		toString(data["audience"]) == c.cfg.Audience &&
		ttl == c.cfg.TenantTokenTTL && maxTTL == c.cfg.TenantTokenMaxTTL
}

// deleteRoles removes every workload role of the tenant; roles already gone count as deleted.
func (c *Client) deleteRoles(ctx context.Context, names Names) error {
	for _, w := range Workloads {
		path := c.rolePath(names.Roles[w])
		if _, err := c.api.Logical().DeleteWithContext(ctx, path); err != nil && !isNotFound(err) {
			return wrap(fmt.Sprintf("delete Kubernetes auth role of the %s workload", w), path, err)
		}
	}
	return nil
}
