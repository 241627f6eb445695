package gate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// Paths the gate serves itself. They sit under one prefix Helpy does not use.
const (
	pathPrefix       = "/_gate/"
	pathLogout       = "/_gate/logout"
	pathOIDCCallback = "/_gate/oidc/callback"
	pathSAMLACS      = "/_gate/saml/acs"
	pathSAMLMetadata = "/_gate/saml/metadata"
	pathLDAPLogin    = "/_gate/login"
	pathHealthz      = "/healthz"
)

// Options are what tests (and nothing else) change.
type Options struct {
	// Now is the clock for session timeouts; nil uses time.Now. Protocol checks
	// (token expiry, assertion validity) always use the real clock, since the identity
	// provider does.
	Now func() time.Time
	// Logger; nil logs JSON to stderr.
	Logger *slog.Logger
}

// Gate is the access gate's HTTP handler.
type Gate struct {
	cfg      *config.Config
	external *url.URL
	now      func() time.Time
	log      *slog.Logger
	sessions *sessions
	flows    *flows
	login    loginMethod
	proxy    http.Handler
	mux      *http.ServeMux
	tagKey   []byte
}

// loginMethod is one kind of identity provider.
type loginMethod interface {
	// name is oidc, saml or ldap, for logs.
	name() string
	// start answers a request for a protected path that has no session: a redirect to
	// the provider, or to the gate's login form.
	start(w http.ResponseWriter, r *http.Request, returnTo string)
	// register adds the provider's own endpoints (callback, ACS, login form).
	register(mux *http.ServeMux)
}

// identity is who a provider says signed in.
type identity struct {
	Subject string
	Email   string
	Groups  []string
	// SecondFactor: the provider proved a second factor, checked against cfg.MFA.
	SecondFactor bool
}

// New builds a gate from a validated configuration, reading the secret files it names.
// Identity provider discovery (OIDC) and metadata (SAML) are fetched at the first sign-in,
// so the portal is served even while the provider is unreachable.
func New(cfg *config.Config, opts Options) (*Gate, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	keys, err := cfg.Cookie.ReadCookieKeys()
	if err != nil {
		return nil, err
	}
	external, err := url.Parse(strings.TrimSuffix(cfg.ExternalURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("externalURL: %w", err)
	}
	g := &Gate{
		cfg:      cfg,
		external: external,
		now:      opts.Now,
		log:      opts.Logger,
		sessions: newSessions(cfg, keys, opts.Now),
		flows:    newFlows(cfg.Cookie.Name, keys),
		tagKey:   keys.Hash,
	}
	if g.proxy, err = newProxy(cfg, g.log); err != nil {
		return nil, err
	}
	switch {
	case cfg.OIDC != nil:
		g.login, err = newOIDCLogin(g, cfg.OIDC)
	case cfg.SAML != nil:
		g.login, err = newSAMLLogin(g, cfg.SAML)
	case cfg.LDAP != nil:
		g.login, err = newLDAPLogin(g, cfg.LDAP)
	}
	if err != nil {
		return nil, err
	}
	g.mux = http.NewServeMux()
	g.mux.HandleFunc("GET "+pathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	g.mux.HandleFunc(pathLogout, g.serveLogout)
	g.mux.Handle(pathPrefix, http.NotFoundHandler())
	g.login.register(g.mux)
	g.mux.HandleFunc("/", g.serveApp)
	return g, nil
}

func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// serveApp passes a request on to the upstream: protected paths only with a session.
func (g *Gate) serveApp(w http.ResponseWriter, r *http.Request) {
	if !g.protected(r.URL.Path) {
		g.proxy.ServeHTTP(w, r)
		return
	}
	if !g.canonical(r) {
		// The edge routes the protected paths, with the agent allow-list, by their literal,
		// case-sensitive prefixes: any other spelling of one (/Admin, /admin.json, //admin,
		// /%61dmin) reached the gate through the portal's route, past that list. No browser
		// link spells them so; refuse rather than serve them.
		g.log.Info("non-canonical protected path refused")
		http.NotFound(w, r)
		return
	}
	s, problem := g.sessions.load(r)
	if s == nil {
		if problem != "" {
			g.log.Info("session refused", "reason", problem)
			g.sessions.clear(w)
		}
		g.requireLogin(w, r)
		return
	}
	g.sessions.touch(w, s)
	g.proxy.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), s)))
}

// protected matches prefixes as strings on the cleaned, lower-cased path, so /admin also
// covers /admin.json, /Admin and //admin: protecting too much is safe, too little is not.
func (g *Gate) protected(urlPath string) bool {
	p := strings.ToLower(path.Clean("/" + urlPath))
	for _, prefix := range g.cfg.ProtectedPathPrefixes {
		if strings.HasPrefix(p, strings.ToLower(prefix)) {
			return true
		}
	}
	return false
}

// canonical reports whether the request's path, exactly as it arrived, is a protected
// prefix or lies under one: the spelling the edge's agent route matches.
func (g *Gate) canonical(r *http.Request) bool {
	raw := r.URL.EscapedPath()
	for _, prefix := range g.cfg.ProtectedPathPrefixes {
		if raw == prefix || strings.HasPrefix(raw, prefix+"/") {
			return true
		}
	}
	return false
}

// requireLogin starts a sign-in for a page load. Other methods get a 401: a form post
// cannot survive the round trip to the provider, and a cross-site post must not be able to
// start a sign-in.
func (g *Gate) requireLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		renderPage(w, http.StatusUnauthorized, pageSignInNeeded, pageData{Link: g.cfg.ProtectedPathPrefixes[0]})
		return
	}
	g.login.start(w, r, localPath(r.URL.RequestURI()))
}

// admit is where every provider's sign-in ends: it checks the second factor and the
// groups, and only then makes a session and sends the browser back where it was going.
func (g *Gate) admit(w http.ResponseWriter, r *http.Request, id identity, returnTo string) {
	g.flows.clear(w)
	tag := g.subjectTag(id.Subject)
	if id.Subject == "" {
		g.log.Warn("sign-in refused", "provider", g.login.name(), "reason", "no subject")
		renderPage(w, http.StatusForbidden, pageRefused, pageData{Message: "The identity provider did not name the user."})
		return
	}
	if g.cfg.MFA.Required && !id.SecondFactor {
		g.log.Warn("sign-in refused", "provider", g.login.name(), "subject", tag, "reason", "no second factor")
		renderPage(w, http.StatusForbidden, pageRefused, pageData{Message: "This helpdesk requires a second factor (an authenticator app or a security key). Sign in again with one."})
		return
	}
	groups, ok := g.allowedGroupsOf(id.Groups)
	if !ok {
		g.log.Warn("sign-in refused", "provider", g.login.name(), "subject", tag, "reason", "not in an allowed group")
		renderPage(w, http.StatusForbidden, pageRefused, pageData{Message: "Your account is not in a group allowed to use this helpdesk."})
		return
	}
	now := g.now()
	s := &session{Subject: id.Subject, Email: id.Email, Groups: groups, AuthTime: now.Unix(), LastSeen: now.Unix()}
	if err := g.sessions.save(w, s); err != nil {
		g.log.Error("cannot make a session", "subject", tag, "error", err.Error())
		renderPage(w, http.StatusInternalServerError, pageError, pageData{Message: "The session could not be stored."})
		return
	}
	g.log.Info("signed in", "provider", g.login.name(), "subject", tag, "groups", len(groups))
	http.Redirect(w, r, g.absolute(returnTo), http.StatusSeeOther)
}

// allowedGroupsOf says whether groups admit the user, and which groups the session keeps:
// with allowedGroups set only the matching ones, so the cookie stays small and the
// upstream learns nothing it does not need.
func (g *Gate) allowedGroupsOf(groups []string) ([]string, bool) {
	if len(g.cfg.AllowedGroups) == 0 {
		return groups, true
	}
	var kept []string
	for _, group := range groups {
		if slices.Contains(g.cfg.AllowedGroups, group) {
			kept = append(kept, group)
		}
	}
	return kept, len(kept) > 0
}

func (g *Gate) serveLogout(w http.ResponseWriter, r *http.Request) {
	if s, _ := g.sessions.load(r); s != nil {
		g.log.Info("signed out", "subject", g.subjectTag(s.Subject))
	}
	g.sessions.clear(w)
	g.flows.clear(w)
	renderPage(w, http.StatusOK, pageSignedOut, pageData{Link: g.cfg.ProtectedPathPrefixes[0]})
}

// absolute builds a URL on the external host, never on the request's Host header.
func (g *Gate) absolute(localPath string) string {
	return g.external.String() + localPath
}

// subjectTag is what logs say instead of the subject: a keyed hash, stable per instance,
// that the log reader cannot turn back into an e-mail address by guessing.
func (g *Gate) subjectTag(subject string) string {
	mac := hmac.New(sha256.New, g.tagKey)
	mac.Write([]byte("log-subject\x00" + subject))
	return hex.EncodeToString(mac.Sum(nil))[:16]
}

// localPath keeps a return address on this host: anything that a browser could read as
// another host (//evil.example, /\evil.example) becomes /.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

type identityKey struct{}

func withIdentity(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, identityKey{}, s)
}

func identityFrom(ctx context.Context) *session {
	s, _ := ctx.Value(identityKey{}).(*session)
	return s
}
