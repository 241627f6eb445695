package vault

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

func startAPIServer(t *testing.T) *rest.Config {
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
	return cfg
}

// serviceAccountToken creates namespace/name, lets it review tokens (Vault, running outside
// the cluster, reviews each login with the logging-in JWT itself) and returns a token file.
func serviceAccountToken(t *testing.T, kube kubernetes.Interface, namespace, name string) string {
	t.Helper()
	ctx := context.Background()
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: namespace + "-" + name + "-auth-delegator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expiry := int64(3600)
	tr, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(tr.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubernetesAuth logs in to a real Vault with a real ServiceAccount token from a real API
// server, through the tenant role EnsureTenant wrote, and keeps working past the token's
// max TTL thanks to renewal and re-login.
func TestKubernetesAuth(t *testing.T) {
	ctx := context.Background()
	restCfg := startAPIServer(t)
	kube := kubernetes.NewForConfigOrDie(restCfg)
	srv := vaultdev.Start(t)

	const ttl, maxTTL = 5 * time.Second, 10 * time.Second
	adminCfg := testConfig(srv)
	adminCfg.TenantTokenTTL, adminCfg.TenantTokenMaxTTL = ttl, maxTTL
	admin, adminWrites := newTestClientWith(t, adminCfg)
	k8s := KubernetesAuthConfig{Host: restCfg.Host, CACertPEM: string(restCfg.CAData)}
	if err := admin.EnsureMounts(ctx, k8s); err != nil {
		t.Fatalf("EnsureMounts: %v", err)
	}
	authCfg := mustRead(t, srv.Client(t), "auth/kubernetes/config")
	if authCfg.Data["kubernetes_host"] != restCfg.Host || authCfg.Data["disable_local_ca_jwt"] != true ||
		strings.TrimSpace(toString(authCfg.Data["kubernetes_ca_cert"])) != strings.TrimSpace(string(restCfg.CAData)) {
		t.Errorf("kubernetes auth config = %v", authCfg.Data)
	}
	adminWrites.take()
	if err := admin.EnsureMounts(ctx, k8s); err != nil {
		t.Fatal(err)
	}
	if got := adminWrites.take(); len(got) != 0 {
		t.Errorf("second EnsureMounts wrote %v", got)
	}

	tenant := Tenant{Namespace: "kube-e2e", Name: "desk", ServiceAccount: "desk-app"}
	if _, err := admin.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	tokenPath := serviceAccountToken(t, kube, tenant.Namespace, tenant.ServiceAccount)

	cfg := testConfig(srv)
	cfg.AuthMethod, cfg.Token = AuthKubernetes, ""
	cfg.Role = TenantName(cfg.Prefix, tenant.Namespace, tenant.Name)
	cfg.ServiceAccountTokenPath = tokenPath
	counter := &writeCounter{}
	c, err := newClient(ctx, cfg, testLogger(t), options{wrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		counter.next = rt
		return counter
	}})
	if err != nil {
		t.Fatalf("New with Kubernetes auth: %v", err)
	}
	self, err := c.API().Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	policies, _ := self.TokenPolicies()
	if !slices.Contains(policies, cfg.Role) {
		t.Errorf("token policies %v lack the tenant policy %s", policies, cfg.Role)
	}

	// The role admits only the tenant's ServiceAccount.
	intruder := cfg
	intruder.ServiceAccountTokenPath = serviceAccountToken(t, kube, tenant.Namespace, "intruder")
	if _, err := New(ctx, intruder, testLogger(t)); !IsPermissionDenied(err) {
		t.Errorf("another ServiceAccount logging in with the tenant role: %v, want permission denied", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- c.Start(runCtx) }()

	// Use the tenant key throughout one and a half max TTLs: every call must work.
	plaintext := base64.StdEncoding.EncodeToString([]byte("hello"))
	deadline := time.Now().Add(maxTTL + maxTTL/2)
	calls := 0
	for time.Now().Before(deadline) {
		if _, err := c.API().Logical().Write("transit/encrypt/"+cfg.Role, map[string]any{"plaintext": plaintext}); err != nil {
			stop()
			t.Fatalf("encrypt after %d calls: %v", calls, err)
		}
		calls++
		// Pacing, not waiting for a condition: the point is to keep using the client for
		// a fixed stretch of wall time that spans token expiries.
		time.Sleep(250 * time.Millisecond)
	}
	var logins, renewals int
	for _, w := range counter.take() {
		switch {
		case strings.HasSuffix(w, "auth/kubernetes/login"):
			logins++
		case strings.HasSuffix(w, "auth/token/renew-self"):
			renewals++
		}
	}
	t.Logf("%d encrypt calls over %s: %d logins, %d renewals", calls, maxTTL+maxTTL/2, logins, renewals)
	if logins < 2 || renewals < 1 {
		t.Errorf("got %d logins and %d renewals, want a renewal and a re-login after the max TTL", logins, renewals)
	}

	// Vault down past the token's lifetime: the client's token dies with it, so Start must
	// log in again, with backoff, once Vault is back, and the same Client then works.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*maxTTL, "a login attempt while Vault is down", func() bool {
		return slices.ContainsFunc(counter.take(), func(w string) bool { return strings.HasSuffix(w, "auth/kubernetes/login") })
	})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Whatever token the client held is dead now, so only a fresh login can make it work.
	oldToken := c.API().Token()
	if err := srv.Client(t).Auth().Token().RevokeTree(oldToken); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitFor(t, maxLoginBackoff+maxTTL, "the client to work again after Vault restarted", func() bool {
		_, err := c.API().Logical().Write("transit/encrypt/"+cfg.Role, map[string]any{"plaintext": plaintext})
		return err == nil
	})
	t.Logf("client working again %s after Vault restarted", time.Since(restarted).Round(100*time.Millisecond))
	if c.API().Token() == oldToken {
		t.Error("the client works with a revoked token?")
	}

	stop()
	if err := <-ran; err != nil {
		t.Errorf("Start: %v", err)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
