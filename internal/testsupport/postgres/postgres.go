// Package postgres runs a real PostgreSQL server (Debian's postgresql 15 package) for tests,
// on a temporary folder and a free loopback port, with a password-protected superuser.
//
// initdb and postgres refuse to run as root, and CI runs tests as root, so when the test
// process is root the server runs as the `postgres` system user (created when missing) in a
// folder that user owns. `.ci/run` installs the package when it is missing.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

const (
	// The server starts in about a second; the margin covers a loaded 2-core machine.
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
	// Major is the PostgreSQL major version the harness runs, and whose client tools BinDir holds.
	Major = "15"
)

// Server is one running PostgreSQL server.
type Server struct {
	Host     string
	Port     int
	User     string
	Password string
	// Dir holds the data folder and postgres.log.
	Dir string

	binDir string
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// Start starts a server and registers tb.Cleanup to stop it and remove its folder.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return proc.ForTest(tb, "postgres harness", StartMain)
}

// StartMain is Start for TestMain, which has no testing.TB: call stop when done.
func StartMain() (*Server, func(), error) {
	binDir, err := findBinDir()
	if err != nil {
		return nil, nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "pgharness-")
	if err != nil {
		return nil, nil, err
	}
	// The server user (postgres when we are root) must reach its data folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	srv := &Server{Host: "127.0.0.1", User: "postgres", Password: proc.RandomHex(16), Dir: dir, binDir: binDir}
	if err := srv.start(cred); err != nil {
		srv.stop()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return srv, func() { srv.stop(); os.RemoveAll(dir) }, nil
}

// BinDir is the folder with initdb, postgres, pg_dump and pg_restore of the server's major version.
func (s *Server) BinDir() string { return s.binDir }

// LogPath is the server's log file.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "postgres.log") }

// DSN is a connection URL for database db as the superuser.
func (s *Server) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.User, s.Password),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database name (owned by the superuser).
func (s *Server) CreateDatabase(tb testing.TB, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		tb.Fatalf("postgres harness: connecting to create database %s: %v", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("postgres harness: CREATE DATABASE %s: %v", name, err)
	}
}

func (s *Server) start(cred *syscall.Credential) error {
	data := filepath.Join(s.Dir, "data")
	pwfile := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(s.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	initdb := exec.Command(filepath.Join(s.binDir, "initdb"), "-D", data, "-U", s.User, "--pwfile", pwfile,
		"--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := initdb.CombinedOutput()
	os.Remove(pwfile)
	if err != nil {
		return fmt.Errorf("initdb failed: %w\n%s", err, out)
	}
	// Another process can take the free port between our probe and the server's bind:
	// then try another port, a bounded number of times.
	for attempt := 1; ; attempt++ {
		err := s.launch(data, cred)
		if err == nil || attempt == 3 || !strings.Contains(proc.LogTail(s.LogPath(), 30), "could not bind") {
			return err
		}
	}
}

func (s *Server) launch(data string, cred *syscall.Credential) error {
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	s.Port = port
	logFile, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// Durability settings are off: test data is thrown away, and fsync on a shared 2-core
	// machine only slows tests. Unix sockets are off so nothing outside the folder is touched.
	s.cmd = exec.Command(filepath.Join(s.binDir, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=50", "-c", "shared_buffers=64MB")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	return s.waitReady()
}

// waitReady polls with a bounded deadline until the server accepts a login.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited while starting; see %s:\n%s", s.LogPath(), proc.LogTail(s.LogPath(), 30))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		lastErr = err
		select {
		case <-s.exited:
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("postgres did not accept connections within %s (last error: %w); see %s", startTimeout, lastErr, s.LogPath())
}

// stop asks for a fast shutdown and kills the server if it does not finish in time.
func (s *Server) stop() {
	s.once.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
	})
}

// findBinDir finds Debian's server binaries, else follows /usr/local/bin/initdb.
func findBinDir() (string, error) {
	candidates := []string{"/usr/lib/postgresql/" + Major + "/bin"}
	if p, err := filepath.EvalSymlinks("/usr/local/bin/initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		ok := true
		for _, name := range []string{"initdb", "postgres", "pg_ctl", "pg_dump", "pg_restore"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				ok = false
			}
		}
		if ok {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL %s server binaries not found in %s: install them with `apt-get install -y postgresql`", Major, strings.Join(candidates, ", "))
}

// serverCredential is nil when we are not root; as root it is the postgres system user,
// created when missing, because initdb refuses to run as root.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return nil, err
		}
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("creating the postgres system user to run the server as (initdb refuses root): %w: %s", err, out)
		}
		if u, err = user.Lookup("postgres"); err != nil {
			return nil, err
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
