package vault

import (
	"context"
	"fmt"
	"strings"
)

// DeletionPolicy says what DeleteTenant removes besides the roles, which always go so
// that no pod can use the tenant's key or secrets any more.
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

// DeleteResult says what DeleteTenant found.
type DeleteResult struct {
	// Owned is false when the instance owned nothing in Vault (it never claimed its names,
	// or an earlier instance's retained state holds them): nothing was touched.
	Owned bool
}

// DeleteTenant removes the tenant's Vault objects according to policy, but only when the
// ownership record names t.UID: state an earlier instance left behind, or another
// operator's, is never touched. Objects already gone count as deleted, so it is safe to
// repeat. The record stays while the key does (Retain, Delete), marked as retained, so a
// later instance of the same name neither adopts the key unasked nor loses track of it.
func (c *Client) DeleteTenant(ctx context.Context, t Tenant, policy DeletionPolicy) (DeleteResult, error) {
	if err := ValidateTenant(t.Namespace, t.Name); err != nil {
		return DeleteResult{}, fmt.Errorf("vault: DeleteTenant: %w", err)
	}
	var state string
	switch policy {
	case Retain:
		state = stateRetained
	case Delete:
		state = stateKeyRetained
	case Shred:
	default:
		return DeleteResult{}, fmt.Errorf("vault: DeleteTenant %s: deletion policy %q: want %s, %s or %s", t.id(), policy, Retain, Delete, Shred)
	}
	names := c.names(t.Namespace, t.Name)
	rec, err := c.readOwner(ctx, names)
	if err != nil {
		return DeleteResult{}, err
	}
	if rec == nil || t.UID == "" || rec.UID != t.UID {
		return DeleteResult{}, nil
	}
	// Roles first so no new token is issued; tokens already out carry only the templated
	// policies, which name the key by the instance, and lose it with the key (Shred).
	if err := c.deleteRoles(ctx, names); err != nil {
		return DeleteResult{}, err
	}
	if policy == Delete || policy == Shred {
		if err := c.deleteKVTree(ctx, names.Secrets); err != nil {
			return DeleteResult{}, err
		}
	}
	if policy == Shred {
		if err := c.deleteKey(ctx, names.Key); err != nil {
			return DeleteResult{}, err
		}
		// Last: until the key is gone, the record says whose it is.
		if err := c.deleteKVTree(ctx, names.Owner); err != nil {
			return DeleteResult{}, err
		}
	} else if rec.State != state {
		if err := c.writeOwner(ctx, names, t.UID, state, rec.version); err != nil {
			return DeleteResult{}, err
		}
	}
	c.log.Info("deleted tenant from Vault", "tenant", t.id(), "deletionPolicy", policy)
	return DeleteResult{Owned: true}, nil
}

// Leftovers lists, for an Event, what stays in Vault when an administrator finishes an
// instance's deletion without Vault cleanup: names and paths only, never values.
func (c *Client) Leftovers(namespace, name string) []string {
	names := c.names(namespace, name)
	out := []string{
		"transit key " + c.keyPath(names.Key),
		"app secrets " + c.cfg.KVMount + "/metadata/" + names.Secrets,
		"ownership record " + c.cfg.KVMount + "/metadata/" + names.Owner,
	}
	for _, w := range Workloads {
		out = append(out, "role "+c.rolePath(names.Roles[w]))
	}
	return out
}

// deleteKVTree removes all versions and metadata of path and of every secret below it.
func (c *Client) deleteKVTree(ctx context.Context, path string) error {
	listPath := c.cfg.KVMount + "/metadata/" + path
	list, err := c.api.Logical().ListWithContext(ctx, listPath)
	if err != nil && !isNotFound(err) {
		return wrap("list secrets", listPath, err)
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
		return wrap("delete secrets and their history", metaPath, err)
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
