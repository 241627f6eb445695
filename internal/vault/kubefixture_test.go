package vault

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// kubeFixture is a real API server whose ServiceAccounts log in to a real Vault.
type kubeFixture struct {
	cfg  *rest.Config
	kube kubernetes.Interface
}

func startKube(t *testing.T) *kubeFixture {
	t.Helper()
	dir, err := binaries.EnvtestAssets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return &kubeFixture{cfg: cfg, kube: kubernetes.NewForConfigOrDie(cfg)}
}

// authConfig is Vault's Kubernetes auth configuration for this API server, with a reviewer
// of its own, as an in-cluster Vault would have.
func (f *kubeFixture) authConfig(t *testing.T) KubernetesAuthConfig {
	t.Helper()
	jwt, err := kubeenv.VaultReviewerToken(context.Background(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return KubernetesAuthConfig{Host: f.cfg.Host, CACertPEM: string(f.cfg.CAData), ReviewerJWT: jwt}
}

// serviceAccount creates namespace/name, or replaces the annotations of an existing one.
func (f *kubeFixture) serviceAccount(t *testing.T, namespace, name string, annotations map[string]string) {
	t.Helper()
	ctx := context.Background()
	_, err := f.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sa, err := f.kube.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = f.kube.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}, metav1.CreateOptions{})
	} else if err == nil {
		sa.Annotations = annotations
		_, err = f.kube.CoreV1().ServiceAccounts(namespace).Update(ctx, sa, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// instanceAnnotations are the annotations the operator puts on a workload's ServiceAccount.
func instanceAnnotations(instance string) map[string]string {
	return map[string]string{ServiceAccountAnnotation(MetadataInstance): instance}
}

// token is a TokenRequest token of namespace/name for audience ("" for the API server's).
func (f *kubeFixture) token(t *testing.T, namespace, name, audience string) string {
	t.Helper()
	token, err := kubeenv.ServiceAccountToken(context.Background(), f.cfg, namespace, name, audience)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// tokenFile writes token to a file, as a projected volume would.
func tokenFile(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// login logs in with role and jwt and returns a client holding the token.
func login(t *testing.T, srv *vaultdev.Server, role, jwt string) (*vaultapi.Client, error) {
	t.Helper()
	c := srv.Client(t)
	c.ClearToken()
	s, err := c.Logical().Write("auth/kubernetes/login", map[string]any{"role": role, "jwt": jwt})
	if err != nil {
		return nil, err
	}
	c.SetToken(s.Auth.ClientToken)
	return c, nil
}
