package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
)

// The operator's identity, as vault-setup's defaults and the Helm chart have it.
const (
	operatorNamespace      = "helpdesk-system"
	operatorServiceAccount = "helpdesk-operator"
	operatorRole           = "helpdesk-operator"
	// tokenLifetime is the lifetime of the ServiceAccount tokens the demo requests (as a
	// projected volume's); tokenRefresh is how often the operator's is renewed.
	tokenLifetime = time.Hour
	tokenRefresh  = 20 * time.Minute
)

// setUpVault does what a Vault administrator does once, with the root token: runs
// `helpdesk-operator vault-setup` with a reviewer token of a ServiceAccount allowed to
// review tokens (Vault runs outside the cluster). Then it gives the operator a
// ServiceAccount and a token file to log in with, as its pod would have.
func (s *session) setUpVault(ctx context.Context) error {
	reviewer, err := kubeenv.VaultReviewerToken(ctx, s.env.Config)
	if err != nil {
		return err
	}
	reviewerFile, err := s.writeSecretFile("vault-reviewer.jwt", reviewer)
	if err != nil {
		return err
	}
	s.p.progress("setting Vault up as an administrator does: helpdesk-operator vault-setup --token-reviewer-jwt-file=%s", reviewerFile)
	env := []string{"VAULT_ADDR=" + s.vault.Addr, "VAULT_TOKEN=" + s.vault.RootToken, "KUBECONFIG=" + s.kubeconfig}
	if _, err := s.runOperator(ctx, "vault-setup.log", env, "vault-setup", "--token-reviewer-jwt-file="+reviewerFile); err != nil {
		return err
	}
	if err := s.operatorIdentity(ctx); err != nil {
		return err
	}
	return s.showVaultSetup(ctx)
}

// showVaultSetup prints what vault-setup left in Vault, read back as the administrator.
func (s *session) showVaultSetup(ctx context.Context) error {
	admin, err := s.vaultAdmin()
	if err != nil {
		return err
	}
	mounts, err := admin.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return err
	}
	auths, err := admin.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return err
	}
	policies, err := admin.Sys().ListPoliciesWithContext(ctx)
	if err != nil {
		return err
	}
	role, err := admin.Logical().ReadWithContext(ctx, "auth/"+vaultAuthMount+"/role/"+operatorRole)
	if err != nil {
		return fmt.Errorf("reading the operator's role back: %w", err)
	}
	authConfig, err := admin.Logical().ReadWithContext(ctx, "auth/"+vaultAuthMount+"/config")
	if err != nil {
		return fmt.Errorf("reading the Kubernetes auth config back: %w", err)
	}
	if role == nil || authConfig == nil {
		return fmt.Errorf("vault-setup wrote no operator role or Kubernetes auth config")
	}
	var engines []string
	for path, m := range mounts {
		if m.Type == "transit" || m.Type == "kv" {
			engines = append(engines, fmt.Sprintf("%s (%s%s)", path, m.Type, versionSuffix(m.Options)))
		}
	}
	slices.Sort(engines)
	policies = slices.DeleteFunc(policies, func(p string) bool { return p == "root" || p == "default" })
	s.p.section("Vault %s, set up by helpdesk-operator vault-setup", s.vault.Addr)
	s.p.table([][]string{
		{"secrets engines", strings.Join(engines, ", ")},
		{"auth method", fmt.Sprintf("kubernetes/ (accessor %s) reviewing tokens at %v", auths["kubernetes/"].Accessor, authConfig.Data["kubernetes_host"])},
		{"", fmt.Sprintf("with the token of %s/%s (system:auth-delegator)", kubeenv.VaultReviewerNamespace, kubeenv.VaultReviewerName)},
		{"policies", strings.Join(policies, ", ")},
		{"operator role", fmt.Sprintf("%s: ServiceAccount %v/%v, policy %v", operatorRole,
			first(role.Data["bound_service_account_namespaces"]), first(role.Data["bound_service_account_names"]), first(role.Data["token_policies"]))},
	})
	return nil
}

// operatorIdentity creates the operator's namespace and ServiceAccount and keeps a fresh
// token of it in a file, as a projected ServiceAccount token volume would.
func (s *session) operatorIdentity(ctx context.Context) error {
	if err := s.kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operatorServiceAccount}}
	if err := s.kube.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	path := s.path("operator-token")
	refresh := func(ctx context.Context) error {
		token, err := s.serviceAccountToken(ctx, operatorNamespace, operatorServiceAccount, "")
		if err != nil {
			return err
		}
		_, err = s.writeSecretFile("operator-token", token)
		return err
	}
	if err := refresh(ctx); err != nil {
		return err
	}
	s.operatorToken = path
	refreshCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(tokenRefresh)
		defer ticker.Stop()
		for {
			select {
			case <-refreshCtx.Done():
				return
			case <-ticker.C:
				if err := refresh(refreshCtx); err != nil && refreshCtx.Err() == nil {
					s.p.progress("warning: renewing the operator's ServiceAccount token: %v", err)
				}
			}
		}
	}()
	s.onStop("stopped the operator's token renewal", func() { cancel(); <-done })
	return nil
}

// serviceAccountToken is a TokenRequest token of namespace/name for audience ("": the
// API server's), valid for tokenLifetime.
func (s *session) serviceAccountToken(ctx context.Context, namespace, name, audience string) (string, error) {
	expiry := int64(tokenLifetime.Seconds())
	spec := authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}
	if audience != "" {
		spec.Audiences = []string{audience}
	}
	tr, err := s.clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token of ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// vaultAdmin is a Vault client with the root token, the administrator's view.
func (s *session) vaultAdmin() (*vaultapi.Client, error) {
	cfg := vaultapi.DefaultConfig()
	cfg.Address = s.vault.Addr
	cfg.Timeout = 10 * time.Second
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.ClearNamespace()
	c.SetToken(s.vault.RootToken)
	return c, nil
}

func versionSuffix(options map[string]string) string {
	if v := options["version"]; v != "" {
		return " v" + v
	}
	return ""
}

// first is the first element of a list Vault returned, or the value itself.
func first(v any) any {
	if list, ok := v.([]any); ok && len(list) > 0 {
		return list[0]
	}
	return v
}
