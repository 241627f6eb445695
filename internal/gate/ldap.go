package gate

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

const ldapTimeout = 10 * time.Second

// errBadCredentials: unknown user, ambiguous user or wrong password, which the form must
// not tell apart.
var errBadCredentials = errors.New("invalid credentials")

// ldapLogin serves a login form and checks it against a directory: find the user with the
// service account, read the groups, then bind as the user to prove the password.
type ldapLogin struct {
	g            *Gate
	cfg          *config.LDAP
	tls          *tls.Config
	bindPassword string
	// origins refuses form posts a browser sent from another site (Sec-Fetch-Site and
	// Origin); the CSRF token in the flow cookie covers browsers that send neither.
	origins *http.CrossOriginProtection
}

func newLDAPLogin(g *Gate, cfg *config.LDAP) (*ldapLogin, error) {
	password, err := config.ReadSecret("ldap.bindPasswordFile", cfg.BindPasswordFile)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := config.TLSConfig("ldap.caFile", cfg.CAFile)
	if err != nil {
		return nil, err
	}
	return &ldapLogin{g: g, cfg: cfg, tls: tlsConfig, bindPassword: password, origins: http.NewCrossOriginProtection()}, nil
}

func (l *ldapLogin) name() string { return "ldap" }

func (l *ldapLogin) register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathLDAPLogin, l.form)
	mux.Handle("POST "+pathLDAPLogin, l.origins.Handler(http.HandlerFunc(l.submit)))
}

// start remembers where the user was going and sends the browser to the login form.
func (l *ldapLogin) start(w http.ResponseWriter, r *http.Request, returnTo string) {
	if err := l.g.flows.save(w, newFlow(returnTo), http.SameSiteLaxMode); err != nil {
		renderPage(w, http.StatusInternalServerError, pageError, pageData{Message: "The sign-in could not be started."})
		return
	}
	http.Redirect(w, r, l.g.absolute(pathLDAPLogin), http.StatusSeeOther)
}

// form shows the login form, starting a flow when the browser came here directly.
func (l *ldapLogin) form(w http.ResponseWriter, r *http.Request) {
	flow := l.g.flows.current(r)
	if flow == nil {
		flow = newFlow(l.g.cfg.ProtectedPathPrefixes[0])
		if err := l.g.flows.save(w, flow, http.SameSiteLaxMode); err != nil {
			renderPage(w, http.StatusInternalServerError, pageError, pageData{Message: "The sign-in could not be started."})
			return
		}
	}
	renderPage(w, http.StatusOK, pageLogin, pageData{Action: pathLDAPLogin, CSRF: flow.State})
}

func (l *ldapLogin) submit(w http.ResponseWriter, r *http.Request) {
	flow := l.g.flows.load(r, r.PostFormValue("csrf"))
	if flow == nil {
		l.g.log.Warn("sign-in failed", "provider", "ldap", "reason", "CSRF token does not match the login form of this browser")
		renderPage(w, http.StatusForbidden, pageError, pageData{Message: "This sign-in form expired. Please try again."})
		return
	}
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	id, err := l.authenticate(username, password)
	if errors.Is(err, errBadCredentials) {
		l.g.log.Warn("sign-in failed", "provider", "ldap", "reason", "invalid credentials")
		renderPage(w, http.StatusUnauthorized, pageLogin, pageData{Action: pathLDAPLogin, CSRF: flow.State, Username: username, Message: "Invalid username or password."})
		return
	}
	if err != nil {
		l.g.log.Error("directory unreachable or refused the search", "provider", "ldap", "reason", ldapFailure(err))
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The directory is not reachable right now."})
		return
	}
	l.g.admit(w, r, id, flow.ReturnTo)
}

// authenticate finds the one user matching the login, reads its groups and e-mail as the
// service account, and binds as that user last, so a wrong password ends the sign-in.
func (l *ldapLogin) authenticate(username, password string) (identity, error) {
	// An empty password would be an unauthenticated bind, which directories accept.
	if username == "" || password == "" {
		return identity{}, errBadCredentials
	}
	conn, err := l.dial()
	if err != nil {
		return identity{}, err
	}
	defer func() { _ = conn.Close() }()
	if err := conn.Bind(l.cfg.BindDN, l.bindPassword); err != nil {
		return identity{}, err
	}
	attributes := []string{l.cfg.EmailAttribute}
	if l.cfg.GroupSearch == nil {
		attributes = append(attributes, l.cfg.GroupAttribute)
	}
	found, err := conn.Search(ldap.NewSearchRequest(l.cfg.UserSearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(ldapTimeout.Seconds()), false, strings.ReplaceAll(l.cfg.UserFilter, "{0}", ldap.EscapeFilter(username)), attributes, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return identity{}, err
	}
	if found == nil || len(found.Entries) != 1 {
		return identity{}, errBadCredentials
	}
	user := found.Entries[0]
	id := identity{Subject: user.DN, Email: user.GetAttributeValue(l.cfg.EmailAttribute)}
	if id.Groups, err = l.groups(conn, user, username); err != nil {
		return identity{}, err
	}
	if err := conn.Bind(user.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return identity{}, errBadCredentials
		}
		return identity{}, err
	}
	return id, nil
}

// groups names the user's groups: the CN (first RDN value) of each memberOf DN, or the
// name attribute of each group a group search finds.
func (l *ldapLogin) groups(conn *ldap.Conn, user *ldap.Entry, username string) ([]string, error) {
	if gs := l.cfg.GroupSearch; gs != nil {
		filter := strings.NewReplacer("{0}", ldap.EscapeFilter(user.DN), "{1}", ldap.EscapeFilter(username)).Replace(gs.Filter)
		found, err := conn.Search(ldap.NewSearchRequest(gs.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, int(ldapTimeout.Seconds()), false, filter, []string{gs.NameAttribute}, nil))
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range found.Entries {
			names = append(names, e.GetAttributeValues(gs.NameAttribute)...)
		}
		return names, nil
	}
	var names []string
	for _, dn := range user.GetAttributeValues(l.cfg.GroupAttribute) {
		parsed, err := ldap.ParseDN(dn)
		if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
			continue
		}
		names = append(names, parsed.RDNs[0].Attributes[0].Value)
	}
	return names, nil
}

func (l *ldapLogin) dial() (*ldap.Conn, error) {
	conn, err := ldap.DialURL(l.cfg.URL, ldap.DialWithTLSConfig(l.tls))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(ldapTimeout)
	if l.cfg.StartTLS {
		if err := conn.StartTLS(l.tls); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// ldapFailure names an LDAP error by its result code only: the server's message may quote
// the DN, and with it the login.
func ldapFailure(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) {
		if name, ok := ldap.LDAPResultCodeMap[le.ResultCode]; ok {
			return name
		}
	}
	return "connection failed"
}
