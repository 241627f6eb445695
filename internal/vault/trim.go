package vault

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// KeyVersions is what crypto-shredding needs to know about a tenant's transit key.
type KeyVersions struct {
	Name string
	// Latest is the version new data is encrypted with.
	Latest int
	// MinDecryption is the oldest version Vault decrypts (and verifies HMACs) with.
	MinDecryption int
	// MinEncryption bounds explicitly requested versions (0: unset).
	MinEncryption int
	// MinAvailable is the oldest version whose key material Vault still holds; older
	// ones were trimmed and are gone for good.
	MinAvailable int
	// Created is when each version Vault still uses was created (rotated in).
	Created map[int]time.Time
}

// Versions lists the versions Created knows, oldest first.
func (k *KeyVersions) Versions() []int {
	out := make([]int, 0, len(k.Created))
	for v := range k.Created {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

// KeyVersions reads the tenant's transit key: its versions and when each was created.
// It is nil (and no error) when the key does not exist.
func (c *Client) KeyVersions(ctx context.Context, namespace, name string) (*KeyVersions, error) {
	key := c.names(namespace, name).Key
	path := c.keyPath(key)
	secret, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, wrap("read transit key", path, err)
	}
	if secret == nil || secret.Data == nil {
		return nil, nil
	}
	d := secret.Data
	kv := &KeyVersions{Name: key, Created: map[int]time.Time{}}
	for field, dst := range map[string]*int{"latest_version": &kv.Latest, "min_decryption_version": &kv.MinDecryption, "min_encryption_version": &kv.MinEncryption, "min_available_version": &kv.MinAvailable} {
		n, err := toInt(d[field])
		if err != nil {
			return nil, wrap("read transit key", path, fmt.Errorf("%s: %w", field, err))
		}
		*dst = int(n)
	}
	keys, ok := d["keys"].(map[string]any)
	if !ok {
		return nil, wrap("read transit key", path, fmt.Errorf("keys: not a map of versions to creation times (is %s an aes256-gcm96 key?)", key))
	}
	for version, created := range keys {
		v, err := strconv.Atoi(version)
		if err != nil {
			return nil, wrap("read transit key", path, fmt.Errorf("keys: version %q is not a number", version))
		}
		unix, err := toInt(created)
		if err != nil {
			return nil, wrap("read transit key", path, fmt.Errorf("keys: creation time of version %d: %w", v, err))
		}
		kv.Created[v] = time.Unix(unix, 0).UTC()
	}
	return kv, nil
}

// TrimKey crypto-shreds every version of the tenant's key below minVersion: it raises
// min_decryption_version to minVersion (and min_encryption_version, which Vault requires
// for a trim and which only bounds explicitly requested versions: new data keeps using the
// latest), then trims the key to min_available_version=minVersion, which deletes those
// versions' key material. Whatever they encrypted, wherever a copy of it is, can never be
// decrypted again. It never lowers a setting and refuses to trim the latest version or
// beyond. It returns the key as it is afterwards.
func (c *Client) TrimKey(ctx context.Context, namespace, name string, minVersion int) (*KeyVersions, error) {
	key := c.names(namespace, name).Key
	path := c.keyPath(key)
	kv, err := c.KeyVersions(ctx, namespace, name)
	switch {
	case err != nil:
		return nil, err
	case kv == nil:
		return nil, wrap("trim transit key", path, fmt.Errorf("the key does not exist"))
	case minVersion > kv.Latest:
		return nil, wrap("trim transit key", path, fmt.Errorf("version %d is newer than the latest version %d; new data is encrypted with the latest, so it is never trimmed", minVersion, kv.Latest))
	case minVersion <= kv.MinAvailable:
		return kv, nil
	}
	update := map[string]any{}
	if minVersion > kv.MinDecryption {
		update["min_decryption_version"] = minVersion
	}
	if minVersion > kv.MinEncryption {
		update["min_encryption_version"] = minVersion
	}
	if len(update) > 0 {
		if _, err := c.api.Logical().WriteWithContext(ctx, path+"/config", update); err != nil {
			return nil, wrap("raise min_decryption_version of transit key", path+"/config", err)
		}
	}
	if minVersion > kv.MinAvailable {
		if _, err := c.api.Logical().WriteWithContext(ctx, path+"/trim", map[string]any{"min_available_version": minVersion}); err != nil {
			return nil, wrap("trim transit key", path+"/trim", err)
		}
	}
	c.log.Info("trimmed tenant transit key (crypto-shredding)", "tenant", namespace+"/"+name, "key", key, "minAvailableVersion", minVersion)
	return c.KeyVersions(ctx, namespace, name)
}
