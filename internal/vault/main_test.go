package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// shared is one Vault for the tests that neither stop it nor reconfigure its auth; each
// test uses its own tenant names.
var shared *vaultdev.Server

func TestMain(m *testing.M) {
	srv, stop, err := vaultdev.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = srv
	code := m.Run()
	stop()
	os.Exit(code)
}

// writeCounter counts requests that change state in Vault. Reads are GET (LIST is sent as
// GET with list=true); everything else writes.
type writeCounter struct {
	next http.RoundTripper

	mu     sync.Mutex
	writes []string
	// before, when set, runs before each request is sent (to inject a racing writer).
	before func(*http.Request)
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.writes = append(w.writes, r.Method+" "+strings.TrimPrefix(r.URL.Path, "/v1/"))
	}
	before := w.before
	w.mu.Unlock()
	if before != nil {
		before(r)
	}
	return w.next.RoundTrip(r)
}

// take returns the writes since the last call.
func (w *writeCounter) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

func testConfig(srv *vaultdev.Server) Config {
	cfg := DefaultConfig()
	cfg.Address = srv.Addr
	cfg.AuthMethod = AuthToken
	cfg.Token = srv.RootToken
	cfg.CACertFile = ""
	cfg.RequestTimeout = 3 * time.Second
	return cfg
}

// newTestClient logs in with the root token and bootstraps the mounts once per server.
func newTestClient(t *testing.T, srv *vaultdev.Server) (*Client, *writeCounter) {
	t.Helper()
	return newTestClientWith(t, testConfig(srv))
}

func newTestClientWith(t *testing.T, cfg Config) (*Client, *writeCounter) {
	t.Helper()
	counter := &writeCounter{}
	c, err := newClient(context.Background(), cfg, testLogger(t), options{
		wrapTransport: func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// No API server here: logins are tested in kubernetes_test.go against a real one; the
	// host only completes the set-up EnsureTenant checks.
	if err := c.EnsureMounts(context.Background(), placeholderKubernetes); err != nil {
		t.Fatalf("EnsureMounts: %v", err)
	}
	counter.take()
	return c, counter
}

func testLogger(t *testing.T) logr.Logger { return testr.New(t) }

// uidCounter gives each test tenant its own instance UID.
var uidCounter atomic.Int64

// testTenant is a tenant with a fresh UID and the backup and restore workloads.
func testTenant(namespace, name string) Tenant {
	return Tenant{
		Namespace: namespace, Name: name, UID: fmt.Sprintf("uid-%d", uidCounter.Add(1)),
		ServiceAccounts: map[Workload]string{WorkloadBackup: name + "-backup", WorkloadRestore: name + "-restore"},
	}
}

func rootClient(t *testing.T, srv *vaultdev.Server) *vaultapi.Client { return srv.Client(t) }

func mustRead(t *testing.T, api *vaultapi.Client, path string) *vaultapi.Secret {
	t.Helper()
	s, err := api.Logical().Read(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return s
}

func withRotation(t Tenant, period time.Duration) Tenant {
	t.RotationPeriod = period
	return t
}

// placeholderKubernetes completes the set-up EnsureTenant checks where no API server runs;
// Vault only parses the CA. Logins are tested in workloads_test.go against a real one.
var placeholderKubernetes = KubernetesAuthConfig{Host: "https://kubernetes.invalid:6443", CACertPEM: selfSignedCA()}

func selfSignedCA() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "placeholder"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
