package vault

import (
	"context"
	"fmt"
	"strings"
)

// DeletionPolicy says what DeleteTenant removes besides the role and policy, which always
// go so that no pod can use the tenant's key or secrets any more.
type DeletionPolicy string

const (
	// Retain keeps the transit key and the KV data: the tenant can be restored.
	Retain DeletionPolicy = "Retain"
	// Delete also removes every version and the metadata of the app secrets, keeping the
	// key so data encrypted with it stays recoverable by an administrator.
	Delete DeletionPolicy = "Delete"
	// Shred also deletes the transit key: everything encrypted with it is lost for good.
	Shred DeletionPolicy = "Shred"
)

// DeleteTenant removes the tenant's Vault objects according to policy. Objects already gone
// count as deleted, so it is safe to repeat. When the names belong to another tenant it
// deletes nothing and returns an error for which IsNameConflict is true.
func (c *Client) DeleteTenant(ctx context.Context, t Tenant, policy DeletionPolicy) error {
	if t.Namespace == "" || t.Name == "" {
		return fmt.Errorf("vault: DeleteTenant: tenant namespace and name are required")
	}
	switch policy {
	case Retain, Delete, Shred:
	default:
		return fmt.Errorf("vault: DeleteTenant %s: deletion policy %q: want %s, %s or %s", t.id(), policy, Retain, Delete, Shred)
	}
	names := c.names(t)
	// Never delete another tenant's objects that happen to share the dashed name.
	if _, err := c.readOwnPolicy(ctx, t, names); err != nil {
		return err
	}

	rolePath := "auth/" + c.cfg.KubernetesMount + "/role/" + names.Role
	if _, err := c.api.Logical().DeleteWithContext(ctx, rolePath); err != nil && !isNotFound(err) {
		return wrap("delete Kubernetes auth role", rolePath, err)
	}
	// Role first so no new token is issued; removing the policy then cuts off the tokens
	// already out, since Vault resolves policies by name on every request.
	policyPath := "sys/policies/acl/" + names.Policy
	if err := c.api.Sys().DeletePolicyWithContext(ctx, names.Policy); err != nil && !isNotFound(err) {
		return wrap("delete policy", policyPath, err)
	}
	if policy == Delete || policy == Shred {
		if err := c.deleteKVTree(ctx, names.KVPath); err != nil {
			return err
		}
	}
	if policy == Shred {
		if err := c.deleteKey(ctx, names.Key); err != nil {
			return err
		}
	}
	c.log.Info("deleted tenant from Vault", "tenant", t.id(), "deletionPolicy", policy)
	return nil
}

// deleteKVTree removes all versions and metadata of path and of every secret below it.
func (c *Client) deleteKVTree(ctx context.Context, path string) error {
	listPath := c.cfg.KVMount + "/metadata/" + path
	list, err := c.api.Logical().ListWithContext(ctx, listPath)
	if err != nil && !isNotFound(err) {
		return wrap("list app secrets", listPath, err)
	}
	if list != nil {
		for _, child := range toStrings(list.Data["keys"]) {
			if err := c.deleteKVTree(ctx, path+"/"+strings.TrimSuffix(child, "/")); err != nil {
				return err
			}
		}
	}
	metaPath := c.cfg.KVMount + "/metadata/" + path
	if _, err := c.api.Logical().DeleteWithContext(ctx, metaPath); err != nil && !isNotFound(err) {
		return wrap("delete app secrets and their history", metaPath, err)
	}
	return nil
}

func (c *Client) deleteKey(ctx context.Context, key string) error {
	info, err := c.readKey(ctx, key)
	if err != nil || info == nil {
		return err
	}
	path := c.keyPath(key)
	// Transit refuses to delete a key until deletion is explicitly allowed.
	if !info.DeletionAllowed {
		if _, err := c.api.Logical().WriteWithContext(ctx, path+"/config", map[string]any{"deletion_allowed": true}); err != nil {
			return wrap("allow deletion of transit key", path+"/config", err)
		}
	}
	if _, err := c.api.Logical().DeleteWithContext(ctx, path); err != nil && !isNotFound(err) {
		return wrap("delete transit key", path, err)
	}
	c.log.Info("shredded tenant transit key", "key", key)
	return nil
}
