package controllers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/ssa"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// One API server and one manager for the package; each test works in its own namespace.
var (
	testEnv   *envtest.Environment
	k8sClient client.Client
	writes    = &writeCounter{}
	testClock = &clock{now: time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)}
	vaultSrv  *vaultdev.Server
	recorder  = &eventLog{}
	// vaultClock drives when the instance controller checks an unchanged tenant again.
	vaultClock = &clock{now: time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)}
	// vaultCalls counts the manager's requests to Vault.
	vaultCalls = &callCounter{}
)

// callCounter counts requests through a RoundTripper.
type callCounter struct {
	mu sync.Mutex
	n  int
}

func (c *callCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

func (c *callCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// advance moves the clock on.
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapLevel()), zap.StacktraceLevel(zapcore.PanicLevel)))
	env, err := kubeenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	testEnv = env
	if k8sClient, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, stopVault, err := vaultdev.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopVault()
	vaultSrv = srv

	// The manager's writes go through a counter, so tests can prove a no-op reconcile
	// writes nothing.
	managerConfig := rest.CopyConfig(env.Config)
	managerConfig.Wrap(writes.wrap)
	// The manager's cache and client are the shipped manager's, so that a controller that
	// read something the cache leaves out would fail here.
	httpClient, err := rest.HTTPClientFor(managerConfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mapper, err := apiutil.NewDynamicRESTMapper(managerConfig, httpClient)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := ctrl.NewManager(managerConfig, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:  CacheOptions(nil, InstalledOptionalKinds(mapper)...),
		Client: ClientOptions()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := setupForTest(ctx, mgr, env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		return -5
	}
	return 2 // errors only: the suite's output stays readable
}

// setupForTest registers the controllers as Setup does, with the test clock, a token
// login to the test Vault and an event log the tests can read.
func setupForTest(ctx context.Context, mgr ctrl.Manager, env *envtest.Environment) error {
	c, reader := mgr.GetClient(), mgr.GetAPIReader()
	vaultConfig := vault.DefaultConfig()
	vaultConfig.Address, vaultConfig.AuthMethod, vaultConfig.Token = vaultSrv.Addr, vault.AuthToken, vaultSrv.RootToken
	vaultConfig.RequestTimeout = 2 * time.Second
	vaultClient, err := vault.New(ctx, vaultConfig, ctrl.Log.WithName("vault"), vault.WithTransport(vaultCalls.wrap))
	if err != nil {
		return err
	}
	reviewer, err := kubeenv.VaultReviewerToken(ctx, env.Config)
	if err != nil {
		return err
	}
	if err := vaultClient.EnsureMounts(ctx, vault.KubernetesAuthConfig{Host: env.Config.Host, CACertPEM: string(env.Config.CAData), ReviewerJWT: reviewer}); err != nil {
		return err
	}
	if err := mgr.Add(vaultClient); err != nil {
		return err
	}
	testResources = resources.DefaultOptions()
	testResources.ManagedBy = FieldManager
	testResources.Vault.CIDRs = []string{"127.0.0.1/32"}
	testResources.APIServer.CIDRs = []string{"127.0.0.1/32"}
	testResources.Vault.CABundle = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
	testResources.OperatorImage = "registry.example.com/helpdesk-operator:test"
	testResources.Images = map[v1alpha1.AppProfile]string{v1alpha1.AppProfileHelpy: "registry.example.com/helpy:test"}
	testResources.Vault.Address = vaultSrv.Addr
	applies, err := ssa.NewMetadataClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return err
	}
	instances := &HelpdeskInstanceReconciler{
		Client: c, APIReader: reader, Applier: ssa.NewApplier(c, applies, FieldManager), Vault: vaultClient, Resources: testResources, Recorder: recorder,
		VaultStates: newVaultStates(time.Hour, vaultClock.Now),
		KeyTrims:    newKeyTrimChecks(testClock.Now), RetentionProfiles: testRetentionProfiles,
	}
	if err := instances.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := (&AccessPolicyReconciler{Client: c, APIReader: reader, Recorder: recorder}).SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := (&RetentionPolicyReconciler{Client: c, APIReader: reader, Now: testClock.Now, Recorder: recorder, RetentionProfiles: testRetentionProfiles}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&DataSubjectRequestReconciler{Client: c, APIReader: reader, Applier: ssa.NewApplier(c, applies, FieldManager), Resources: testResources,
		Recorder: recorder, Now: testClock.Now, RetentionProfiles: testRetentionProfiles}).SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	return (&BackupPolicyReconciler{Client: c, APIReader: reader, Now: testClock.Now, Recorder: recorder}).SetupWithManager(ctx, mgr)
}

var testResources resources.Options

// eventLog records the events the controllers emit.
type eventLog struct {
	mu     sync.Mutex
	events []recordedEvent
}

type recordedEvent struct {
	object          string
	eventType       string
	reason, message string
}

func (l *eventLog) Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	obj, _ := regarding.(client.Object)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, recordedEvent{object: obj.GetNamespace() + "/" + obj.GetName(), eventType: eventtype, reason: reason, message: fmt.Sprintf(note, args...)})
}

func (l *eventLog) of(namespace, name string) []recordedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []recordedEvent
	for _, e := range l.events {
		if e.object == namespace+"/"+name {
			out = append(out, e)
		}
	}
	return out
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// writeCounter counts the manager's mutating requests by path.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if resp := faults.response(req); resp != nil {
			return resp, nil
		}
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			w.mu.Lock()
			if w.counts == nil {
				w.counts = map[string]int{}
			}
			w.counts[req.Method+" "+req.URL.Path]++
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// snapshot returns a copy of the counts so far.
func (w *writeCounter) snapshot() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.counts))
	for k, v := range w.counts {
		out[k] = v
	}
	return out
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// faults makes chosen requests of the manager fail, as an API server that refuses them
// would (a webhook, a quota, an outage of one resource).
var faults = &faultInjector{rules: map[int]func(*http.Request) bool{}}

type faultInjector struct {
	mu    sync.Mutex
	next  int
	rules map[int]func(*http.Request) bool
}

// add fails every request match selects until the returned function is called.
func (f *faultInjector) add(match func(*http.Request) bool) (remove func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.next
	f.next++
	f.rules[id] = match
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.rules, id)
	}
}

func (f *faultInjector) response(req *http.Request) *http.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, match := range f.rules {
		if match(req) {
			body := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected by the test","reason":"InternalError","code":500}`
			return &http.Response{
				StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error", Request: req,
				Header: http.Header{"Content-Type": []string{"application/json"}},
				Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
			}
		}
	}
	return nil
}
