// Command benchscale measures the operator at N tenants against the plain-client
// baseline on a test API server (envtest) and a Vault server; hack/bench-scale runs it.
// For each N it starts a fresh API server and Vault for the baseline, then fresh ones for
// the operator (the real manager, `helpdesk-operator manager`, in its own process), and
// measures convergence, an idle resync, one AccessPolicy change and the manager's memory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/controllers"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

type config struct {
	sizes      []int
	workers    int
	resync     time.Duration
	binary     string
	workDir    string
	profileDir string
	maxLoad    float64
	loadWait   time.Duration
	converge   time.Duration
	extraArgs  []string
	// memoryLimit is the manager's container memory limit (its --memory-limit), as the chart
	// passes it; the manager sets its GOMEMLIMIT below it. The API server, etcd, Vault and
	// the bench itself never get a limit.
	memoryLimit string
	// bracket runs the baseline again after the operator, so that the ratio is taken
	// against the machine's speed on both sides of it.
	bracket bool
}

func main() {
	var c config
	var sizes, extra string
	flag.StringVar(&sizes, "n", "100,300,1000", "comma-separated numbers of instances")
	flag.IntVar(&c.workers, "workers", 4, "--instance-workers of the manager, and the baseline's concurrency")
	flag.DurationVar(&c.resync, "resync", 45*time.Second, "--cache-sync-period of the manager: the idle phase watches one full resync (10h in production)")
	flag.StringVar(&c.binary, "operator", "", "the helpdesk-operator binary to run as the manager (required)")
	flag.StringVar(&c.workDir, "work", os.TempDir(), "folder for kubeconfigs and the manager's logs")
	flag.StringVar(&c.profileDir, "profile-dir", "", "save the manager's and the API server's CPU profiles during convergence (and the API server's during the first baseline), the manager's /metrics and one instance when converged, and the manager's heap after the change, per N, here")
	flag.Float64Var(&c.maxLoad, "max-load", 0, "before each measurement wait until the 1-minute load average is below this (0: do not wait)")
	flag.DurationVar(&c.loadWait, "max-load-wait", time.Hour, "how long to wait for a quiet machine, in all")
	flag.DurationVar(&c.converge, "converge-timeout", 14*time.Minute, "how long the operator may take to bring every instance up")
	flag.StringVar(&c.memoryLimit, "manager-memory-limit", "", "the manager's container memory limit (e.g. 200Mi), its --memory-limit as the chart passes it; empty: none")
	flag.StringVar(&extra, "manager-args", "", "extra space-separated flags for the manager, e.g. --kube-api-qps=100")
	flag.BoolVar(&c.bracket, "bracket", true, "run the baseline again after the operator and take the ratio against the mean of both (the machine's speed can drift between minutes-long phases)")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "scale-bench: bad -n %q\n", sizes)
			os.Exit(2)
		}
		c.sizes = append(c.sizes, n)
	}
	c.extraArgs = strings.Fields(extra)
	if c.binary == "" {
		fmt.Fprintln(os.Stderr, "scale-bench: -operator is required")
		os.Exit(2)
	}
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "scale-bench: -profile-dir: %v\n", err)
			os.Exit(2)
		}
	}
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel), zap.WriteTo(os.Stderr)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "scale-bench:", err)
		os.Exit(1)
	}
}

// row is one N's results.
type row struct {
	n                  int
	baseline, operator time.Duration
	// baselines are the baseline's runs (before the operator, and after it when
	// bracketed); baseline and cpuBaseline are their mean.
	baselines                []time.Duration
	baselineWrites, opWrites int64
	idleWrites, idleVault    int64
	idleReconciles           int64
	change                   time.Duration
	changeWrites             int64
	changeVault              int64
	logins                   int64
	peakRSS, settledRSS      int64
	loadBaseline, loadOp     float64
	kindsMismatch            string
	// cpuBaseline and cpuOperator are the CPU seconds each process used while the
	// baseline ran and until the operator converged.
	cpuBaseline, cpuOperator cpuTimes
}

// keptOrSaid says when a profile or metrics file could not be saved (the run goes on).
func keptOrSaid(err error) {
	if err != nil {
		logf("could not save a profile or metrics file: %v", err)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scale-bench: [%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, c config) error {
	waited := time.Duration(0)
	var rows []row
	for _, n := range c.sizes {
		r := row{n: n}
		var err error
		r.loadBaseline, err = waitForQuiet(ctx, c, &waited)
		if err != nil {
			return err
		}
		kinds, first, err := measureBaseline(ctx, c, n, beforeOperator)
		if err != nil {
			return fmt.Errorf("baseline at N=%d: %w", n, err)
		}
		runs := []baselineRun{first}
		r.loadOp, err = waitForQuiet(ctx, c, &waited)
		if err != nil {
			return err
		}
		if err := measureOperator(ctx, c, n, kinds, &r); err != nil {
			if len(rows) > 0 {
				report(c, rows)
			}
			return fmt.Errorf("operator at N=%d: %w", n, err)
		}
		if c.bracket {
			if _, err := waitForQuiet(ctx, c, &waited); err != nil {
				return err
			}
			_, second, err := measureBaseline(ctx, c, n, afterOperator)
			if err != nil {
				return fmt.Errorf("baseline at N=%d, after the operator: %w", n, err)
			}
			runs = append(runs, second)
		}
		r.setBaseline(runs)
		rows = append(rows, r)
	}
	report(c, rows)
	return nil
}

// baselineRun is one run of the baseline.
type baselineRun struct {
	elapsed time.Duration
	writes  int64
	cpu     cpuTimes
}

// When a baseline runs: its logs say which, and only the first one's API metrics are saved.
const (
	beforeOperator = "before the operator"
	afterOperator  = "after the operator"
)

func measureBaseline(ctx context.Context, c config, n int, when string) (map[string]int, baselineRun, error) {
	w, err := startWorld(ctx, c.workDir)
	if err != nil {
		return nil, baselineRun{}, err
	}
	defer w.stop()
	load, _ := loadAverage()
	logf("N=%d baseline (%s): plain client, %d workers, server-side apply of the rendered children, Vault writes (load %.2f)", n, when, c.workers, load)
	cpu0, err := readCPUTimes()
	if err != nil {
		return nil, baselineRun{}, err
	}
	var profWG sync.WaitGroup
	profCtx, stopProf := context.WithCancel(ctx)
	defer stopProf()
	if c.profileDir != "" && when == beforeOperator {
		profileUntil(profCtx, &profWG, apiServerProfiles(w, c.profileDir, fmt.Sprintf("baseline-%d", n)))
	}
	res, err := runBaseline(ctx, w, n, c.workers)
	stopProf()
	profWG.Wait()
	if err != nil {
		return nil, baselineRun{}, err
	}
	run := baselineRun{elapsed: res.elapsed, writes: res.writes}
	if cpu1, err := readCPUTimes(); err == nil {
		run.cpu = cpu1.since(cpu0)
		logf("N=%d baseline (%s): CPU seconds by process: %s (%.0f%% of the machine)", n, when, run.cpu, 100*run.cpu.total()/(float64(runtime.NumCPU())*res.elapsed.Seconds()))
	}
	if c.profileDir != "" && when == beforeOperator {
		keptOrSaid(saveAPIMetrics(ctx, w, filepath.Join(c.profileDir, fmt.Sprintf("apiserver-baseline-%d.txt", n))))
	}
	logf("N=%d baseline (%s): %.2fs, %d API writes, children per kind %v", n, when, res.elapsed.Seconds(), res.writes, res.perKind)
	return res.perKind, run, nil
}

// saveConvergedInstance saves one converged instance as the API server stores it, with
// its managedFields: the object whose status writes cost the API server most of the
// operator's extra CPU, and whose size they follow.
func saveConvergedInstance(ctx context.Context, w *world, file string) error {
	inst := &v1alpha1.HelpdeskInstance{}
	if err := w.client.Get(ctx, client.ObjectKeyFromObject(instance(0)), inst); err != nil {
		return err
	}
	body, err := json.MarshalIndent(inst, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

// profileUntil runs save, for profiles numbered from 0, back to back until ctx ends.
func profileUntil(ctx context.Context, wg *sync.WaitGroup, save func(ctx context.Context, k int)) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ctx.Err() == nil; k++ {
			save(ctx, k)
		}
	}()
}

// apiServerProfiles saves the API server's 15-second CPU profiles as
// apiserver-cpu-<phase>-<k>.pprof in dir.
func apiServerProfiles(w *world, dir, phase string) func(ctx context.Context, k int) {
	return func(ctx context.Context, k int) {
		_ = saveFromAPIServer(ctx, w, "/debug/pprof/profile?seconds=15", filepath.Join(dir, fmt.Sprintf("apiserver-cpu-%s-%02d.pprof", phase, k)))
	}
}

// setBaseline takes the mean of the baseline's runs, in time and in CPU per process.
func (r *row) setBaseline(runs []baselineRun) {
	var sum time.Duration
	cpu := cpuTimes{}
	withCPU := 0
	for _, run := range runs {
		r.baselines = append(r.baselines, run.elapsed)
		sum += run.elapsed
		if run.cpu != nil {
			withCPU++
			for name, s := range run.cpu {
				cpu[name] += s
			}
		}
	}
	r.baseline, r.baselineWrites = sum/time.Duration(len(runs)), runs[0].writes
	if withCPU == len(runs) {
		for name := range cpu {
			cpu[name] /= float64(withCPU)
		}
		r.cpuBaseline = cpu
	}
}

// drift is how far the baseline's runs are apart, relative to their mean (0 for one run):
// how much the machine's speed moved while the operator was measured.
func (r row) drift() float64 {
	if len(r.baselines) < 2 || r.baseline <= 0 {
		return 0
	}
	lo, hi := slices.Min(r.baselines), slices.Max(r.baselines)
	return float64(hi-lo) / float64(r.baseline)
}

func measureOperator(ctx context.Context, c config, n int, kinds map[string]int, r *row) error {
	w, err := startWorld(ctx, c.workDir)
	if err != nil {
		return err
	}
	defer w.stop()
	proxy, err := startVaultProxy(w.vault.Addr)
	if err != nil {
		return err
	}
	defer proxy.close()
	kubeconfig, err := w.kubeconfig()
	if err != nil {
		return err
	}
	logPath := filepath.Join(c.workDir, fmt.Sprintf("manager-%d.log", n))
	op, err := startOperator(ctx, operatorSettings{binary: c.binary, kubeconfig: kubeconfig, vaultAddr: proxy.URL, vaultToken: w.vault.RootToken,
		workers: c.workers, resync: c.resync, extraArgs: c.extraArgs, logPath: logPath, memoryLimit: c.memoryLimit})
	if err != nil {
		return err
	}
	defer op.stop()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := startPlayer(pctx, w, n)
	if err != nil {
		return err
	}
	_, startRSS, _ := op.memory()
	logf("N=%d operator: manager started (RSS %d MiB), creating %d instances at once (load %.2f)", n, startRSS>>20, n, r.loadOp)

	m0, err := op.scrape()
	if err != nil {
		return err
	}
	before, err := countMetrics(ctx, w, writeKey, readKey)
	if err != nil {
		return err
	}
	var profWG sync.WaitGroup
	profCtx, stopProf := context.WithCancel(ctx)
	defer stopProf()
	if c.profileDir != "" {
		// CPU profiles until convergence, of the manager and of the API server (most of the
		// machine's CPU goes to the latter); merge them with go tool pprof -proto
		// cpu-converge-N-*.pprof, and compare the API server's with the baseline's by
		// -diff_base.
		profileUntil(profCtx, &profWG, func(ctx context.Context, k int) {
			_ = op.profile(ctx, "profile?seconds=15", filepath.Join(c.profileDir, fmt.Sprintf("cpu-converge-%d-%02d.pprof", n, k)))
		})
		profileUntil(profCtx, &profWG, apiServerProfiles(w, c.profileDir, fmt.Sprintf("converge-%d", n)))
	}
	cpu0, err := readCPUTimes()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := createInstances(ctx, w.client, n); err != nil {
		return err
	}
	ok := waitProgress(ctx, p.readyDone, c.converge, func() {
		ready, _ := p.counts()
		logf("N=%d operator: %d of %d instances ready after %.0fs", n, ready, n, time.Since(start).Seconds())
	})
	r.operator = time.Since(start)
	if cpu1, err := readCPUTimes(); err == nil {
		r.cpuOperator = cpu1.since(cpu0)
		logf("N=%d operator: CPU seconds by process: %s (%.0f%% of the machine)", n, r.cpuOperator, 100*r.cpuOperator.total()/(float64(runtime.NumCPU())*r.operator.Seconds()))
	}
	stopProf()
	profWG.Wait()
	if !ok {
		ready, _ := p.counts()
		return fmt.Errorf("only %d of %d instances became ready in %s; see %s", ready, n, r.operator.Round(time.Second), logPath)
	}
	m1, _ := op.scrape()
	if c.profileDir != "" {
		keptOrSaid(op.saveMetrics(filepath.Join(c.profileDir, fmt.Sprintf("metrics-converge-%d.txt", n))))
		keptOrSaid(saveAPIMetrics(ctx, w, filepath.Join(c.profileDir, fmt.Sprintf("apiserver-converge-%d.txt", n))))
		keptOrSaid(saveConvergedInstance(ctx, w, filepath.Join(c.profileDir, fmt.Sprintf("instance-converged-%d.json", n))))
	}
	after, err := countMetrics(ctx, w, writeKey, readKey)
	if err != nil {
		return err
	}
	r.opWrites = m1.writes - m0.writes
	logf("N=%d operator: converged in %.2fs with %d API writes %v, %d instance reconciles, %d Vault requests since the manager started", n, r.operator.Seconds(), r.opWrites,
		diff(m1.byMethod, m0.byMethod), m1.reconciles-m0.reconciles, proxy.requests.Load())
	logf("N=%d operator: the API server's writes meanwhile (the harness's included) %v", n, diff(after[0], before[0]))
	logf("N=%d operator: the API server's GETs, LISTs, WATCHes and watchers closed for slowness meanwhile (the harness's included) %v", n, diff(after[1], before[1]))
	r.kindsMismatch = compareKinds(ctx, w.client, kinds)

	// Idle: once nothing moves, one full resync period (plus its jitter) must cost no write
	// and no Vault call, although every instance is reconciled again.
	// Longer than the policies' summary delay (5s), so that their last status write is in.
	settle(op, 12*time.Second, 2*time.Minute)
	m2, _ := op.scrape()
	a2, _ := apiWrites(ctx, w)
	v2 := proxy.requests.Load()
	window := c.resync + c.resync/5 + 5*time.Second
	logf("N=%d idle: watching %s (one --cache-sync-period of %s plus its jitter)", n, window, c.resync)
	sleep(ctx, window)
	m3, _ := op.scrape()
	r.idleWrites, r.idleVault, r.idleReconciles = m3.writes-m2.writes, proxy.requests.Load()-v2, m3.reconciles-m2.reconciles
	a3, _ := apiWrites(ctx, w)
	logf("N=%d idle: %d instance reconciles, %d API writes %v %v, %d Vault requests", n, r.idleReconciles, r.idleWrites, diff(m3.byMethod, m2.byMethod), diff(a3, a2), r.idleVault)
	if r.idleReconciles < int64(n) {
		logf("N=%d idle: WARNING: fewer reconciles than instances: the resync did not reach every instance in the window", n)
	}

	// One change: the AccessPolicy all instances use admits one more agent network.
	v3 := proxy.requests.Load()
	start = time.Now()
	if err := w.client.Patch(ctx, fixturePolicy(), client.RawPatch(types.JSONPatchType,
		[]byte(`[{"op":"add","path":"/spec/agentAllowedCIDRs/-","value":"`+changedCIDR+`"}]`))); err != nil {
		return err
	}
	ok = waitProgress(ctx, p.changedDone, 10*time.Minute, func() {
		_, changed := p.counts()
		logf("N=%d change: %d of %d instances re-rendered after %.0fs", n, changed, n, time.Since(start).Seconds())
	})
	r.change = time.Since(start)
	if !ok {
		return errors.New("the AccessPolicy change did not reach every instance")
	}
	settle(op, 12*time.Second, time.Minute)
	m4, _ := op.scrape()
	a4, _ := apiWrites(ctx, w)
	logf("N=%d change: the API server's writes %v", n, diff(a4, a3))
	r.changeWrites, r.changeVault = m4.writes-m3.writes, proxy.requests.Load()-v3
	logf("N=%d change: every instance re-rendered in %.2fs; %d API writes %v, %d Vault requests", n, r.change.Seconds(), r.changeWrites, diff(m4.byMethod, m3.byMethod), r.changeVault)

	var hwm int64
	r.settledRSS, hwm, _ = op.memory()
	op.mu.Lock()
	r.peakRSS = max(op.peakRSS, hwm)
	op.mu.Unlock()
	r.logins = proxy.logins.Load()
	if c.profileDir != "" {
		keptOrSaid(op.profile(ctx, "heap", filepath.Join(c.profileDir, fmt.Sprintf("heap-%d.pprof", n))))
	}
	logf("N=%d memory: peak RSS %d MiB, after the change %d MiB; Vault logins in the manager's life: %d", n, r.peakRSS>>20, r.settledRSS>>20, r.logins)
	return nil
}

func fixturePolicy() client.Object {
	objs, _ := policies()
	for _, o := range objs {
		if o.GetName() == accessPolicy {
			if _, ok := o.(*corev1.Secret); !ok {
				return o
			}
		}
	}
	panic("no access policy in the fixture")
}

func createInstances(ctx context.Context, c client.Client, n int) error {
	next := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := c.Create(ctx, instance(i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// settle waits until the manager has written nothing for quiet.
func settle(op *operatorProcess, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, _ := op.scrape()
	since := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		now, _ := op.scrape()
		if now.writes != last.writes {
			last, since = now, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return
		}
	}
	logf("WARNING: the manager kept writing for %s", limit)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func diff(a, b map[string]int64) string {
	var parts []string
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, d))
		}
	}
	slices.Sort(parts)
	return "(" + strings.Join(parts, " ") + ")"
}

// compareKinds counts the operator's children by kind and says how they differ from the
// baseline's; "" when they are the same.
func compareKinds(ctx context.Context, c client.Client, want map[string]int) string {
	managed := client.MatchingLabels{resources.LabelManagedBy: controllers.FieldManager}
	got := map[string]int{}
	for kind, list := range map[string]client.ObjectList{
		"NetworkPolicy": &networkingv1.NetworkPolicyList{}, "Cluster": &cnpgv1.ClusterList{}, "PersistentVolumeClaim": &corev1.PersistentVolumeClaimList{},
		"ServiceAccount": &corev1.ServiceAccountList{}, "ConfigMap": &corev1.ConfigMapList{}, "Secret": &corev1.SecretList{}, "Job": &batchv1.JobList{},
		"Deployment": &appsv1.DeploymentList{}, "PodDisruptionBudget": &policyv1.PodDisruptionBudgetList{}, "Service": &corev1.ServiceList{},
		"Ingress": &networkingv1.IngressList{}, "CronJob": &batchv1.CronJobList{},
	} {
		if err := c.List(ctx, list, client.InNamespace(benchNamespace), managed); err != nil {
			return err.Error()
		}
		if n := lenOf(list); n > 0 {
			got[kind] = n
		}
	}
	var diffs []string
	for k := range merge(got, want) {
		if got[k] != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s operator %d baseline %d", k, got[k], want[k]))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

func lenOf(list client.ObjectList) int {
	b, _ := json.Marshal(list)
	var v struct{ Items []json.RawMessage }
	_ = json.Unmarshal(b, &v)
	return len(v.Items)
}

func merge(a, b map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// waitForQuiet waits until the 1-minute load average is below c.maxLoad and returns it.
func waitForQuiet(ctx context.Context, c config, waited *time.Duration) (float64, error) {
	for {
		load, err := loadAverage()
		if err != nil || c.maxLoad <= 0 || load < c.maxLoad {
			return load, err
		}
		if *waited >= c.loadWait {
			logf("WARNING: the load stayed above %.2f for %s; measuring at %.2f anyway", c.maxLoad, c.loadWait, load)
			return load, nil
		}
		logf("load %.2f is above %.2f: waiting", load, c.maxLoad)
		sleep(ctx, 30*time.Second)
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		*waited += 30 * time.Second
	}
}

func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.Fields(string(b))[0], 64)
}

func report(c config, rows []row) {
	fmt.Println("scale-bench: the manager's informer cache holds: the five helpdesk kinds in full; every child kind (Cluster, Deployment, Job, CronJob,")
	fmt.Println("scale-bench: Service, ServiceAccount, ConfigMap, Ingress, NetworkPolicy, PodDisruptionBudget) only when labelled")
	fmt.Println("scale-bench: app.kubernetes.io/managed-by=helpdesk-operator; ConfigMaps, Services, ServiceAccounts, NetworkPolicies,")
	fmt.Println("scale-bench: PodDisruptionBudgets and CronJobs as metadata only; Secrets and PersistentVolumeClaims (policies name them) as")
	fmt.Println("scale-bench: metadata only, never Secret data; no object keeps its managedFields or kubectl's last-applied copy,")
	fmt.Println("scale-bench: nor a Deployment or Job its pod template or selector, nor a Cluster more than its readiness;")
	fmt.Println("scale-bench: repeated metadata strings are shared;")
	memLimit := c.memoryLimit
	if memLimit == "" {
		memLimit = "none (the chart passes the container's limit)"
	}
	fmt.Printf("scale-bench: --cache-sync-period=%s for the idle phase (production default 10h), --instance-workers=%d, leader election off, --memory-limit %s%s\n",
		c.resync, c.workers, memLimit, argsNote(c.extraArgs))
	fmt.Printf("scale-bench: %6s %10s %10s %8s %12s %12s %11s %10s %9s %13s %13s %7s %9s %9s %6s %6s\n",
		"N", "baseline_s", "operator_s", "ratio", "base_writes", "op_writes", "idle_writes", "vault_idle", "change_s", "change_writes", "change_vault", "logins", "rss_MiB", "rss_end", "load_b", "load_o")
	for _, r := range rows {
		fmt.Printf("scale-bench: %6d %10.2f %10.2f %7.2fx %12d %12d %11d %10d %9.2f %13d %13d %7d %9d %9d %6.2f %6.2f\n",
			r.n, r.baseline.Seconds(), r.operator.Seconds(), ratio(r), r.baselineWrites, r.opWrites, r.idleWrites, r.idleVault,
			r.change.Seconds(), r.changeWrites, r.changeVault, r.logins, r.peakRSS>>20, r.settledRSS>>20, r.loadBaseline, r.loadOp)
	}
	for _, r := range rows {
		if r.kindsMismatch != "" {
			fmt.Printf("scale-bench: N=%d children differ from the baseline's: %s\n", r.n, r.kindsMismatch)
		}
	}
	for _, r := range rows {
		if len(r.baselines) > 1 {
			runs := make([]string, len(r.baselines))
			for i, b := range r.baselines {
				runs[i] = fmt.Sprintf("%.2fs", b.Seconds())
			}
			fmt.Printf("scale-bench: N=%d baseline before and after the operator: %s, %.0f%% apart; baseline_s and the ratios are against their mean\n",
				r.n, strings.Join(runs, " and "), 100*r.drift())
			if r.drift() > maxDrift {
				fmt.Printf("scale-bench: N=%d WARNING: the machine's speed moved more than %.0f%% during the measurement; the ratio is uncertain by as much\n", r.n, 100*maxDrift)
			}
		}
	}
	for _, r := range rows {
		if r.cpuBaseline != nil && r.cpuOperator != nil {
			fmt.Printf("scale-bench: N=%d CPU seconds, baseline (mean of %d runs): %s; operator: %s; ratio %.2fx\n", r.n, len(r.baselines), r.cpuBaseline, r.cpuOperator, r.cpuOperator.total()/r.cpuBaseline.total())
		}
	}
	if len(rows) >= 2 {
		a, b := rows[0], rows[len(rows)-1]
		fmt.Printf("scale-bench: memory growth per instance: %.1f KiB (peak RSS, N=%d to N=%d)\n",
			float64(b.peakRSS-a.peakRSS)/1024/float64(b.n-a.n), a.n, b.n)
	}
	last := rows[len(rows)-1]
	fmt.Printf("scale-bench: N=%d converge %.2fx idle-writes %d vault-idle %d rss %d MiB\n", last.n, ratio(last), last.idleWrites, last.idleVault, last.peakRSS>>20)
}

// maxDrift is how far apart the two baselines may be before the bench warns that the
// machine's speed moved under the measurement.
const maxDrift = 0.10

func ratio(r row) float64 { return r.operator.Seconds() / r.baseline.Seconds() }

func argsNote(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return ", " + strings.Join(args, " ")
}
