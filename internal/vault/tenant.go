package vault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Tenant identifies one HelpdeskInstance and what its pods may do in Vault.
type Tenant struct {
	Namespace string
	Name      string
	// ServiceAccount is the name (in Namespace) that may log in with the tenant's role.
	ServiceAccount string
	// RotationPeriod is the transit key's auto_rotate_period; 0 disables automatic rotation.
	RotationPeriod time.Duration
	// RestoreFrom names another instance of the same namespace whose backups the tenant
	// restores (spec.restoreFrom.instanceName): the tenant may decrypt, never encrypt,
	// with that instance's key. Tenants of other namespaces can never be named.
	RestoreFrom string
}

// TenantStatus is what a HelpdeskInstance reports about its key.
type TenantStatus struct {
	KeyName       string
	LatestVersion int
}

// The transit key settings no tenant may change: keys never leave Vault.
const transitKeyType = "aes256-gcm96"

// Vault refuses shorter automatic rotation periods.
const minRotationPeriod = time.Hour

func (t Tenant) validate() error {
	var errs []error
	if t.Namespace == "" || t.Name == "" {
		errs = append(errs, errors.New("tenant namespace and name are required"))
	}
	if t.RotationPeriod != 0 && t.RotationPeriod < minRotationPeriod {
		errs = append(errs, fmt.Errorf("key rotation period %s is below Vault's minimum of %s (0 disables rotation)", t.RotationPeriod, minRotationPeriod))
	}
	if t.RotationPeriod%time.Second != 0 {
		errs = append(errs, fmt.Errorf("key rotation period %s is not whole seconds", t.RotationPeriod))
	}
	return errors.Join(errs...)
}

func (t Tenant) id() string { return t.Namespace + "/" + t.Name }

// EnsureTenant makes the tenant's transit key, policy and Kubernetes auth role match t. It
// reads each first and writes only what differs, so a repeated call with an unchanged
// tenant makes no write to Vault.
func (c *Client) EnsureTenant(ctx context.Context, t Tenant) (TenantStatus, error) {
	if err := t.validate(); err != nil {
		return TenantStatus{}, fmt.Errorf("vault: tenant %s: %w", t.id(), err)
	}
	if t.ServiceAccount == "" {
		return TenantStatus{}, fmt.Errorf("vault: tenant %s: a ServiceAccount name is required", t.id())
	}
	names := c.names(t)
	// The policy goes first: it tells whether the shared name is ours before anything changes.
	policy, err := c.readOwnPolicy(ctx, t, names)
	if err != nil {
		return TenantStatus{}, err
	}
	key, err := c.ensureKey(ctx, t, names)
	if err != nil {
		return TenantStatus{}, err
	}
	if err := c.ensurePolicy(ctx, t, names, policy); err != nil {
		return TenantStatus{}, err
	}
	if err := c.ensureRole(ctx, t, names); err != nil {
		return TenantStatus{}, err
	}
	return TenantStatus{KeyName: names.Key, LatestVersion: key.LatestVersion}, nil
}

// readOwnPolicy returns the tenant's current policy text ("" when missing), or
// ErrNameConflict when the policy of that name belongs to someone else.
func (c *Client) readOwnPolicy(ctx context.Context, t Tenant, names Names) (string, error) {
	path := "sys/policies/acl/" + names.Policy
	policy, err := c.api.Sys().GetPolicyWithContext(ctx, names.Policy)
	if err != nil {
		return "", wrap("read policy", path, err)
	}
	if policy != "" && policyOwner(policy) != t.id() {
		owner := policyOwner(policy)
		if owner == "" {
			owner = "someone other than the operator"
		}
		return "", wrap(fmt.Sprintf("claim policy %s for tenant %s", names.Policy, t.id()), path,
			fmt.Errorf("%w: written by %s", ErrNameConflict, owner))
	}
	return policy, nil
}

func (c *Client) ensurePolicy(ctx context.Context, t Tenant, names Names, current string) error {
	want := TenantPolicy(c.cfg.TransitMount, c.cfg.KVMount, t.Namespace, t.Name, names, c.restoreKey(t))
	if current == want {
		return nil
	}
	path := "sys/policies/acl/" + names.Policy
	if err := c.api.Sys().PutPolicyWithContext(ctx, names.Policy, want); err != nil {
		return wrap("write policy", path, err)
	}
	c.log.Info("wrote tenant policy", "tenant", t.id(), "policy", names.Policy)
	return nil
}

func (c *Client) roleData(t Tenant, names Names) map[string]any {
	return map[string]any{
		"bound_service_account_names":      []string{t.ServiceAccount},
		"bound_service_account_namespaces": []string{t.Namespace},
		"token_policies":                   []string{names.Policy},
		"token_ttl":                        seconds(c.cfg.TenantTokenTTL),
		"token_max_ttl":                    seconds(c.cfg.TenantTokenMaxTTL),
	}
}

func (c *Client) ensureRole(ctx context.Context, t Tenant, names Names) error {
	path := "auth/" + c.cfg.KubernetesMount + "/role/" + names.Role
	current, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return wrap("read Kubernetes auth role", path, err)
	}
	if current != nil && roleMatches(current.Data, t, names, c.cfg) {
		return nil
	}
	if _, err := c.api.Logical().WriteWithContext(ctx, path, c.roleData(t, names)); err != nil {
		return wrap("write Kubernetes auth role", path, err)
	}
	c.log.Info("wrote tenant Kubernetes auth role", "tenant", t.id(), "role", names.Role, "serviceAccount", t.ServiceAccount)
	return nil
}

func roleMatches(data map[string]any, t Tenant, names Names, cfg Config) bool {
	ttl, err1 := toSeconds(data["token_ttl"])
	maxTTL, err2 := toSeconds(data["token_max_ttl"])
	return err1 == nil && err2 == nil &&
		sameStrings(toStrings(data["bound_service_account_names"]), []string{t.ServiceAccount}) &&
		sameStrings(toStrings(data["bound_service_account_namespaces"]), []string{t.Namespace}) &&
		sameStrings(toStrings(data["token_policies"]), []string{names.Policy}) &&
		ttl == cfg.TenantTokenTTL && maxTTL == cfg.TenantTokenMaxTTL
}

// restoreKey is the key of the instance t restores from, or "".
func (c *Client) restoreKey(t Tenant) string {
	if t.RestoreFrom == "" || t.RestoreFrom == t.Name {
		return ""
	}
	return TenantName(c.cfg.Prefix, t.Namespace, t.RestoreFrom)
}
