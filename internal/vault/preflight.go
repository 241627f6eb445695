package vault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotConfigured: Vault lacks something the operator needs an administrator to set up
// (the tenant policies, the Kubernetes auth method and its alias metadata). Nothing was
// changed.
var ErrNotConfigured = errors.New("vault is not set up for helpdesk-operator")

// tenantPolicyCheckInterval bounds how often the set-up is read again once it was right;
// a wrong one is read again on every call, so a fix is noticed at the next reconcile.
const tenantPolicyCheckInterval = 10 * time.Minute

// checkTenantPolicies confirms that the secrets engines are mounted (setupcheck.go), that the
// fixed tenant policies are installed exactly as this version renders them, and that
// Kubernetes auth copies ServiceAccount annotations into alias metadata, which the
// policies' templates read. Without them, every tenant workload would fail to log in or be
// denied; better to say so once, clearly, on the instance.
func (c *Client) checkTenantPolicies(ctx context.Context) error {
	c.mu.Lock()
	fresh := !c.setupCheckedAt.IsZero() && time.Since(c.setupCheckedAt) < tenantPolicyCheckInterval
	c.mu.Unlock()
	if fresh {
		return nil
	}
	if err := c.checkMounts(ctx); err != nil {
		return err
	}
	accessor, err := c.kubernetesAccessor(ctx)
	if err != nil {
		return err
	}
	for w, text := range TenantPolicies(c.cfg, accessor) {
		name := TenantPolicyName(c.cfg.Prefix, w)
		path := "sys/policies/acl/" + name
		current, err := c.api.Sys().GetPolicyWithContext(ctx, name)
		if err != nil {
			return wrap("read tenant policy", path, err)
		}
		if current != text {
			state := "differs from what this operator version expects"
			if current == "" {
				state = "is missing"
			}
			return wrap("check tenant policy", path, fmt.Errorf("%w: policy %s %s", ErrNotConfigured, name, state))
		}
	}
	path := "auth/" + c.cfg.KubernetesMount + "/config"
	authConfig, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return wrap("read Kubernetes auth config", path, err)
	}
	if authConfig == nil || !toBool(authConfig.Data["use_annotations_as_alias_metadata"]) {
		return wrap("check Kubernetes auth config", path, fmt.Errorf(
			"%w: use_annotations_as_alias_metadata is off, so tenant logins carry no instance and the tenant policies grant nothing", ErrNotConfigured))
	}
	c.mu.Lock()
	c.setupCheckedAt = time.Now()
	c.mu.Unlock()
	return nil
}
