// Package vaultdev runs a real Vault server for tests. Unlike `vault server -dev` it keeps its
// state in integrated (raft) storage, so a test can stop Vault (to see the operator cope with
// an outage) and start it again with the same keys, policies, KV data and tokens.
//
// hack/test-binaries.sh builds Vault with its `minimal` build tag, which leaves the
// Kubernetes auth method out, and puts that method, Vault's own plugin, into plugins/ next to
// the binary: the server then loads it from there and registers it in its catalog as
// "kubernetes", so that enabling the method works as on a full Vault. A Vault binary with no
// plugins/ folder is taken to link the method in.
package vaultdev

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"golang.org/x/sys/unix"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

const (
	// Vault starts in well under a second here; the margin covers a loaded 2-core machine.
	startTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
)

// Server is one Vault process with its state folder. Its methods are safe for concurrent use.
type Server struct {
	// Addr is the server's URL, http://127.0.0.1:PORT (or the StartMainOn address); it
	// stays the same across Restart.
	Addr string
	// RootToken is the root token from the one-time init; it stays valid across Restart.
	RootToken string
	// UnsealKey is the single unseal key share, needed after every start.
	UnsealKey string
	// Dir holds the config, the storage backend and vault.log.
	Dir string

	binary string
	host   string
	port   int
	mu     sync.Mutex
	proc   *process
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, set before exited is closed
}

// Start starts a real Vault server on a free 127.0.0.1 port and registers tb.Cleanup to
// stop it and remove its folder. A missing binary fails the test with the build hint.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return proc.ForTest(tb, "vaultdev", StartMain)
}

// StartMain is Start for TestMain, which has no testing.TB: call stop when done.
func StartMain() (srv *Server, stop func(), err error) { return StartMainOn("127.0.0.1", 0) }

// StartMainOn is StartMain listening on another local address than 127.0.0.1, e.g. the
// node address of the end-to-end cluster, so that pods reach Vault, and on port (0: a
// free one).
func StartMainOn(host string, port int) (srv *Server, stop func(), err error) {
	binary, err := binaries.Vault()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(stateRoot(), "vaultdev-")
	if err != nil {
		return nil, nil, err
	}
	// Another process may take the free port before Vault binds it; a new port fixes that.
	for attempt := 0; attempt < 3; attempt++ {
		srv = &Server{Dir: dir, binary: binary, host: host, port: port}
		if err = srv.firstStart(); err == nil {
			return srv, func() { _ = srv.Stop(); _ = os.RemoveAll(dir) }, nil
		}
		_ = srv.Stop()
		if port != 0 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, nil, err
}

// LogPath is the file Vault's output goes to; it accumulates across restarts.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "vault.log") }

// Client returns a client authenticated with the root token. It ignores VAULT_* variables
// from the environment so a developer's shell cannot point tests at another Vault.
func (s *Server) Client(tb testing.TB) *vaultapi.Client {
	tb.Helper()
	client, err := s.newClient()
	if err != nil {
		tb.Fatalf("vaultdev: %v", err)
	}
	return client
}

func (s *Server) newClient() (*vaultapi.Client, error) {
	cfg := vaultapi.DefaultConfig()
	cfg.Address = s.Addr
	cfg.MaxRetries = 0
	cfg.Timeout = 10 * time.Second
	client, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a client for %s: %w", s.Addr, err)
	}
	client.ClearNamespace()
	client.SetToken(s.RootToken)
	return client, nil
}

// Stop kills the Vault process group and waits for it to exit: Vault is unreachable after.
// Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	// SIGTERM lets Vault close its storage cleanly; SIGKILL bounds the wait.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	// Children in the group (plugins) die with it.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	return nil
}

// Restart starts Vault again on the same port with the same storage and unseals it, so
// keys, policies, KV data and tokens (RootToken included) survive.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	if err := s.launch(); err != nil {
		return err
	}
	return s.unseal()
}

func (s *Server) firstStart() error {
	port := s.port
	if port == 0 {
		var err error
		if port, err = proc.FreePortOn(s.host); err != nil {
			return err
		}
	}
	// Raft and request forwarding listen here; Vault requires it with integrated storage.
	clusterPort, err := proc.FreePortOn(s.host)
	if err != nil {
		return err
	}
	listen := net.JoinHostPort(s.host, strconv.Itoa(port))
	clusterListen := net.JoinHostPort(s.host, strconv.Itoa(clusterPort))
	s.Addr = "http://" + listen
	dataDir := filepath.Join(s.Dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	plugins, err := pluginDir(s.binary)
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`storage "raft" {
  path                   = %q
  node_id                = "vaultdev"
  performance_multiplier = 1
}
listener "tcp" {
  address         = %q
  cluster_address = %q
  tls_disable     = true
}
api_addr      = %q
cluster_addr  = %q
disable_mlock = true
ui            = false
log_level     = "info"
`, dataDir, listen, clusterListen, s.Addr, "https://"+clusterListen)
	if plugins != "" {
		config += fmt.Sprintf("plugin_directory = %q\n", plugins)
	}
	if err := os.WriteFile(s.configPath(), []byte(config), 0o600); err != nil {
		return err
	}
	if err := s.launch(); err != nil {
		return err
	}
	client, err := s.newClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// One share is enough for tests and lets a single call unseal after each restart.
	init, err := client.Sys().InitWithContext(ctx, &vaultapi.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return s.failure("initializing Vault", err)
	}
	s.RootToken = init.RootToken
	s.UnsealKey = init.KeysB64[0]
	if err := s.unseal(); err != nil {
		return err
	}
	if plugins == "" {
		return nil
	}
	return s.registerKubernetesAuth(ctx, plugins)
}

// stateRoot is where a server's folder goes: /dev/shm when there is one. Raft syncs every
// write to disk; with the state on disk, one hack/bench-scale baseline at N=1000 took 204 s
// where earlier ones on the file backend took 90-97 s (later ones with the state here took
// 148-189 s, so the machine's day counts too). On tmpfs a sync costs nothing, and a test's
// Vault state is thrown away anyway.
func stateRoot() string {
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() && unix.Access("/dev/shm", unix.W_OK) == nil {
		return "/dev/shm"
	}
	return ""
}

// kubernetesAuthPlugin is the file name hack/test-binaries.sh gives Vault's Kubernetes auth
// plugin in plugins/.
const kubernetesAuthPlugin = "vault-plugin-auth-kubernetes"

// pluginDir is the plugins/ folder next to binary, with symlinks resolved (Vault refuses a
// symlinked plugin directory), or "" when binary has none.
func pluginDir(binary string) (string, error) {
	dir := filepath.Join(filepath.Dir(binary), "plugins")
	if _, err := os.Stat(filepath.Join(dir, kubernetesAuthPlugin)); errors.Is(err, os.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(dir)
}

// registerKubernetesAuth puts the Kubernetes auth plugin into Vault's catalog under the
// name a full build gives the built-in method, so `type: kubernetes` mounts it. The catalog
// lives in storage: it survives Restart.
func (s *Server) registerKubernetesAuth(ctx context.Context, plugins string) error {
	binary, err := os.ReadFile(filepath.Join(plugins, kubernetesAuthPlugin))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(binary)
	client, err := s.newClient()
	if err != nil {
		return err
	}
	if err := client.Sys().RegisterPluginWithContext(ctx, &vaultapi.RegisterPluginInput{
		Name: "kubernetes", Type: vaultapi.PluginTypeCredential, Command: kubernetesAuthPlugin, SHA256: hex.EncodeToString(sum[:]),
	}); err != nil {
		return s.failure("registering the Kubernetes auth plugin", err)
	}
	return nil
}

func (s *Server) configPath() string { return filepath.Join(s.Dir, "vault.hcl") }

// launch starts the process and waits until it answers HTTP (sealed or not).
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("vaultdev: Vault is already running")
	}
	logFile, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(s.binary, "server", "-config", s.configPath())
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group so Stop kills Vault and any plugin it spawned; Pdeathsig so a test
	// binary killed by a timeout does not leave Vault behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.binary, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	s.proc = p

	deadline := time.Now().Add(startTimeout)
	httpClient := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.exited:
			s.proc = nil
			return s.failure("starting Vault", fmt.Errorf("process exited: %w", p.err))
		default:
		}
		resp, err := httpClient.Get(s.Addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return s.failure("starting Vault", fmt.Errorf("no answer on %s within %s: %w", s.Addr, startTimeout, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unseal unseals and waits until Vault is active, i.e. serves requests.
func (s *Server) unseal() error {
	client, err := s.newClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := client.Sys().UnsealWithContext(ctx, s.UnsealKey); err != nil {
		return s.failure("unsealing Vault", err)
	}
	for {
		health, err := client.Sys().HealthWithContext(ctx)
		if err == nil && health.Initialized && !health.Sealed && !health.Standby {
			return nil
		}
		if ctx.Err() != nil {
			return s.failure("waiting for Vault to become active", fmt.Errorf("%w (last error: %w)", ctx.Err(), err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) failure(what string, err error) error {
	return fmt.Errorf("%s at %s: %w\nlast lines of %s:\n%s", what, s.Addr, err, s.LogPath(), proc.LogTail(s.LogPath(), 40))
}

// cleanEnv drops VAULT_* so a developer's settings cannot change the test server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") {
			env = append(env, kv)
		}
	}
	return env
}
