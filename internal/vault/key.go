package vault

import (
	"context"
	"fmt"
	"time"
)

// KeyInfo is what Vault says about a tenant's transit key.
type KeyInfo struct {
	Name                 string
	Type                 string
	LatestVersion        int
	MinDecryptionVersion int
	AutoRotatePeriod     time.Duration
	Exportable           bool
	AllowPlaintextBackup bool
	DeletionAllowed      bool
	// LatestVersionCreated is when the latest version was created (the key, or its last
	// rotation); zero when Vault does not say (keycreated.go).
	LatestVersionCreated time.Time
}

// KeyInfo reads the tenant's transit key; nil (and no error) when it does not exist.
func (c *Client) KeyInfo(ctx context.Context, t Tenant) (*KeyInfo, error) {
	return c.readKey(ctx, c.names(t.Namespace, t.Name).Key)
}

func (c *Client) keyPath(key string) string { return c.cfg.TransitMount + "/keys/" + key }

func (c *Client) readKey(ctx context.Context, key string) (*KeyInfo, error) {
	path := c.keyPath(key)
	secret, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, wrap("read transit key", path, err)
	}
	if secret == nil || secret.Data == nil {
		return nil, nil
	}
	d := secret.Data
	info := &KeyInfo{
		Name:                 key,
		Exportable:           toBool(d["exportable"]),
		AllowPlaintextBackup: toBool(d["allow_plaintext_backup"]),
		DeletionAllowed:      toBool(d["deletion_allowed"]),
	}
	info.Type, _ = d["type"].(string)
	latest, err := toInt(d["latest_version"])
	if err != nil {
		return nil, wrap("read transit key", path, fmt.Errorf("latest_version: %w", err))
	}
	minDecrypt, err := toInt(d["min_decryption_version"])
	if err != nil {
		return nil, wrap("read transit key", path, fmt.Errorf("min_decryption_version: %w", err))
	}
	rotate, err := toSeconds(d["auto_rotate_period"])
	if err != nil {
		return nil, wrap("read transit key", path, fmt.Errorf("auto_rotate_period: %w", err))
	}
	info.LatestVersion, info.MinDecryptionVersion, info.AutoRotatePeriod = int(latest), int(minDecrypt), rotate
	info.LatestVersionCreated = versionCreated(d["keys"], info.LatestVersion)
	return info, nil
}

func (c *Client) ensureKey(ctx context.Context, t Tenant, names Names) (*KeyInfo, error) {
	path := c.keyPath(names.Key)
	key, err := c.readKey(ctx, names.Key)
	if err != nil {
		return nil, err
	}
	if key == nil {
		// exportable and allow_plaintext_backup default to false; the operator's policy does
		// not even let it send them.
		if _, err := c.api.Logical().WriteWithContext(ctx, path, map[string]any{
			"type":               transitKeyType,
			"auto_rotate_period": fmt.Sprintf("%ds", seconds(t.RotationPeriod)),
		}); err != nil {
			return nil, wrap("create transit key", path, err)
		}
		c.log.Info("created tenant transit key", "tenant", t.id(), "key", names.Key)
		return c.readKey(ctx, names.Key)
	}
	// Vault never lets these go back, so a key created differently cannot be repaired.
	if key.Type != transitKeyType || key.Exportable || key.AllowPlaintextBackup {
		return nil, wrap("check transit key", path, fmt.Errorf(
			"key exists with type=%s exportable=%t allow_plaintext_backup=%t but tenants need type=%s and neither export nor plaintext backup; an administrator must move it aside",
			key.Type, key.Exportable, key.AllowPlaintextBackup, transitKeyType))
	}
	update := map[string]any{}
	if key.AutoRotatePeriod != t.RotationPeriod {
		update["auto_rotate_period"] = fmt.Sprintf("%ds", seconds(t.RotationPeriod))
	}
	// An interrupted Shred leaves deletion allowed; a live tenant's key must not be deletable.
	if key.DeletionAllowed {
		update["deletion_allowed"] = false
	}
	if len(update) == 0 {
		return key, nil
	}
	if _, err := c.api.Logical().WriteWithContext(ctx, path+"/config", update); err != nil {
		return nil, wrap("update transit key configuration", path+"/config", err)
	}
	c.log.Info("updated tenant transit key configuration", "tenant", t.id(), "key", names.Key, "autoRotatePeriod", t.RotationPeriod)
	key.AutoRotatePeriod, key.DeletionAllowed = t.RotationPeriod, false
	return key, nil
}
