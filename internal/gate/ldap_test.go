package gate

import (
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

var ldapUsers = []ldapUser{
	{name: "alice", group: agentGroup},
	{name: "carol", group: "customers"},
}

// startLDAPGate runs a glauth directory and a gate signing in against it: agents group
// only, no MFA (which validation refuses for LDAP).
func startLDAPGate(t *testing.T, groupSearch *config.LDAPGroupSearch) (*gateServer, *directory) {
	gs := listenGate(t)
	d := startDirectory(t, ldapUsers...)
	cfg := gs.baseConfig(t)
	cfg.AllowedGroups = []string{agentGroup}
	cfg.LDAP = &config.LDAP{
		URL:              d.URL,
		CAFile:           d.CAFile,
		BindDN:           d.BindDN,
		BindPasswordFile: writeFile(t, t.TempDir(), "bind-password", d.Password+"\n"),
		UserSearchBase:   "ou=users," + d.BaseDN,
		UserFilter:       "(&(objectClass=posixAccount)(uid={0}))",
		GroupSearch:      groupSearch,
	}
	gs.start(t, cfg)
	return gs, d
}

// signInLDAP opens path, follows to the gate's login form and submits it.
func signInLDAP(t *testing.T, b *browser, gs *gateServer, user, password, path string, headers ...string) *response {
	t.Helper()
	r := b.follow(b.get(gs.URL+path, headers...))
	expectStatus(t, r, 200)
	action, values := formOf(t, r)
	if action != gs.URL+pathLDAPLogin || values.Get("csrf") == "" {
		t.Fatalf("login form posts to %s with csrf %q", action, values.Get("csrf"))
	}
	values.Set("username", user)
	values.Set("password", password)
	return b.follow(b.post(action, values, headers...))
}

func TestLDAPUnauthenticatedRequestGetsTheLoginForm(t *testing.T) {
	gs, _ := startLDAPGate(t, nil)
	b := newBrowser(t, gs.Server)
	r := b.get(gs.URL + "/admin")
	expectStatus(t, r, 303)
	if r.Header.Get("Location") != gs.URL+pathLDAPLogin {
		t.Fatalf("redirected to %s, want the login form", r.Header.Get("Location"))
	}
	r = b.follow(r)
	expectStatus(t, r, 200)
	if !strings.Contains(r.body, `type="password"`) || !strings.Contains(r.body, `name="csrf"`) {
		t.Errorf("not a CSRF-protected login form: %s", r.body)
	}
	if gs.upstream.count() != 0 {
		t.Errorf("the upstream was reached without a session")
	}
}

func TestLDAPWrongPasswordShowsTheFormAgain(t *testing.T) {
	gs, _ := startLDAPGate(t, nil)
	for _, attempt := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"nobody", "pw-nobody"}, {"*", "pw-alice"}} {
		b := newBrowser(t, gs.Server)
		r := signInLDAP(t, b, gs, attempt[0], attempt[1], "/admin")
		expectStatus(t, r, 401)
		expectNoSessionCookie(t, r)
		if !strings.Contains(r.body, "Invalid username or password") {
			t.Errorf("%q: %s", attempt[0], r.body)
		}
	}
}

func TestLDAPUserOutsideTheAllowedGroupsIsRefused(t *testing.T) {
	gs, _ := startLDAPGate(t, nil)
	b := newBrowser(t, gs.Server)
	r := signInLDAP(t, b, gs, "carol", "pw-carol", "/admin")
	expectStatus(t, r, 403)
	expectNoSessionCookie(t, r)
	if gs.upstream.count() != 0 {
		t.Errorf("the upstream was reached by a refused user")
	}
}

func TestLDAPMemberPassesWithTheGateIdentityOnly(t *testing.T) {
	for name, search := range map[string]*config.LDAPGroupSearch{
		"memberOf":     nil,
		"group search": {Base: "ou=groups," + ldapBaseDN, Filter: "(&(objectClass=groupOfUniqueNames)(uniqueMember={0}))", NameAttribute: "cn"},
	} {
		t.Run(name, func(t *testing.T) {
			gs, d := startLDAPGate(t, search)
			b := newBrowser(t, gs.Server)
			r := signInLDAP(t, b, gs, "alice", "pw-alice", "/admin/topics", spoofedHeaders...)
			expectStatus(t, r, 200)
			if r.body != "helpdesk page /admin/topics" {
				t.Errorf("landed on %q, want the page the sign-in started from", r.body)
			}
			expectOnlyGateIdentity(t, gs.upstream.last(t), "cn=alice,ou="+agentGroup+",ou=users,"+d.BaseDN, agentGroup)
			if got := gs.upstream.last(t).Get(headerEmail); got != "alice@example.com" {
				t.Errorf("%s = %q", headerEmail, got)
			}
		})
	}
}

func TestLDAPLoginWithoutTheFormsTokenIsRefused(t *testing.T) {
	gs, _ := startLDAPGate(t, nil)
	b := newBrowser(t, gs.Server)
	r := b.follow(b.get(gs.URL + "/admin"))
	_, values := formOf(t, r)
	token := values.Get("csrf")
	values.Set("username", "alice")
	values.Set("password", "pw-alice")
	values.Set("csrf", "forged")
	r = b.post(gs.URL+pathLDAPLogin, values)
	expectStatus(t, r, 403)
	expectNoSessionCookie(t, r)
	// A cross-site post is refused even with the right token.
	values.Set("csrf", token)
	r = b.post(gs.URL+pathLDAPLogin, values, "Sec-Fetch-Site", "cross-site")
	expectStatus(t, r, 403)
}

// TestOtherSpellingsOfProtectedPathsAreRefused: a signed-in agent still gets a 404 for a
// spelling of a protected path the edge's agent route would not have matched, so that no
// request reaches them around the agent allow-list; the canonical path passes.
func TestOtherSpellingsOfProtectedPathsAreRefused(t *testing.T) {
	gs, _ := startLDAPGate(t, nil)
	b := newBrowser(t, gs.Server)
	expectStatus(t, signInLDAP(t, b, gs, "alice", "pw-alice", "/admin/topics"), 200)
	before := gs.upstream.count()
	for _, path := range []string{"/admin.json", "/Admin/topics", "/%61dmin/topics", "/api.html", "/ADMIN"} {
		r := b.get(gs.URL + path)
		expectStatus(t, r, 404)
	}
	if gs.upstream.count() != before {
		t.Errorf("a non-canonical spelling reached the upstream")
	}
	for _, path := range []string{"/admin", "/admin/topics/1", "/api/v1/tickets"} {
		expectStatus(t, b.get(gs.URL+path), 200)
	}
}
