// Package s3gw runs a real S3-compatible server for tests: the versitygw gateway with its
// posix backend on a temporary folder, on a free loopback port. Stop and Restart let a test
// take the storage away mid-operation and bring it back with the same port and data.
package s3gw

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
)

// Server is one versitygw process with its data folder. Its methods are safe for concurrent use.
type Server struct {
	// Endpoint is host:port (no scheme, as minio-go wants it); plain HTTP.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Dir holds the bucket folders (data/) and versitygw.log.
	Dir string
	// CAFile is the PEM certificate clients must trust when the server speaks TLS
	// (StartTLS); empty for plain HTTP.
	CAFile string

	binary string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts versitygw and registers tb.Cleanup to stop it and remove its folder.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return proc.ForTest(tb, "s3gw", StartMain)
}

// StartTLS is Start with TLS on, behind a fresh self-signed certificate for 127.0.0.1
// whose PEM is in CAFile.
func StartTLS(tb testing.TB) *Server {
	tb.Helper()
	return proc.ForTest(tb, "s3gw", func() (*Server, func(), error) { return startMain(true) })
}

// StartMain is Start for TestMain, which has no testing.TB: call stop when done.
func StartMain() (*Server, func(), error) { return startMain(false) }

// StartMainOn is StartMain listening on another local address than 127.0.0.1, e.g. the
// node address of the end-to-end cluster, so that pods reach the gateway.
func StartMainOn(host string) (*Server, func(), error) { return startMainOn(host, false) }

func startMain(withTLS bool) (*Server, func(), error) { return startMainOn("127.0.0.1", withTLS) }

func startMainOn(host string, withTLS bool) (*Server, func(), error) {
	binary, err := binaries.Versitygw()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "s3gw-")
	if err != nil {
		return nil, nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	port, err := proc.FreePortOn(host)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	srv := &Server{
		Endpoint:  net.JoinHostPort(host, strconv.Itoa(port)),
		AccessKey: "test" + proc.RandomHex(6),
		SecretKey: proc.RandomHex(20),
		Dir:       dir,
		binary:    binary,
	}
	if withTLS {
		if err := writeSelfSigned(dir); err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		srv.CAFile = filepath.Join(dir, "cert.pem")
	}
	// Another process can take the free port between our probe and the gateway's bind:
	// then try another port, a bounded number of times (Restart keeps the port it got).
	for attempt := 1; ; attempt++ {
		err := srv.start()
		if err == nil {
			break
		}
		srv.Stop()
		if attempt == 3 || !strings.Contains(proc.LogTail(srv.LogPath(), 30), "address already in use") {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		port, perr := proc.FreePortOn(host)
		if perr != nil {
			os.RemoveAll(dir)
			return nil, nil, perr
		}
		srv.Endpoint = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return srv, func() { srv.Stop(); os.RemoveAll(dir) }, nil
}

// LogPath is the gateway's log file.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "versitygw.log") }

// Client is a minio-go client for the gateway.
func (s *Server) Client(tb testing.TB) *minio.Client {
	tb.Helper()
	c, err := s.client()
	if err != nil {
		tb.Fatalf("s3gw: client: %v", err)
	}
	return c
}

// CreateBucket creates bucket name.
func (s *Server) CreateBucket(tb testing.TB, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(tb).MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		tb.Fatalf("s3gw: creating bucket %s: %v", name, err)
	}
}

// Stop stops the gateway (the data stays). Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart stops the gateway if it runs and starts it again on the same port with the same data.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logFile, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.Endpoint, "--quiet"}
	if s.CAFile != "" {
		args = append(args, "--cert", s.CAFile, "--key", filepath.Join(s.Dir, "key.pem"))
	}
	cmd := exec.Command(s.binary, append(args, "posix", filepath.Join(s.Dir, "data"))...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	return s.waitReady(exited)
}

// waitReady polls with a bounded deadline until the gateway answers an S3 request.
func (s *Server) waitReady(exited chan struct{}) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited while starting; see %s:\n%s", s.LogPath(), proc.LogTail(s.LogPath(), 30))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("versitygw did not answer within %s (last error: %w); see %s", startTimeout, lastErr, s.LogPath())
}

func (s *Server) client() (*minio.Client, error) {
	transport := &http.Transport{}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return minio.New(s.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:    s.CAFile != "",
		Region:    "us-east-1",
		Transport: transport,
		// One try: the readiness probe retries by itself, boundedly.
		MaxRetries: 1,
	})
}
