package vault

import (
	"context"
	"fmt"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// KubernetesAuthConfig is how Vault reaches the cluster's API server to review the
// ServiceAccount tokens pods log in with.
type KubernetesAuthConfig struct {
	// Host is the API server URL as Vault can reach it; empty leaves the auth config alone.
	Host string
	// CACertPEM is the API server's CA. Set it when Vault runs outside a pod: then Vault
	// cannot read the pod's CA and token files, so local CA/JWT loading is disabled and each
	// login's own JWT is used for the TokenReview (its ServiceAccount needs
	// system:auth-delegator).
	CACertPEM string
}

// EnsureMounts enables the transit engine, the KV v2 engine and the Kubernetes auth method
// at the configured paths when missing, and configures Kubernetes auth. Meant for
// development Vault servers (--vault-dev-bootstrap); production mounts belong to the Vault
// administrators. It needs a privileged token (sys/mounts, sys/auth).
func (c *Client) EnsureMounts(ctx context.Context, k KubernetesAuthConfig) error {
	mounts, err := c.api.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return wrap("list secrets engines", "sys/mounts", err)
	}
	if err := c.ensureMount(ctx, mounts, c.cfg.TransitMount, &vaultapi.MountInput{
		Type: "transit", Description: "helpdesk-operator tenant keys",
	}); err != nil {
		return err
	}
	if err := c.ensureMount(ctx, mounts, c.cfg.KVMount, &vaultapi.MountInput{
		Type: "kv", Description: "helpdesk-operator app secrets", Options: map[string]string{"version": "2"},
	}); err != nil {
		return err
	}

	auths, err := c.api.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return wrap("list auth methods", "sys/auth", err)
	}
	if mount, ok := auths[c.cfg.KubernetesMount+"/"]; ok {
		if mount.Type != "kubernetes" {
			return wrap("check auth method", "sys/auth/"+c.cfg.KubernetesMount,
				fmt.Errorf("mounted as %q, not kubernetes; choose another --vault-kubernetes-mount", mount.Type))
		}
	} else {
		path := "sys/auth/" + c.cfg.KubernetesMount
		if err := c.api.Sys().EnableAuthWithOptionsWithContext(ctx, c.cfg.KubernetesMount, &vaultapi.EnableAuthOptions{
			Type: "kubernetes", Description: "helpdesk-operator tenants",
		}); err != nil {
			return wrap("enable Kubernetes auth", path, err)
		}
		c.log.Info("enabled Vault auth method", "type", "kubernetes", "path", c.cfg.KubernetesMount)
	}
	if k.Host == "" {
		return nil
	}
	return c.configureKubernetesAuth(ctx, k)
}

func (c *Client) ensureMount(ctx context.Context, mounts map[string]*vaultapi.MountOutput, path string, in *vaultapi.MountInput) error {
	if mount, ok := mounts[path+"/"]; ok {
		if mount.Type != in.Type || (in.Options["version"] != "" && mount.Options["version"] != in.Options["version"]) {
			return wrap("check secrets engine", "sys/mounts/"+path, fmt.Errorf(
				"mounted as %s (options %v), want %s (options %v); choose another mount flag or remount", mount.Type, mount.Options, in.Type, in.Options))
		}
		return nil
	}
	if err := c.api.Sys().MountWithContext(ctx, path, in); err != nil {
		return wrap("enable secrets engine "+in.Type, "sys/mounts/"+path, err)
	}
	c.log.Info("enabled Vault secrets engine", "type", in.Type, "path", path)
	return nil
}

func (c *Client) configureKubernetesAuth(ctx context.Context, k KubernetesAuthConfig) error {
	path := "auth/" + c.cfg.KubernetesMount + "/config"
	want := map[string]any{"kubernetes_host": k.Host}
	if k.CACertPEM != "" {
		want["kubernetes_ca_cert"] = k.CACertPEM
		want["disable_local_ca_jwt"] = true
	}
	current, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil && !isNotFound(err) {
		return wrap("read Kubernetes auth config", path, err)
	}
	if current != nil && current.Data != nil &&
		current.Data["kubernetes_host"] == k.Host &&
		strings.TrimSpace(toString(current.Data["kubernetes_ca_cert"])) == strings.TrimSpace(k.CACertPEM) &&
		toBool(current.Data["disable_local_ca_jwt"]) == (k.CACertPEM != "") {
		return nil
	}
	if _, err := c.api.Logical().WriteWithContext(ctx, path, want); err != nil {
		return wrap("configure Kubernetes auth", path, err)
	}
	c.log.Info("configured Vault Kubernetes auth", "host", k.Host, "localCAAndJWT", k.CACertPEM == "")
	return nil
}
