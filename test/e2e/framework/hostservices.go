package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	vaultapi "github.com/hashicorp/vault/api"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// VaultPort is the host Vault's port: Vault's default, which the operator's tenant
// NetworkPolicies allow when the chart sets vault.egressCIDRs (the operator has no flag for
// another port then; it derives one only from an IP-address --vault-address).
const VaultPort = 8200

// StartVault starts a real Vault server on the node's address and VaultPort, so that pods
// reach it, and configures it for the operator (ConfigureVault). Call stop when done.
func (c *Cluster) StartVault(ctx context.Context) (srv *vaultdev.Server, stop func(), err error) {
	srv, stop, err = vaultdev.StartMainOn(c.NodeIP, VaultPort)
	if err != nil {
		return nil, nil, err
	}
	admin, err := vaultClient(srv.Addr, srv.RootToken)
	if err == nil {
		err = c.ConfigureVault(ctx, admin)
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return srv, stop, nil
}

// StartS3 starts the versitygw S3 gateway on the host's services address, which tenants'
// backup pods may be allowed to reach (BackupPolicy egressCIDRs ServicesIP/32). Call stop
// when done.
func (c *Cluster) StartS3() (*s3gw.Server, func(), error) {
	if c.ServicesIP == "" {
		return nil, nil, errors.New("hack/cluster.sh env printed no HELPDESK_E2E_SERVICES_IP: bring the cluster up with this version of hack/cluster.sh")
	}
	return s3gw.StartMainOn(c.ServicesIP)
}

// Vault settings ConfigureVault applies: the operator's default mounts.
const (
	VaultKubernetesMount = "kubernetes"
	VaultTransitMount    = "transit"
	VaultKVMount         = "secret"
	// VaultReviewerNamespace and VaultReviewerServiceAccount are the ServiceAccount whose
	// token Vault reviews every login's token with.
	VaultReviewerNamespace      = "kube-system"
	VaultReviewerServiceAccount = "helpdesk-e2e-vault-reviewer"
)

// ConfigureVault enables the transit and KV v2 engines and the Kubernetes auth method,
// and points Kubernetes auth at this cluster's API server: with the cluster's CA, without
// the local pod files (Vault runs on the host, disable_local_ca_jwt), and with the token
// of a reviewer ServiceAccount allowed to create TokenReviews (system:auth-delegator) and
// read ServiceAccounts. Tenant pods log in with tokens whose audience is not the API
// server's, so Vault must never review a token with that token itself. Logins get the
// ServiceAccount's annotations as alias metadata (use_annotations_as_alias_metadata).
func (c *Cluster) ConfigureVault(ctx context.Context, admin *vaultapi.Client) error {
	reviewerJWT, err := c.vaultReviewerToken(ctx)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		return err
	}
	// What an administrator runs once (helpdesk-operator vault-setup): the mounts, Kubernetes
	// auth for this cluster, the fixed tenant policies, the operator's policy and role.
	cfg := vault.DefaultConfig()
	cfg.Address, cfg.AuthMethod, cfg.Token = admin.Address(), vault.AuthToken, admin.Token()
	setup, err := vault.New(ctx, cfg, logr.Discard())
	if err != nil {
		return err
	}
	return setup.SetUp(ctx, vault.KubernetesAuthConfig{Host: c.APIServer, CACertPEM: string(ca), ReviewerJWT: reviewerJWT},
		vault.OperatorIdentity{Role: "helpdesk-operator", Namespace: OperatorNamespace, ServiceAccount: "helpdesk-operator", Policy: "helpdesk-operator"})
}

// vaultReviewerToken creates the reviewer ServiceAccount, its permissions, and a token
// for it that outlives any test run.
func (c *Cluster) vaultReviewerToken(ctx context.Context) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: VaultReviewerServiceAccount, Namespace: VaultReviewerNamespace}}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: VaultReviewerServiceAccount},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get"}}},
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}}
	bindings := []*rbacv1.ClusterRoleBinding{
		{
			ObjectMeta: metav1.ObjectMeta{Name: VaultReviewerServiceAccount + "-auth-delegator"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
			Subjects:   subject,
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: VaultReviewerServiceAccount},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   subject,
		},
	}
	for _, obj := range []client.Object{sa, role, bindings[0], bindings[1]} {
		if err := c.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](int64((24 * time.Hour).Seconds()))}}
	tok, err := c.Clientset.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return tok.Status.Token, nil
}

// VaultPolicyFromFile writes the ACL policy name from a file of the repository (path
// relative to the module root), e.g. config/vault/operator-policy.hcl.
func (c *Cluster) VaultPolicyFromFile(ctx context.Context, admin *vaultapi.Client, name, path string) error {
	rules, err := os.ReadFile(filepath.Join(c.Root, path))
	if err != nil {
		return err
	}
	if err := admin.Sys().PutPolicyWithContext(ctx, name, string(rules)); err != nil {
		return fmt.Errorf("vault: writing policy %s: %w", name, err)
	}
	return nil
}

// VaultToken creates a renewable, periodic token with the given policies (no root).
func VaultToken(ctx context.Context, admin *vaultapi.Client, policies ...string) (string, error) {
	secret, err := admin.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{
		Policies: policies, Period: "24h", NoDefaultPolicy: false, DisplayName: "helpdesk-e2e",
	})
	if err != nil {
		return "", fmt.Errorf("vault: creating a token: %w", err)
	}
	return secret.Auth.ClientToken, nil
}

// VaultClient is a client of the Vault at addr with token.
func VaultClient(addr, token string) (*vaultapi.Client, error) { return vaultClient(addr, token) }

func vaultClient(addr, token string) (*vaultapi.Client, error) {
	cfg := vaultapi.DefaultConfig()
	cfg.Address = addr
	cfg.Timeout = 15 * time.Second
	cl, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	cl.SetToken(token)
	return cl, nil
}
