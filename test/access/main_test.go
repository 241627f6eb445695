// Package access runs the operator, configured by its flags as in production, for each
// exposure it knows (Ingress for ingress-nginx, Traefik or another controller; Gateway API
// for Envoy Gateway, Traefik or another implementation) against one real API server with
// the real Gateway API and Traefik CRDs and minimal Envoy Gateway CRDs, and a real Vault.
// Each test starts its own manager, limited to its own namespace.
package access

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/privatedesk/helpdesk-operator/controllers"
	"github.com/privatedesk/helpdesk-operator/internal/scheme"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

var (
	restConfig *rest.Config
	k8sClient  client.Client
	vaultSrv   *vaultdev.Server
)

const wait = 20 * time.Second

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.Level(2))))
	env, err := kubeenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	restConfig = env.Config
	if k8sClient, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, stop, err := vaultdev.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	vaultSrv = srv
	return m.Run()
}

// writeCounter counts one manager's mutating requests.
type writeCounter struct {
	mu sync.Mutex
	n  int
}

func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// startOperator runs the manager, configured by flags, for namespace ns only, until the
// test ends or stop is called; it returns the counter of the manager's writes.
func startOperator(t *testing.T, ns string, flags ...string) (writes *writeCounter, stop func()) {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var opts controllers.Options
	opts.BindFlags(fs)
	args := append([]string{
		"--vault-address=" + vaultSrv.Addr, "--vault-auth-method=token", "--vault-dev-bootstrap=true",
		"--vault-egress-cidrs=127.0.0.1/32", "--api-server-cidrs=127.0.0.1/32",
		"--operator-image=registry.example.com/helpdesk-operator:test",
		"--helpy-image=registry.example.com/helpdesk/helpy:test",
	}, flags...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	opts.Vault.Token = vaultSrv.RootToken
	writes = &writeCounter{}
	cfg := rest.CopyConfig(restConfig)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				writes.mu.Lock()
				writes.n++
				writes.mu.Unlock()
			}
			return rt.RoundTrip(req)
		})
	})
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.New(),
		Cache:                  controllers.CacheOptions([]string{ns}, controllers.InstalledOptionalKinds(mapper)...),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		cancel()
		t.Fatalf("setting the operator up with %v: %v", flags, err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return writes, stop
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "access-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func get(obj client.Object) error {
	return k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
}

func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func update(t *testing.T, obj client.Object, mutate func()) {
	t.Helper()
	eventually(t, wait, func() error {
		if err := get(obj); err != nil {
			return err
		}
		mutate()
		return k8sClient.Update(context.Background(), obj)
	})
}

type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
}

func conditionIs(obj conditioned, conditionType string, status metav1.ConditionStatus, reason string) func() error {
	return func() error {
		if err := get(obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(obj.GetConditions(), conditionType)
		switch {
		case c == nil:
			return fmt.Errorf("%s has no %s condition yet", obj.GetName(), conditionType)
		case c.Status != status || c.Reason != reason:
			return fmt.Errorf("%s condition %s is %s/%s (%s), want %s/%s", obj.GetName(), conditionType, c.Status, c.Reason, c.Message, status, reason)
		case c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("%s condition %s describes generation %d, object is at %d", obj.GetName(), conditionType, c.ObservedGeneration, obj.GetGeneration())
		}
		return nil
	}
}
