package vault

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// SecretSpec names one app secret and its length in URL-safe characters (0 means 32).
type SecretSpec struct {
	Key    string
	Length int
}

const (
	defaultSecretLength = 32
	maxSecretLength     = 4096
	// Each lost check-and-set race means another writer stored something; a few rounds
	// settle any realistic number of operator replicas.
	casAttempts = 5
)

// EnsureAppSecrets returns the tenant's app secrets from KV v2 at <kv>/data/<prefix>/secrets/<ns>/<name>,
// generating only those missing. Writes use check-and-set, so when two operators race,
// one wins and the other adopts its values instead of overwriting them. Keys not in specs
// are kept. Values never appear in logs or errors.
func (c *Client) EnsureAppSecrets(ctx context.Context, t Tenant, specs []SecretSpec) (map[string][]byte, error) {
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("vault: tenant %s: %w", t.id(), err)
	}
	if err := validateSpecs(specs); err != nil {
		return nil, fmt.Errorf("vault: app secrets of tenant %s: %w", t.id(), err)
	}
	path := c.cfg.KVMount + "/data/" + c.names(t.Namespace, t.Name).Secrets
	for attempt := 0; attempt < casAttempts; attempt++ {
		current, version, err := c.readKV(ctx, path, "read app secrets")
		if err != nil {
			return nil, err
		}
		missing := false
		for _, s := range specs {
			if _, ok := current[s.Key]; !ok {
				missing = true
				break
			}
		}
		out := make(map[string][]byte, len(specs))
		if !missing {
			for _, s := range specs {
				out[s.Key] = []byte(current[s.Key])
			}
			return out, nil
		}

		data := make(map[string]any, len(current)+len(specs))
		for k, v := range current {
			data[k] = v
		}
		var generated []string
		for _, s := range specs {
			v, ok := current[s.Key]
			if !ok {
				if v, err = randomValue(s.Length); err != nil {
					return nil, fmt.Errorf("vault: generating app secret %q: %w", s.Key, err)
				}
				data[s.Key] = v
				generated = append(generated, s.Key)
			}
			out[s.Key] = []byte(v)
		}
		// cas=0 means "only if the secret does not exist yet".
		_, err = c.api.Logical().WriteWithContext(ctx, path, map[string]any{
			"options": map[string]any{"cas": version},
			"data":    data,
		})
		if err == nil {
			c.log.Info("generated app secrets", "tenant", t.id(), "keys", generated)
			return out, nil
		}
		if !isCASMismatch(err) {
			return nil, wrap("write app secrets", path, err)
		}
		c.log.V(1).Info("another writer updated the app secrets first; reading them again", "tenant", t.id())
	}
	return nil, wrap("write app secrets", path, fmt.Errorf("lost the check-and-set race %d times; another writer keeps changing the secret", casAttempts))
}

// readKV returns the latest version's string values at a KV v2 data path and its number
// (0 when none). A deleted or destroyed latest version reads as empty at that version, so
// check-and-set still works. op names the read in errors.
func (c *Client) readKV(ctx context.Context, path, op string) (map[string]string, int64, error) {
	secret, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, 0, wrap(op, path, err)
	}
	values := map[string]string{}
	if secret == nil || secret.Data == nil {
		return values, 0, nil
	}
	var version int64
	if meta, ok := secret.Data["metadata"].(map[string]any); ok {
		if version, err = toInt(meta["version"]); err != nil {
			return nil, 0, wrap(op, path, fmt.Errorf("metadata.version: %w", err))
		}
	}
	data, _ := secret.Data["data"].(map[string]any)
	for k, v := range data {
		s, ok := v.(string)
		if !ok {
			// The value itself stays out of the message.
			return nil, 0, wrap(op, path, fmt.Errorf("key %q holds a %T, not a string; fix or remove it in Vault", k, v))
		}
		values[k] = s
	}
	return values, version, nil
}

func isCASMismatch(err error) bool {
	var resp *vaultapi.ResponseError
	if !errors.As(err, &resp) || resp.StatusCode != 400 {
		return false
	}
	for _, e := range resp.Errors {
		if strings.Contains(e, "check-and-set") {
			return true
		}
	}
	return false
}

func validateSpecs(specs []SecretSpec) error {
	seen := map[string]bool{}
	var errs []error
	for _, s := range specs {
		switch {
		case s.Key == "":
			errs = append(errs, errors.New("a secret key is empty"))
		case seen[s.Key]:
			errs = append(errs, fmt.Errorf("secret key %q is listed twice", s.Key))
		case s.Length < 0 || s.Length > maxSecretLength:
			errs = append(errs, fmt.Errorf("secret %q length %d is outside 0..%d", s.Key, s.Length, maxSecretLength))
		}
		seen[s.Key] = true
	}
	return errors.Join(errs...)
}

// randomValue returns length URL-safe base64 characters from crypto/rand (6 bits each).
func randomValue(length int) (string, error) {
	if length == 0 {
		length = defaultSecretLength
	}
	buf := make([]byte, (length*6+7)/8)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf)[:length], nil
}
