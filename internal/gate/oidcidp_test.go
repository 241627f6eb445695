package gate

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// oidcUser is a user of the test provider and what its ID token will say.
type oidcUser struct {
	id     string
	groups []string
	amr    []string
	acr    string
}

// oidcProvider is a real OpenID provider (zitadel/oidc's pkg/op, with the in-memory storage
// of its example server) on an https test server. Its login page signs in whichever user
// the test chose with signInAs, so that each scenario controls the ID token's groups, amr
// and acr; everything else (discovery, keys, PKCE, codes, token signing) is the library's.
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

func startOIDCProvider(t *testing.T, gateCallback string, users ...oidcUser) *oidcProvider {
	p := &oidcProvider{}
	mux := http.NewServeMux()
	p.Server = httptest.NewTLSServer(mux)
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

	provider, err := op.NewProvider(&op.Config{CryptoKey: sha256.Sum256([]byte("test")), CodeMethodS256: true},
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

// testStorage adds each user's groups, amr and acr to the example storage's ID tokens, and
// the e-mail address, as most providers do (the example keeps it for the userinfo endpoint).
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

func (r *testAuthRequest) GetACR() string { return r.user.acr }

type userStore struct{ users map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User { return u.users[id] }
func (u userStore) GetUserByUsername(name string) *storage.User {
	return u.users[name]
}
func (u userStore) ExampleClientID() string { return "service" }
