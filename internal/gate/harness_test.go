package gate

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// Shared by every scenario: the timeouts the fake clock walks past.
const (
	testIdle     = 30 * time.Minute
	testAbsolute = 2 * time.Hour
)

// fakeClock is the gate's injectable Now: the timeouts are tested by moving it, not by
// sleeping. Protocol checks keep the real clock, as the identity providers do.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// upstream stands in for Helpy and records the headers of each request it receives.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	requests []http.Header
}

func startUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.requests = append(u.requests, r.Header.Clone())
		u.mu.Unlock()
		_, _ = io.WriteString(w, "helpdesk page "+r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

func (u *upstream) last(t *testing.T) http.Header {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.requests) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.requests[len(u.requests)-1]
}

// gateServer is a gate on an https test server, its logs, and the pieces around it.
type gateServer struct {
	*httptest.Server
	gate     *Gate
	clock    *fakeClock
	upstream *upstream
	logs     *syncBuffer
	handler  *swappable
}

// swappable lets the gate server start (and so get its URL) before the gate exists.
type swappable struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// listenGate starts the https server the gate will run on; configure then builds the gate.
func listenGate(t *testing.T) *gateServer {
	gs := &gateServer{handler: &swappable{h: http.NotFoundHandler()}, clock: newFakeClock(), logs: &syncBuffer{}}
	gs.Server = httptest.NewTLSServer(gs.handler)
	t.Cleanup(gs.Close)
	gs.upstream = startUpstream(t)
	return gs
}

// baseConfig is a valid configuration without an identity provider: cookie keys in
// files, the test upstream, the test timeouts, and Helpy's protected prefixes.
func (gs *gateServer) baseConfig(t *testing.T) *config.Config {
	dir := t.TempDir()
	return &config.Config{
		UpstreamURL:           gs.upstream.URL,
		ExternalURL:           gs.URL,
		ProtectedPathPrefixes: []string{"/admin", "/api"},
		Cookie: config.Cookie{
			HashKeyFile:  writeFile(t, dir, "hash.key", randomKey(t, 64)),
			BlockKeyFile: writeFile(t, dir, "block.key", randomKey(t, 32)),
		},
		Session: config.Session{
			IdleTimeout:     metav1.Duration{Duration: testIdle},
			AbsoluteTimeout: metav1.Duration{Duration: testAbsolute},
		},
	}
}

// start validates cfg as the gate command would and puts the gate behind the server.
func (gs *gateServer) start(t *testing.T, cfg *config.Config) {
	t.Helper()
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Now: gs.clock.Now, Logger: slog.New(slog.NewJSONHandler(gs.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gs.gate = g
	gs.handler.mu.Lock()
	gs.handler.h = g
	gs.handler.mu.Unlock()
}

func randomKey(t *testing.T, n int) string {
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(key) + "\n"
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testCAFile holds the certificate every httptest TLS server uses, so the gate trusts the
// test identity providers the way it would trust a private CA.
func testCAFile(t *testing.T, srv *httptest.Server) string {
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return writeFile(t, t.TempDir(), "ca.pem", string(block))
}

// browser is a cookie-keeping client that trusts the test servers and does not follow
// redirects by itself, so each hop can be checked.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T, trusted *httptest.Server) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{
		Transport: trusted.Client().Transport,
		Jar:       jar,
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// response is what the browser got, with the body read.
type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return &response{Response: resp, body: string(body)}
}

func (b *browser) get(rawURL string, headers ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return b.do(req)
}

func (b *browser) post(rawURL string, form url.Values, headers ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return b.do(req)
}

// follow keeps following redirects from r, at most ten hops, and returns the first answer
// that is not a redirect.
func (b *browser) follow(r *response) *response {
	b.t.Helper()
	for hops := 0; hops < 10 && isRedirect(r.StatusCode); hops++ {
		next, err := r.Request.URL.Parse(r.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		r = b.get(next.String())
	}
	return r
}

func isRedirect(status int) bool { return status >= 300 && status < 400 }

// cookie returns the browser's cookie name for u, or nil.
func (b *browser) cookie(u, name string) *http.Cookie {
	parsed, _ := url.Parse(u)
	for _, c := range b.client.Jar.Cookies(parsed) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookie replaces the browser's cookie name for u.
func (b *browser) setCookie(u, name, value string) {
	parsed, _ := url.Parse(u)
	b.client.Jar.SetCookies(parsed, []*http.Cookie{{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true}})
}

func expectStatus(t *testing.T, r *response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %.300s", r.Request.Method, r.Request.URL, r.StatusCode, want, r.body)
	}
}

// expectNoSessionCookie checks that a refused sign-in set no session.
func expectNoSessionCookie(t *testing.T, r *response) {
	t.Helper()
	for _, c := range r.Cookies() {
		if c.Name == config.DefaultCookieName && c.Value != "" {
			t.Fatalf("a refused sign-in set the session cookie")
		}
	}
}

// spoofedHeaders are identity headers a client might forge, in the spellings an app
// server might read.
var spoofedHeaders = []string{
	"X-Forwarded-User", "mallory",
	"X-Forwarded-Email", "mallory@evil.example",
	"X-Forwarded-Groups", "admins",
	"X_Forwarded_User", "mallory",
	"Remote-User", "mallory",
	"X-Remote-User", "mallory",
	"X-Auth-Request-User", "mallory",
}

// expectOnlyGateIdentity checks the upstream saw the gate's identity and none of the
// client's forgeries.
func expectOnlyGateIdentity(t *testing.T, got http.Header, user, groups string) {
	t.Helper()
	if v := got.Values(headerUser); len(v) != 1 || v[0] != user {
		t.Errorf("upstream %s = %q, want exactly [%q]", headerUser, v, user)
	}
	if v := got.Values(headerGroups); groups != "" && (len(v) != 1 || v[0] != groups) {
		t.Errorf("upstream %s = %q, want exactly [%q]", headerGroups, v, groups)
	}
	for name, values := range got {
		for _, v := range values {
			if strings.Contains(v, "mallory") {
				t.Errorf("a forged identity header reached the upstream: %s: %s", name, v)
			}
		}
		if strings.Contains(name, "_") || strings.EqualFold(name, "Remote-User") || strings.HasPrefix(strings.ToUpper(name), "X-REMOTE-") {
			t.Errorf("a client identity header reached the upstream: %s", name)
		}
	}
	if strings.Contains(got.Get("Cookie"), config.DefaultCookieName) {
		t.Errorf("the gate's cookie reached the upstream: %s", got.Get("Cookie"))
	}
}
