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
	// cannot read the pod's CA and token files, so local CA/JWT loading is disabled.
	CACertPEM string
	// ReviewerJWT is the token Vault reviews logins with and reads ServiceAccounts with
	// (its ServiceAccount needs system:auth-delegator and get on serviceaccounts). Tenant
	// tokens carry the Vault audience, which the API server refuses as a bearer token, so
	// outside a pod Vault needs one of its own.
	ReviewerJWT string
}

// EnsureMounts enables the transit engine, the KV v2 engine and the Kubernetes auth method
// at the configured paths when missing, configures Kubernetes auth, and writes the fixed
// tenant policies. Meant for development Vault servers (--vault-dev-bootstrap) and the
// administrator's setup; it needs a privileged token (sys/mounts, sys/auth, sys/policies).
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
	if k.Host != "" {
		if err := c.configureKubernetesAuth(ctx, k); err != nil {
			return err
		}
	}
	return c.ensureTenantPolicies(ctx)
}

// ensureTenantPolicies writes the fixed tenant policies when they differ.
func (c *Client) ensureTenantPolicies(ctx context.Context) error {
	accessor, err := c.kubernetesAccessor(ctx)
	if err != nil {
		return err
	}
	for w, text := range TenantPolicies(c.cfg, accessor) {
		name := TenantPolicyName(c.cfg.Prefix, w)
		current, err := c.api.Sys().GetPolicyWithContext(ctx, name)
		if err != nil {
			return wrap("read tenant policy", "sys/policies/acl/"+name, err)
		}
		if current == text {
			continue
		}
		if err := c.api.Sys().PutPolicyWithContext(ctx, name, text); err != nil {
			return wrap("write tenant policy", "sys/policies/acl/"+name, err)
		}
		c.log.Info("wrote tenant policy", "policy", name)
	}
	return nil
}

// kubernetesAccessor is the accessor of the Kubernetes auth mount, which the tenant
// policies' templates name.
func (c *Client) kubernetesAccessor(ctx context.Context) (string, error) {
	auths, err := c.api.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return "", wrap("list auth methods", "sys/auth", err)
	}
	mount, ok := auths[c.cfg.KubernetesMount+"/"]
	if !ok || mount.Type != "kubernetes" {
		return "", wrap("find the Kubernetes auth method", "sys/auth/"+c.cfg.KubernetesMount,
			fmt.Errorf("%w: no Kubernetes auth method is mounted at %q", ErrNotConfigured, c.cfg.KubernetesMount))
	}
	return mount.Accessor, nil
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
	want := map[string]any{"kubernetes_host": k.Host, "use_annotations_as_alias_metadata": true}
	if k.CACertPEM != "" {
		want["kubernetes_ca_cert"] = k.CACertPEM
		want["disable_local_ca_jwt"] = true
	}
	if k.ReviewerJWT != "" {
		want["token_reviewer_jwt"] = k.ReviewerJWT
	}
	current, err := c.api.Logical().ReadWithContext(ctx, path)
	if err != nil && !isNotFound(err) {
		return wrap("read Kubernetes auth config", path, err)
	}
	if current != nil && current.Data != nil &&
		current.Data["kubernetes_host"] == k.Host &&
		strings.TrimSpace(toString(current.Data["kubernetes_ca_cert"])) == strings.TrimSpace(k.CACertPEM) &&
		toBool(current.Data["disable_local_ca_jwt"]) == (k.CACertPEM != "") &&
		toBool(current.Data["use_annotations_as_alias_metadata"]) &&
		// Vault never shows the reviewer token, only whether one is set.
		toBool(current.Data["token_reviewer_jwt_set"]) == (k.ReviewerJWT != "") {
		return nil
	}
	if _, err := c.api.Logical().WriteWithContext(ctx, path, want); err != nil {
		return wrap("configure Kubernetes auth", path, err)
	}
	c.log.Info("configured Vault Kubernetes auth", "host", k.Host, "localCAAndJWT", k.CACertPEM == "")
	return nil
}
