package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// operatorProcess is the manager, run as `helpdesk-operator manager` in its own process
// so that its memory is its own.
type operatorProcess struct {
	cmd                   *exec.Cmd
	metrics, pprof, probe string
	log                   *os.File
	exited                chan struct{}

	mu      sync.Mutex
	peakRSS int64 // bytes, sampled
	stopRSS chan struct{}
}

type operatorSettings struct {
	binary     string
	kubeconfig string
	vaultAddr  string
	vaultToken string
	workers    int
	resync     time.Duration
	extraArgs  []string
	logPath    string
	// memoryLimit is the manager's --memory-limit ("" for none).
	memoryLimit string
}

func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startOperator(ctx context.Context, s operatorSettings) (*operatorProcess, error) {
	p := &operatorProcess{exited: make(chan struct{}), stopRSS: make(chan struct{})}
	var err error
	for _, addr := range []*string{&p.metrics, &p.pprof, &p.probe} {
		if *addr, err = freeAddress(); err != nil {
			return nil, err
		}
	}
	args := append([]string{"manager",
		"--leader-elect=false",
		"--metrics-bind-address=" + p.metrics, "--metrics-secure=false",
		"--health-probe-bind-address=" + p.probe,
		"--pprof-bind-address=" + p.pprof,
		"--vault-address=" + s.vaultAddr, "--vault-dev-bootstrap",
		"--operator-image=" + operatorImage,
		"--helpy-image=" + helpyImage,
		"--instance-workers=" + strconv.Itoa(s.workers),
		"--cache-sync-period=" + s.resync.String(),
		"--zap-log-level=error",
	}, s.extraArgs...)
	if p.log, err = os.Create(s.logPath); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(s.binary, args...) //nolint:gosec // the binary the script built
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "VAULT_TOKEN="+s.vaultToken, "VAULT_ADDR=", "VAULT_AUTH_METHOD=token")
	if s.memoryLimit != "" {
		p.cmd.Env = append(p.cmd.Env, "HELPDESK_MEMORY_LIMIT="+s.memoryLimit)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	go p.sampleRSS()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("the manager exited at start; see %s", s.logPath)
		default:
		}
		resp, err := http.Get("http://" + p.probe + "/readyz") //nolint:noctx // local probe
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("the manager was not ready within 2 minutes; see %s", s.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampleRSS records the largest resident set seen; /proc's VmHWM gives the true peak at
// the end, the samples say when it happened.
func (p *operatorProcess) sampleRSS() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stopRSS:
			return
		case <-p.exited:
			return
		case <-t.C:
			if rss, _, err := p.memory(); err == nil {
				p.mu.Lock()
				p.peakRSS = max(p.peakRSS, rss)
				p.mu.Unlock()
			}
		}
	}
}

// memory reads the process's current and peak resident set size, in bytes.
func (p *operatorProcess) memory() (rss, hwm int64, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

func (p *operatorProcess) stop() {
	close(p.stopRSS)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.log.Close()
}

// metricsSnapshot is what the manager's /metrics says of its API requests and reconciles.
type metricsSnapshot struct {
	// writes counts the manager's API requests other than GET (rest_client_requests_total).
	writes int64
	// byMethod counts them by method.
	byMethod map[string]int64
	// reconciles of the instance controller.
	reconciles int64
}

func (p *operatorProcess) scrape() (metricsSnapshot, error) {
	s := metricsSnapshot{byMethod: map[string]int64{}}
	resp, err := http.Get("http://" + p.metrics + "/metrics") //nolint:noctx // local endpoint
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "rest_client_requests_total{"):
			method := label(line, "method")
			if method == "GET" {
				continue
			}
			n := value(line)
			s.writes += n
			s.byMethod[method] += n
		case strings.HasPrefix(line, "controller_runtime_reconcile_total{") && label(line, "controller") == "helpdeskinstance":
			s.reconciles += value(line)
		}
	}
	return s, sc.Err()
}

func label(line, name string) string {
	_, rest, ok := strings.Cut(line, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func value(line string) int64 {
	i := strings.LastIndexByte(line, ' ')
	f, _ := strconv.ParseFloat(line[i+1:], 64)
	return int64(f)
}

// saveMetrics saves the manager's whole /metrics text: its workqueue, reconcile and
// client latency histograms tell where convergence waits.
func (p *operatorProcess) saveMetrics(file string) error {
	resp, err := http.Get("http://" + p.metrics + "/metrics") //nolint:noctx // local endpoint
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return saveTo(file, resp.Body)
}

// profile saves a pprof profile of the manager (path e.g. "profile?seconds=30", "heap").
func (p *operatorProcess) profile(ctx context.Context, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.pprof+"/debug/pprof/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return saveTo(file, resp.Body)
}

// saveAPIMetrics saves the API server's whole /metrics text: its request durations by
// verb and resource say which requests cost the server most.
func saveAPIMetrics(ctx context.Context, w *world, file string) error {
	return saveFromAPIServer(ctx, w, "/metrics", file)
}

// saveFromAPIServer saves what the API server answers at path (its metrics, a profile).
func saveFromAPIServer(ctx context.Context, w *world, path, file string) error {
	body, err := fromAPIServer(ctx, w, path)
	if err != nil {
		return err
	}
	defer body.Close()
	return saveTo(file, body)
}

// saveTo writes body to file (the bench's profiles and metrics texts).
func saveTo(file string, body io.Reader) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fromAPIServer(ctx context.Context, w *world, path string) (io.ReadCloser, error) {
	hc, err := rest.HTTPClientFor(w.config)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(w.config.Host, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("the API server's %s: %s", path, resp.Status)
	}
	return resp.Body, nil
}

// readKey keys the API server's GET, LIST and WATCH requests by resource, and the watchers
// it closed because their client read too slowly (each one a new watch, often a new
// LIST): the reads whose cost grows with the number of objects.
func readKey(line string) string {
	switch {
	case strings.HasPrefix(line, "apiserver_request_total{"):
		if verb := label(line, "verb"); verb == "GET" || verb == "LIST" || verb == "WATCH" {
			return verb + " " + label(line, "resource")
		}
	case strings.HasPrefix(line, "apiserver_terminated_watchers_total{"):
		return "terminated-watchers " + label(line, "resource")
	}
	return ""
}

// writeKey keys the API server's write requests by verb and resource
// (apiserver_request_total): unlike the manager's own counter it names what was written,
// and it counts every client (the harness writes too while it plays the controllers).
func writeKey(line string) string {
	if !strings.HasPrefix(line, "apiserver_request_total{") {
		return ""
	}
	switch verb := label(line, "verb"); verb {
	case "GET", "LIST", "WATCH", "CONNECT":
		return ""
	default:
		key := verb + " " + label(line, "resource")
		if sub := label(line, "subresource"); sub != "" {
			key += "/" + sub
		}
		return key
	}
}

// apiWrites counts the API server's write requests (writeKey).
func apiWrites(ctx context.Context, w *world) (map[string]int64, error) {
	counts, err := countMetrics(ctx, w, writeKey)
	if err != nil {
		return nil, err
	}
	return counts[0], nil
}

// countMetrics reads the API server's /metrics once and, for each keyOf, sums the samples
// under the key it gives each line ("" skips it).
func countMetrics(ctx context.Context, w *world, keyOf ...func(line string) string) ([]map[string]int64, error) {
	body, err := fromAPIServer(ctx, w, "/metrics")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	out := make([]map[string]int64, len(keyOf))
	for i := range out {
		out[i] = map[string]int64{}
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for i, key := range keyOf {
			if k := key(line); k != "" {
				out[i][k] += value(line)
			}
		}
	}
	return out, sc.Err()
}
