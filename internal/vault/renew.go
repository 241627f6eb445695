package vault

import (
	"context"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// Backoff between failed logins: fast enough to recover soon after an outage, slow enough
// not to hammer a Vault that is struggling.
const (
	minLoginBackoff = time.Second
	maxLoginBackoff = 30 * time.Second
)

// Start keeps the client's token alive until ctx ends: it renews with a LifetimeWatcher and,
// when renewal stops (max TTL reached, token revoked, Vault down past the TTL), logs in
// again with backoff (Kubernetes auth). It implements controller-runtime's Runnable.
func (c *Client) Start(ctx context.Context) error {
	backoff := minLoginBackoff
	for {
		c.mu.Lock()
		secret := c.auth
		c.mu.Unlock()
		if secret == nil {
			if err := c.login(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				c.log.Error(err, "Vault login failed; retrying", "in", backoff)
				if !sleep(ctx, backoff) {
					return nil
				}
				backoff = min(2*backoff, maxLoginBackoff)
				continue
			}
			backoff = minLoginBackoff
			continue
		}

		err := c.keepAlive(ctx, secret)
		if ctx.Err() != nil {
			return nil
		}
		if c.cfg.AuthMethod == AuthToken {
			// A token from VAULT_TOKEN cannot be replaced from here.
			c.log.Error(err, "VAULT_TOKEN can no longer be renewed; restart the operator with a fresh token before it expires")
			<-ctx.Done()
			return nil
		}
		if err != nil {
			c.log.Error(err, "Vault token renewal failed; logging in again")
		} else {
			c.log.Info("Vault token reached its max TTL; logging in again")
		}
		c.mu.Lock()
		if c.auth == secret {
			c.auth = nil
		}
		c.mu.Unlock()
	}
}

// keepAlive returns when secret's token should be replaced: nil when renewal reached the
// max TTL, an error when renewal failed until the token expired.
func (c *Client) keepAlive(ctx context.Context, secret *vaultapi.Secret) error {
	if !secret.Auth.Renewable {
		if secret.Auth.LeaseDuration == 0 {
			// A token that never expires (root, or a periodic-less service token without TTL).
			<-ctx.Done()
			return nil
		}
		// Batch tokens cannot be renewed: replace them at two thirds of their life.
		sleep(ctx, time.Duration(secret.Auth.LeaseDuration)*time.Second*2/3)
		return nil
	}
	watcher, err := c.api.NewLifetimeWatcher(&vaultapi.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		return err
	}
	go watcher.Start()
	defer watcher.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-watcher.DoneCh():
			return err
		case renewal := <-watcher.RenewCh():
			c.log.V(1).Info("renewed Vault token", "ttl", renewal.Secret.Auth.LeaseDuration)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
