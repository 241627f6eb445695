package vault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Ownership states of a tenant's Vault state. The record lives in KV v2 at OwnerPath,
// apart from the app secrets, so that it survives the Retain and Delete deletion policies
// (which keep the key) and says whose the key is.
const (
	// stateActive: a live instance, by UID, owns the key, roles and secrets.
	stateActive = "active"
	// stateRetained: the instance was deleted with Retain; key and app secrets remain.
	stateRetained = "retained"
	// stateKeyRetained: the instance was deleted with Delete; only the key remains.
	stateKeyRetained = "key-retained"
)

// ErrRetainedState: the tenant's name holds Vault state an earlier instance of the same
// namespace and name left behind (a retained key, maybe its secrets). A new instance does
// not take it over unless it asks to (spec.restoreFrom naming itself). Nothing was changed.
var ErrRetainedState = errors.New("vault state of an earlier instance with this namespace and name is retained")

// owner is the ownership record.
type owner struct {
	UID   string
	State string
	// version is the KV version read, for check-and-set.
	version int64
}

// readOwner returns the tenant's ownership record, nil when there is none.
func (c *Client) readOwner(ctx context.Context, names Names) (*owner, error) {
	path := c.cfg.KVMount + "/data/" + names.Owner
	values, version, err := c.readKV(ctx, path, "read ownership record")
	if err != nil || len(values) == 0 {
		return nil, err
	}
	return &owner{UID: values["uid"], State: values["state"], version: version}, nil
}

// writeOwner replaces the record if it is still at the version read (0: create only), so two
// operators, or an operator and an administrator, never both believe they own a name.
func (c *Client) writeOwner(ctx context.Context, names Names, uid, state string, cas int64) error {
	path := c.cfg.KVMount + "/data/" + names.Owner
	_, err := c.api.Logical().WriteWithContext(ctx, path, map[string]any{
		"options": map[string]any{"cas": cas},
		"data": map[string]any{
			"uid": uid, "state": state, "namespace": names.Namespace, "name": names.Name,
			"key": names.Key, "updated": time.Now().UTC().Format(time.RFC3339),
		},
	})
	if err != nil {
		if isCASMismatch(err) {
			return wrap("write ownership record", path, fmt.Errorf("%w: it changed while being claimed; retrying", errOwnerRace))
		}
		return wrap("write ownership record", path, err)
	}
	return nil
}

var errOwnerRace = errors.New("ownership record changed concurrently")

// claim makes the instance t the owner of its names, or says why it may not. It returns
// true when it adopted state retained from an earlier instance.
func (c *Client) claim(ctx context.Context, t Tenant, names Names) (adopted bool, err error) {
	for attempt := 0; attempt < casAttempts; attempt++ {
		rec, err := c.readOwner(ctx, names)
		if err != nil {
			return false, err
		}
		switch {
		case rec == nil:
			// A key without a record was not made by this operator: never adopt it.
			if key, err := c.readKey(ctx, names.Key); err != nil {
				return false, err
			} else if key != nil {
				return false, wrap("claim transit key", c.keyPath(names.Key), fmt.Errorf(
					"%w: the key exists but no ownership record at %s/data/%s says whose it is", ErrNameConflict, c.cfg.KVMount, names.Owner))
			}
			err = c.writeOwner(ctx, names, t.UID, stateActive, 0)
		case rec.UID == t.UID && rec.State == stateActive:
			return false, nil
		case rec.UID == t.UID:
			err = c.writeOwner(ctx, names, t.UID, stateActive, rec.version)
		case rec.State == stateActive:
			// Another instance owns the names: a live one (of a second operator sharing the
			// prefix, say), or one whose deletion skipped the Vault cleanup. Only a record
			// that a deletion marked retained may ever be adopted.
			return false, wrap("claim tenant", c.cfg.KVMount+"/data/"+names.Owner, fmt.Errorf(
				"%w: the record says instance UID %s owns key %s and has not released it (a live instance, "+
					"or one deleted with the %s annotation, whose leftovers its Event lists); delete the record "+
					"and the key by hand only once no instance of that UID exists. Nothing was changed",
				ErrNameConflict, rec.UID, names.Key, "helpdesk.privatedesk.io/skip-vault-cleanup"))
		case !t.AdoptRetained:
			return false, wrap("claim tenant", c.cfg.KVMount+"/data/"+names.Owner, fmt.Errorf(
				"%w (record state %q, instance UID %s): its key %s is kept for its backups. Nothing was changed",
				ErrRetainedState, rec.State, rec.UID, names.Key))
		default:
			if err = c.writeOwner(ctx, names, t.UID, stateActive, rec.version); err == nil {
				c.log.Info("adopted the Vault state retained from an earlier instance", "tenant", t.id(), "previousUID", rec.UID, "previousState", rec.State)
				return true, nil
			}
		}
		if err == nil {
			c.log.Info("claimed tenant names in Vault", "tenant", t.id(), "key", names.Key)
			return false, nil
		}
		if !errors.Is(err, errOwnerRace) {
			return false, err
		}
	}
	return false, wrap("claim tenant", c.cfg.KVMount+"/data/"+names.Owner, fmt.Errorf("lost the check-and-set race %d times", casAttempts))
}

// RetainedKey reports whether namespace/name's key was left behind by a deleted instance
// and recorded as such by this operator: a restore may name it as its source.
func (c *Client) RetainedKey(ctx context.Context, namespace, name string) (bool, error) {
	if err := ValidateTenant(namespace, name); err != nil {
		return false, fmt.Errorf("vault: restore source: %w", err)
	}
	names := c.names(namespace, name)
	rec, err := c.readOwner(ctx, names)
	if err != nil || rec == nil || (rec.State != stateRetained && rec.State != stateKeyRetained) {
		return false, err
	}
	key, err := c.readKey(ctx, names.Key)
	return key != nil, err
}
