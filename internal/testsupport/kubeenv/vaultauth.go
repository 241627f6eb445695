package kubeenv

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The ServiceAccount a Vault outside the cluster reviews logins with.
const (
	VaultReviewerNamespace = "vault-auth"
	VaultReviewerName      = "reviewer"
)

// VaultReviewerToken sets up what an in-cluster Vault would have: a ServiceAccount that may
// review tokens (system:auth-delegator) and read ServiceAccounts (whose alias-metadata
// annotations Vault copies at login), and returns a token of it for Vault's
// token_reviewer_jwt. Tenant tokens carry Vault's audience, which the API server refuses as
// a bearer token, so Vault cannot review them with themselves. Safe to call again.
func VaultReviewerToken(ctx context.Context, cfg *rest.Config) (string, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	create := func(what string, err error) error {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the Vault reviewer's %s: %w", what, err)
		}
		return nil
	}
	if err := create("namespace", ignoreResult(kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: VaultReviewerNamespace}}, metav1.CreateOptions{}))); err != nil {
		return "", err
	}
	if err := create("ServiceAccount", ignoreResult(kube.CoreV1().ServiceAccounts(VaultReviewerNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: VaultReviewerName}}, metav1.CreateOptions{}))); err != nil {
		return "", err
	}
	if err := create("ClusterRole", ignoreResult(kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-read-serviceaccounts"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}))); err != nil {
		return "", err
	}
	for binding, role := range map[string]string{"vault-reviewer-auth-delegator": "system:auth-delegator", "vault-reviewer-read-serviceaccounts": "vault-read-serviceaccounts"} {
		if err := create("ClusterRoleBinding", ignoreResult(kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: binding},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: VaultReviewerNamespace, Name: VaultReviewerName}},
		}, metav1.CreateOptions{}))); err != nil {
			return "", err
		}
	}
	expiry := int64(24 * 3600)
	tr, err := kube.CoreV1().ServiceAccounts(VaultReviewerNamespace).CreateToken(ctx, VaultReviewerName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting the Vault reviewer's token: %w", err)
	}
	return tr.Status.Token, nil
}

// ServiceAccountToken is a TokenRequest token of namespace/name for audience ("" for the
// API server's own), as a projected volume would hold.
func ServiceAccountToken(ctx context.Context, cfg *rest.Config, namespace, name, audience string) (string, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	expiry := int64(3600)
	spec := authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}
	if audience != "" {
		spec.Audiences = []string{audience}
	}
	tr, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token of %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

func ignoreResult[T any](_ T, err error) error { return err }
