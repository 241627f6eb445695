//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The test OpenID provider: the one internal/gate's tests start (oidcidp_test.go there),
// here listening on the host services address with a certificate from the run's test CA,
// so that the access gate's pod and the probe pods reach it. It is zitadel/oidc's pkg/op
// with the in-memory storage of its example server; its login page signs in the user the
// test chose, and that user's ID token carries the user's groups and amr.

// oidcUser is a user of the test provider and what its ID token will say.
type oidcUser struct {
	id     string
	groups []string
	amr    []string
}

type oidcProvider struct {
	*httptest.Server
	store *testStorage
	mu    sync.Mutex
	next  string
}

const (
	oidcClientID     = "helpdesk-gate"
	oidcClientSecret = "gate-client-secret"
)

// startOIDCProvider starts the provider on cluster.ServicesIP, with gateCallback as the
// client's only redirect URI.
func startOIDCProvider(t *testing.T, gateCallback string, users ...oidcUser) *oidcProvider {
	t.Helper()
	_, _, pair, err := testCA.Issue(cluster.ServicesIP)
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(cluster.ServicesIP, "0"))
	if err != nil {
		t.Fatalf("listening on the host services address: %v", err)
	}
	p := &oidcProvider{}
	mux := http.NewServeMux()
	p.Server = httptest.NewUnstartedServer(mux)
	p.Listener.Close()
	p.Listener = listener
	p.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	p.StartTLS()
	t.Cleanup(p.Close)

	byID := map[string]oidcUser{}
	exampleUsers := map[string]*storage.User{}
	for _, u := range users {
		byID[u.id] = u
		exampleUsers[u.id] = &storage.User{ID: u.id, Username: u.id, Password: "pw-" + u.id,
			Email: u.id + "@example.com", EmailVerified: true, PreferredLanguage: language.English}
	}
	clients := map[string]*storage.Client{oidcClientID: storage.WebClient(oidcClientID, oidcClientSecret, gateCallback)}
	p.store = &testStorage{Storage: storage.NewStorageWithClients(userStore{exampleUsers}, clients), users: byID}

	provider, err := op.NewProvider(&op.Config{CryptoKey: sha256.Sum256([]byte("e2e")), CodeMethodS256: true},
		p.store, op.StaticIssuer(p.URL))
	if err != nil {
		t.Fatal(err)
	}
	callback := op.AuthCallbackURL(provider)
	// The example client's login URL: sign the chosen user in and return to the provider.
	mux.HandleFunc("/login/username", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("authRequestID")
		p.mu.Lock()
		user := p.next
		p.mu.Unlock()
		if err := p.store.CheckUsernamePassword(user, "pw-"+user, id); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(w, r, callback(op.ContextWithIssuer(r.Context(), p.URL), id), http.StatusFound)
	})
	mux.Handle("/", provider)
	return p
}

// signInAs chooses the user the provider's login page signs in next.
func (p *oidcProvider) signInAs(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = id
}

// testStorage adds each user's groups and amr to the example storage's ID tokens, and the
// e-mail address, as most providers do.
type testStorage struct {
	*storage.Storage
	users map[string]oidcUser
}

func (s *testStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByID(ctx, id))
}

func (s *testStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByCode(ctx, code))
}

func (s *testStorage) wrap(req op.AuthRequest, err error) (op.AuthRequest, error) {
	if err != nil {
		return nil, err
	}
	return &testAuthRequest{AuthRequest: req.(*storage.AuthRequest), user: s.users[req.GetSubject()]}, nil
}

func (s *testStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	info.Email = req.GetSubject() + "@example.com"
	if groups := s.users[req.GetSubject()].groups; groups != nil {
		info.AppendClaims("groups", groups)
	}
	return nil
}

type testAuthRequest struct {
	*storage.AuthRequest
	user oidcUser
}

func (r *testAuthRequest) GetAMR() []string {
	if !r.Done() {
		return nil
	}
	return r.user.amr
}

type userStore struct{ users map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User         { return u.users[id] }
func (u userStore) GetUserByUsername(name string) *storage.User { return u.users[name] }
func (u userStore) ExampleClientID() string                     { return "service" }
