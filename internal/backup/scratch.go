package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// A restore drill restores into a throwaway PostgreSQL server that it runs itself in the
// drill pod's scratch folder, never into the production server: the application's
// database role then needs no CREATEDB, and a drill can neither load nor fill production.
//
// The server is initdb'd in a new folder below the scratch folder, listens only on a Unix
// socket inside that folder (no TCP; the folder is 0700, so only this user reaches it,
// which is why trust authentication is safe), and runs without durability (fsync off,
// minimal WAL): it is thrown away after the drill, and stopped, killed and removed even
// when the drill fails or is cancelled.
//
// initdb (and the single-user backend it runs) looks the effective UID up in the user
// database and gives up when it is not there, which is the case of a pod running as an
// arbitrary UID (runAsUser: 1000) in an image without that user. Then, as PostgreSQL's own
// container images do, the drill runs initdb with nss_wrapper (LD_PRELOAD), pointed at a
// passwd file it writes in its folder; the image must then hold libnss_wrapper.so (Debian:
// libnss-wrapper), or list the UID in /etc/passwd. The running server and the client tools
// need no user entry.

const (
	scratchUser   = "postgres"
	scratchPort   = 5432
	scratchPrefix = "drill-"
	// Start and stop are quick; the margins cover a throttled pod.
	scratchStartTimeout = 2 * time.Minute
	scratchStopTimeout  = 20 * time.Second
	// sun_path holds 108 bytes with the terminating NUL.
	maxSocketPath = 107
)

// nssWrapperPaths are where distributions install nss_wrapper (a variable for tests).
var nssWrapperPaths = []string{
	"/usr/lib/x86_64-linux-gnu/libnss_wrapper.so",
	"/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
	"/usr/lib64/libnss_wrapper.so",
	"/usr/lib/libnss_wrapper.so",
}

// scratchServer is a running throwaway PostgreSQL server.
type scratchServer struct {
	dir    string // ours alone: data/, the socket, the passwd file
	binDir string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startScratch creates and starts a scratch server below scratchDir. out receives the raw
// output of initdb and the server when set (see Engine.ToolOutput).
func startScratch(ctx context.Context, scratchDir, binDir string, out io.Writer) (_ *scratchServer, err error) {
	if scratchDir == "" {
		return nil, errors.New("no scratch folder for the drill's PostgreSQL server: set --scratch-dir (an emptyDir)")
	}
	if st, err := os.Stat(scratchDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("scratch folder %s is not a folder: mount an emptyDir there", scratchDir)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			return nil, fmt.Errorf("%s not found in %q: set --pg-bin-dir to the folder of the PostgreSQL server programs (initdb, postgres, pg_restore), e.g. /usr/lib/postgresql/15/bin", name, binDir)
		}
	}
	// A drill killed earlier in the same pod (an emptyDir outlives a container restart)
	// left its folder; one drill runs per pod, so nothing else owns these.
	if old, _ := filepath.Glob(filepath.Join(scratchDir, scratchPrefix+"*")); len(old) > 0 {
		for _, o := range old {
			_ = os.RemoveAll(o)
		}
	}
	dir, err := os.MkdirTemp(scratchDir, scratchPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating the drill's folder in %s: %w", scratchDir, err)
	}
	s := &scratchServer{dir: dir, binDir: binDir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if n := len(s.socketPath()); n > maxSocketPath {
		return nil, fmt.Errorf("scratch folder %s is too deep for a Unix socket path (%d bytes, at most %d): use a shorter --scratch-dir", scratchDir, n, maxSocketPath)
	}
	cred, err := scratchCredential(scratchDir, dir)
	if err != nil {
		return nil, err
	}
	if err := s.initdb(ctx, cred, out); err != nil {
		return nil, err
	}
	if err := s.launch(ctx, cred, out); err != nil {
		return nil, err
	}
	return s, nil
}

// scratchEnv is all the environment initdb and the server get: C needs no installed
// locale, and UTC spares initdb its search for the system's zone.
var scratchEnv = []string{"LC_ALL=C", "TZ=UTC"}

func (s *scratchServer) data() string { return filepath.Join(s.dir, "data") }

// initdb creates the cluster, as cred (nil: as ourselves).
func (s *scratchServer) initdb(ctx context.Context, cred *syscall.Credential, out io.Writer) error {
	uid, gid := os.Geteuid(), os.Getegid()
	if cred != nil {
		uid, gid = int(cred.Uid), int(cred.Gid)
	}
	lookupEnv, err := s.userLookupEnv(uid, gid)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"), "--pgdata="+s.data(), "--username="+scratchUser,
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Env = append(slices.Clone(scratchEnv), lookupEnv...)
	tail := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = teeTo(tail, out), teeTo(tail, out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Cancelled: kill initdb with the backends it runs, which are in its process group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A fresh cluster holds no data yet, so initdb's messages are safe to put in the error.
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("creating the drill's PostgreSQL cluster (initdb) failed: %w: %s", err, tail)
	}
	return nil
}

// launch starts the server, as cred, and waits until it accepts connections.
func (s *scratchServer) launch(ctx context.Context, cred *syscall.Credential, out io.Writer) error {
	s.cmd = exec.Command(filepath.Join(s.binDir, "postgres"), "-D", s.data(), "-k", s.dir, "-p", strconv.Itoa(scratchPort),
		"-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "wal_level=minimal", "-c", "max_wal_senders=0", "-c", "autovacuum=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=10", "-c", "huge_pages=off",
		// Segments in the data folder, not /dev/shm, so a kill leaves nothing outside it.
		"-c", "dynamic_shared_memory_type=mmap")
	s.cmd.Env = scratchEnv
	// The server log can quote rows of a failing restore: it goes only to out, and until
	// the server is ready (no data yet) to the tail for a startup error.
	startTail := &tailBuffer{}
	startup := &switchWriter{w: startTail}
	s.cmd.Stdout, s.cmd.Stderr = teeTo(startup, out), teeTo(startup, out)
	// Its own process group, so stop kills the backends with it; killed with us, should we die.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return fmt.Errorf("starting the drill's PostgreSQL server: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx); err != nil {
		return fmt.Errorf("%w: %s", err, startTail)
	}
	startup.off()
	return nil
}

func (s *scratchServer) socketPath() string {
	return filepath.Join(s.dir, ".s.PGSQL."+strconv.Itoa(scratchPort))
}

// database is the scratch server's empty "postgres" database, the drill's restore target.
func (s *scratchServer) database() Database {
	return Database{Host: s.dir, Port: scratchPort, Name: "postgres", User: scratchUser, SSLMode: "disable", BinDir: s.binDir}
}

func (s *scratchServer) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(scratchStartTimeout)
	for {
		select {
		case <-s.exited:
			return errors.New("the drill's PostgreSQL server exited while starting")
		default:
		}
		if _, err := os.Stat(s.socketPath()); err == nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			conn, err := s.database().connect(pctx)
			cancel()
			if err == nil {
				conn.Close(ctx)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the drill's PostgreSQL server did not accept connections within %s", scratchStartTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.exited:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop shuts the server down (immediate shutdown, which also releases its shared memory),
// kills its whole process group if it lingers, and removes its folder. It runs whatever
// happened before, cancellation included, and bounds its own wait.
func (s *scratchServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		pgid := s.cmd.Process.Pid
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exited:
		case <-time.After(scratchStopTimeout):
		}
		// Backends the postmaster did not take down with it, or the postmaster itself.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	_ = os.RemoveAll(s.dir)
}

// scratchCredential is who the server runs as: ourselves, or, when we are root (which
// PostgreSQL refuses), the owner of the scratch folder, to whom dir is given.
func scratchCredential(scratchDir, dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	st, err := os.Stat(scratchDir)
	if err != nil {
		return nil, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == 0 {
		return nil, fmt.Errorf("the drill runs as root, which PostgreSQL refuses: run the pod as a non-root user (runAsUser), or give the scratch folder %s to one", scratchDir)
	}
	if err := os.Chown(dir, int(sys.Uid), int(sys.Gid)); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: sys.Uid, Gid: sys.Gid}, nil
}

// userLookupEnv is what initdb needs in its environment to look up uid: nothing when the
// user database has it, else nss_wrapper with a passwd file naming it.
func (s *scratchServer) userLookupEnv(uid, gid int) ([]string, error) {
	if _, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return nil, nil
	}
	lib := ""
	for _, p := range nssWrapperPaths {
		if _, err := os.Stat(p); err == nil {
			lib = p
			break
		}
	}
	if lib == "" {
		return nil, fmt.Errorf("initdb needs user ID %d in /etc/passwd, which this image lacks, and nss_wrapper is not installed either: run the drill as a user the image lists, or add libnss_wrapper.so (Debian: libnss-wrapper) to the image", uid)
	}
	passwd, group := filepath.Join(s.dir, "passwd"), filepath.Join(s.dir, "group")
	// World-readable like /etc/passwd: the server may run as another user than the one
	// writing it, and the entries hold no secret.
	if err := os.WriteFile(passwd, fmt.Appendf(nil, "%s:x:%d:%d:helpdesk drill:%s:/bin/false\n", scratchUser, uid, gid, s.dir), 0o644); err != nil { //nolint:gosec // see above
		return nil, err
	}
	if err := os.WriteFile(group, fmt.Appendf(nil, "%s:x:%d:\n", scratchUser, gid), 0o644); err != nil { //nolint:gosec // see above
		return nil, err
	}
	return []string{"LD_PRELOAD=" + lib, "NSS_WRAPPER_PASSWD=" + passwd, "NSS_WRAPPER_GROUP=" + group}, nil
}

// switchWriter forwards to w until off is called, then discards.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		_, _ = s.w.Write(p)
	}
	return len(p), nil
}

func (s *switchWriter) off() {
	s.mu.Lock()
	s.w = nil
	s.mu.Unlock()
}

// tailBuffer keeps the last bytes a program printed. Only used for the drill server's
// start, before it holds any data.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = t.buf[len(t.buf)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
