package operator

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	helpdeskv1alpha1 "github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// TestManagerServesProbesSecureMetricsAndElectsALeader runs the manager subcommand as a
// user would, against a real API server.
func TestManagerServesProbesSecureMetricsAndElectsALeader(t *testing.T) {
	env, c := kubeenv.StartForTest(t)
	t.Setenv("KUBECONFIG", writeKubeconfig(t, env))
	vaultSrv := vaultdev.Start(t)
	t.Setenv("VAULT_ADDR", vaultSrv.Addr)
	t.Setenv("VAULT_TOKEN", vaultSrv.RootToken)

	probes, metrics := freeAddress(t), freeAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var runErr error
	go func() {
		defer close(exited)
		runErr = RunManager(ctx, []string{
			"--health-probe-bind-address=" + probes,
			"--metrics-bind-address=" + metrics,
			"--leader-election-namespace=default",
			"--vault-dev-bootstrap",
			"--operator-image=registry.example.com/helpdesk-operator:test",
			"--zap-log-level=error",
		}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		if runErr != nil {
			t.Errorf("manager stopped with %v", runErr)
		}
	})
	// A manager that exits early fails the test at once instead of at every wait's deadline.
	waitFor := func(t *testing.T, check func() error) {
		t.Helper()
		waitUntil(t, func() error {
			select {
			case <-exited:
				t.Fatalf("the manager exited: %v", runErr)
			default:
			}
			return check()
		})
	}
	probeClient := &http.Client{Timeout: 2 * time.Second}

	for _, path := range []string{"/healthz", "/readyz"} {
		waitFor(t, func() error {
			resp, err := probeClient.Get("http://" + probes + path)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %d", path, resp.StatusCode)
			}
			return nil
		})
	}

	waitFor(t, func() error {
		lease := &coordinationv1.Lease{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "helpdesk-operator.privatedesk.io"}, lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return fmt.Errorf("the lease has no holder")
		}
		return nil
	})

	// The wiring reaches Vault and the API server: an instance gets its key and perimeter.
	inst := &helpdeskv1alpha1.HelpdeskInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "wired"},
		Spec:       helpdeskv1alpha1.HelpdeskInstanceSpec{Hostname: "wired.example.com"},
	}
	if err := c.Create(context.Background(), inst); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		for _, conditionType := range []string{helpdeskv1alpha1.ConditionEncryptionReady, helpdeskv1alpha1.ConditionNetworkIsolated} {
			if !meta.IsStatusConditionTrue(inst.Status.Conditions, conditionType) {
				return fmt.Errorf("%s is not True: %+v", conditionType, inst.Status.Conditions)
			}
		}
		return nil
	})

	// Metrics are HTTPS and only for callers the API server authorizes.
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the manager's certificate is self-signed in this test
	get := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, "https://"+metrics+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := insecure.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, func() error {
		if code := get(""); code != http.StatusUnauthorized {
			return fmt.Errorf("anonymous /metrics answered %d, want 401", code)
		}
		return nil
	})
	if code := get(serviceAccountToken(t, c, "stranger", false)); code != http.StatusForbidden {
		t.Errorf("/metrics for a service account without the metrics role answered %d, want 403", code)
	}
	if code := get(serviceAccountToken(t, c, "prometheus", true)); code != http.StatusOK {
		t.Errorf("/metrics for a service account with the metrics role answered %d, want 200", code)
	}
}

// serviceAccountToken creates a service account, optionally allowed to read /metrics.
func serviceAccountToken(t *testing.T, c client.Client, name string, canReadMetrics bool) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	if err := c.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if canReadMetrics {
		role := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader-" + name},
			Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
		}
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader-" + name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "default", Name: name}},
		}
		for _, obj := range []client.Object{role, binding} {
			if err := c.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
	}
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(600))}}
	if err := c.SubResource("token").Create(ctx, sa, request); err != nil {
		t.Fatalf("requesting a token for %s: %v", name, err)
	}
	return request.Status.Token
}

func ptrTo[T any](v T) *T { return &v }

func writeKubeconfig(t *testing.T, env *envtest.Environment) string {
	t.Helper()
	user, err := env.AddUser(envtest.User{Name: "operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitUntil(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
