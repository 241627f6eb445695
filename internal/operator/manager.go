// Package operator assembles the manager: flags, scheme, metrics, probes, leader election
// and the controllers.
package operator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/privatedesk/helpdesk-operator/controllers"
	"github.com/privatedesk/helpdesk-operator/internal/scheme"
	"github.com/privatedesk/helpdesk-operator/internal/version"
)

// ManagerFlags are the manager's command-line settings.
type ManagerFlags struct {
	MetricsAddress   string
	SecureMetrics    bool
	MetricsTLS       metricsTLSFlags
	ProbeAddress     string
	LeaderElection   bool
	LeaderElectionID string
	LeaderElectionNS string
	WatchNamespaces  string
	SyncPeriod       time.Duration
	PprofAddress     string
	QPS              float64
	Burst            int
	MemoryLimit      string
	Controllers      controllers.Options
	Logging          zap.Options
}

// Bind registers the flags on fs.
func (f *ManagerFlags) Bind(fs *flag.FlagSet) {
	fs.StringVar(&f.MetricsAddress, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to; \"0\" disables it.")
	fs.BoolVar(&f.SecureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, only to callers allowed by a TokenReview and SubjectAccessReview.")
	f.MetricsTLS.bind(fs)
	fs.StringVar(&f.ProbeAddress, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&f.LeaderElection, "leader-elect", true, "Elect a leader so that only one replica reconciles at a time.")
	fs.StringVar(&f.LeaderElectionID, "leader-election-id", "helpdesk-operator.privatedesk.io", "Name of the Lease the replicas elect a leader with.")
	fs.StringVar(&f.LeaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election Lease; empty is the operator's own namespace.")
	fs.Float64Var(&f.QPS, "kube-api-qps", 200,
		"Sustained requests per second the manager may send the API server for each kind of object (client-go limits each of its REST clients: one per kind for reads and status writes, one per kind for the applies; about 45 writes bring up one instance, none keep it); negative leaves the limit to the API server's priority and fairness alone.")
	fs.IntVar(&f.Burst, "kube-api-burst", 400, "Requests the manager may send the API server in a burst above --kube-api-qps, for each kind of object as --kube-api-qps.")
	fs.StringVar(&f.MemoryLimit, "memory-limit", "",
		"The container's memory limit (a quantity such as 512Mi, or bytes; the chart passes limits.memory). The Go runtime's memory limit is set a tenth below it, at least 64Mi below, so that the garbage collector works harder before the container is killed; an explicit GOMEMLIMIT wins. Empty sets none.")
	fs.DurationVar(&f.SyncPeriod, "cache-sync-period", 10*time.Hour,
		"How often the informers hand every cached object to the controllers again (a full resync), plus up to a tenth for spread; an unchanged instance's resync writes nothing and asks Vault nothing.")
	fs.StringVar(&f.PprofAddress, "pprof-bind-address", "", "Address net/http/pprof is served on, for profiling (e.g. 127.0.0.1:6060); empty serves none.")
	fs.StringVar(&f.WatchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces the operator manages helpdesks in (it then needs Roles only there); empty manages every namespace.")
	f.Controllers.BindFlags(fs)
	f.Logging.BindFlags(fs)
}

// RunManager parses args and runs the manager until ctx ends.
func RunManager(ctx context.Context, args []string, stderr io.Writer) error {
	var f ManagerFlags
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: helpdesk-operator manager [flags]\n\nEvery flag can also be set as an environment variable: --helpy-image as %s.\n\n", EnvName("helpy-image"))
		fs.PrintDefaults()
	}
	f.Bind(fs)
	if err := applyEnvironment(fs, os.LookupEnv); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	return f.Run(ctx)
}

// EnvPrefix starts the environment variable that stands in for each flag: --helpy-image
// is HELPDESK_HELPY_IMAGE. A flag on the command line wins over its variable.
const EnvPrefix = "HELPDESK_"

// EnvName is the environment variable of a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnvironment sets every flag whose variable is present, before the command line is
// parsed, so that Deployments and GitOps overlays can configure the operator with env.
func applyEnvironment(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if value, ok := lookup(EnvName(f.Name)); ok {
			if err := f.Value.Set(value); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q (for --%s): %w", EnvName(f.Name), value, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Run runs the manager with these settings until ctx ends.
func (f *ManagerFlags) Run(ctx context.Context) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.Logging)))
	log := ctrl.Log.WithName("setup")
	if err := applyMemoryLimit(f.MemoryLimit, os.Getenv("GOMEMLIMIT"), log); err != nil {
		return err
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("finding the cluster (in-cluster config or KUBECONFIG): %w", err)
	}
	cfg.QPS, cfg.Burst = float32(f.QPS), f.Burst
	metrics := metricsserver.Options{BindAddress: f.MetricsAddress, SecureServing: f.SecureMetrics}
	if f.SecureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if err := f.MetricsTLS.apply(&metrics); err != nil {
		return err
	}
	var watch []string
	for _, ns := range strings.Split(f.WatchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			watch = append(watch, ns)
		}
	}
	// CloudNativePG's and the exposure's kinds whose CRDs are installed are cached like the
	// other children (controllers/preflight.go).
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("building the API client: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return fmt.Errorf("discovering the cluster's API kinds: %w", err)
	}
	cacheOpts := controllers.CacheOptions(watch, controllers.InstalledOptionalKinds(mapper)...)
	if f.SyncPeriod > 0 {
		cacheOpts.SyncPeriod = &f.SyncPeriod
	}
	opts := ctrl.Options{
		Scheme:                  scheme.New(),
		Cache:                   cacheOpts,
		Client:                  controllers.ClientOptions(),
		Metrics:                 metrics,
		PprofBindAddress:        f.PprofAddress,
		HealthProbeBindAddress:  f.ProbeAddress,
		LeaderElection:          f.LeaderElection,
		LeaderElectionID:        f.LeaderElectionID,
		LeaderElectionNamespace: f.LeaderElectionNS,
		// The manager exits right after losing the lease, so stepping down early is safe
		// and makes hand-overs fast.
		LeaderElectionReleaseOnCancel: true,
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.Setup(ctx, mgr, f.Controllers); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	log.Info("starting the manager", "version", version.String(), "leaderElection", f.LeaderElection, "metrics", f.MetricsAddress, "watchNamespaces", watch)
	return mgr.Start(ctx)
}
