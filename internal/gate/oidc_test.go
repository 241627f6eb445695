package gate

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

const agentGroup = "helpdesk-agents"

// The test provider's users: what their ID tokens carry.
var oidcUsers = []oidcUser{
	{id: "agent-otp", groups: []string{"staff", agentGroup}, amr: []string{"pwd", "otp"}},
	{id: "agent-key", groups: []string{agentGroup}, amr: []string{"hwk", "user"}},
	{id: "agent-acr", groups: []string{agentGroup}, amr: []string{"pwd"}, acr: "phr"},
	{id: "agent-pwd", groups: []string{agentGroup}, amr: []string{"pwd"}},
	{id: "customer", groups: []string{"customers"}, amr: []string{"pwd", "otp"}},
	{id: "nogroups", amr: []string{"pwd", "otp"}},
}

// startOIDCGate runs the test provider and a gate signing in with it: agents group only,
// MFA required with the AccessPolicy default methods (TOTP, WebAuthn), acr "phr" accepted
// too, and acr_values asked for.
func startOIDCGate(t *testing.T) (*gateServer, *oidcProvider) {
	gs := listenGate(t)
	idp := startOIDCProvider(t, gs.URL+pathOIDCCallback, oidcUsers...)
	cfg := gs.baseConfig(t)
	cfg.AllowedGroups = []string{agentGroup}
	cfg.MFA = config.MFAFor(true, []string{config.MethodTOTP, config.MethodWebAuthn})
	cfg.MFA.AcceptedACR = []string{"phr"}
	cfg.MFA.RequestACRValues = []string{"phr", "mfa"}
	cfg.OIDC = &config.OIDC{
		IssuerURL:        idp.URL,
		ClientID:         oidcClientID,
		ClientSecretFile: writeFile(t, t.TempDir(), "client-secret", oidcClientSecret+"\n"),
		CAFile:           testCAFile(t, idp.Server),
	}
	gs.start(t, cfg)
	return gs, idp
}

// signInOIDC opens path as user and follows the whole round trip through the provider.
func signInOIDC(t *testing.T, b *browser, gs *gateServer, idp *oidcProvider, user, path string, headers ...string) *response {
	t.Helper()
	idp.signInAs(user)
	return b.follow(b.get(gs.URL+path, headers...))
}

func TestOIDCUnauthenticatedRequestIsRedirectedToTheProvider(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)

	r := b.get(gs.URL + "/admin/tickets?status=open")
	expectStatus(t, r, 302)
	to, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(to.String(), idp.URL+"/authorize?") {
		t.Fatalf("redirected to %s, want the provider's authorization endpoint", to)
	}
	q := to.Query()
	for param, want := range map[string]string{
		"response_type": "code", "client_id": oidcClientID, "code_challenge_method": "S256",
		"redirect_uri": gs.URL + pathOIDCCallback, "acr_values": "phr mfa",
	} {
		if got := q.Get(param); got != want {
			t.Errorf("%s = %q, want %q", param, got, want)
		}
	}
	for _, param := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(param)) < 20 {
			t.Errorf("%s = %q, want a random value", param, q.Get(param))
		}
	}
	if gs.upstream.count() != 0 {
		t.Errorf("the upstream was reached without a session")
	}
	// The portal is not protected: it is passed through without a session.
	expectStatus(t, b.get(gs.URL+"/en/knowledgebase"), 200)
}

func TestOIDCUserOutsideTheAllowedGroupsIsRefused(t *testing.T) {
	gs, idp := startOIDCGate(t)
	for _, user := range []string{"customer", "nogroups"} {
		b := newBrowser(t, gs.Server)
		r := signInOIDC(t, b, gs, idp, user, "/admin")
		expectStatus(t, r, 403)
		expectNoSessionCookie(t, r)
		if !strings.Contains(r.body, "not in a group allowed") {
			t.Errorf("%s: refusal page does not say why: %s", user, r.body)
		}
		// Still no session: the next request goes to the provider again.
		expectStatus(t, b.get(gs.URL+"/admin"), 302)
	}
	if gs.upstream.count() != 0 {
		t.Errorf("the upstream was reached by a refused user")
	}
}

func TestOIDCWithoutSecondFactorIsRefused(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)
	r := signInOIDC(t, b, gs, idp, "agent-pwd", "/admin")
	expectStatus(t, r, 403)
	expectNoSessionCookie(t, r)
	if !strings.Contains(r.body, "second factor") {
		t.Errorf("refusal page does not say why: %s", r.body)
	}
	expectStatus(t, b.get(gs.URL+"/admin"), 302)
	if gs.upstream.count() != 0 {
		t.Errorf("the upstream was reached without a second factor")
	}
}

func TestOIDCSecondFactorPassesWithTheGateIdentityOnly(t *testing.T) {
	gs, idp := startOIDCGate(t)
	for _, user := range []string{"agent-otp", "agent-key", "agent-acr"} {
		t.Run(user, func(t *testing.T) {
			b := newBrowser(t, gs.Server)
			r := signInOIDC(t, b, gs, idp, user, "/admin/tickets?status=open")
			expectStatus(t, r, 200)
			if r.body != "helpdesk page /admin/tickets" || r.Request.URL.RawQuery != "status=open" {
				t.Errorf("landed on %s with %q, want the page the sign-in started from", r.Request.URL, r.body)
			}
			// The next request carries forged identity headers: only the gate's arrive.
			expectStatus(t, b.get(gs.URL+"/api/v1/tickets", spoofedHeaders...), 200)
			got := gs.upstream.last(t)
			expectOnlyGateIdentity(t, got, user, agentGroup)
			if got.Get(headerEmail) != user+"@example.com" {
				t.Errorf("%s = %q", headerEmail, got.Get(headerEmail))
			}
		})
	}
}

func TestOIDCCallbackWithAnotherStateIsRefused(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)
	idp.signInAs("agent-otp")
	r := b.get(gs.URL + "/admin")
	expectStatus(t, r, 302)
	// Walk the provider's side by hand and swap the state on the way back.
	for isRedirect(r.StatusCode) && !strings.HasPrefix(r.Header.Get("Location"), gs.URL) {
		next, _ := r.Request.URL.Parse(r.Header.Get("Location"))
		r = b.get(next.String())
	}
	back, _ := url.Parse(r.Header.Get("Location"))
	q := back.Query()
	q.Set("state", "forged-state-forged-state")
	back.RawQuery = q.Encode()
	r = b.get(back.String())
	expectStatus(t, r, 400)
	expectNoSessionCookie(t, r)
}

func TestSessionEndsAfterIdleTimeout(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)
	expectStatus(t, signInOIDC(t, b, gs, idp, "agent-otp", "/admin"), 200)

	// Within a tenth of the idle timeout the cookie is left alone.
	gs.clock.Advance(testIdle / 20)
	r := b.get(gs.URL + "/admin")
	expectStatus(t, r, 200)
	if len(r.Cookies()) != 0 {
		t.Errorf("the cookie was rewritten on a request soon after the last: %v", r.Cookies())
	}
	// Activity just inside the limit keeps the session, and now last-seen slides. (The
	// cookie keeps whole seconds, so "just inside" is a second inside.)
	gs.clock.Advance(testIdle - testIdle/20 - time.Second)
	r = b.get(gs.URL + "/admin")
	expectStatus(t, r, 200)
	if len(r.Cookies()) != 1 {
		t.Errorf("last-seen was not slid forward: cookies %v", r.Cookies())
	}
	// No request for longer than the idle timeout: sign in again.
	gs.clock.Advance(testIdle + 1)
	r = b.get(gs.URL + "/admin")
	expectStatus(t, r, 302)
	if !strings.HasPrefix(r.Header.Get("Location"), idp.URL) {
		t.Errorf("idle session redirected to %s, want the provider", r.Header.Get("Location"))
	}
	if !strings.Contains(gs.logs.String(), "idle timeout") {
		t.Errorf("the log does not say why the session ended")
	}
}

func TestSessionEndsAtAbsoluteTimeoutDespiteActivity(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)
	expectStatus(t, signInOIDC(t, b, gs, idp, "agent-otp", "/admin"), 200)

	step := testIdle / 2
	elapsed := 0 * step
	for elapsed+step < testAbsolute {
		gs.clock.Advance(step)
		elapsed += step
		expectStatus(t, b.get(gs.URL+"/admin"), 200)
	}
	gs.clock.Advance(testAbsolute - elapsed)
	r := b.get(gs.URL + "/admin")
	expectStatus(t, r, 302)
	if !strings.HasPrefix(r.Header.Get("Location"), idp.URL) {
		t.Errorf("expired session redirected to %s, want the provider", r.Header.Get("Location"))
	}
	if !strings.Contains(gs.logs.String(), "absolute timeout") {
		t.Errorf("the log does not say why the session ended")
	}
	// Signing in again gives a new session.
	expectStatus(t, signInOIDC(t, b, gs, idp, "agent-otp", "/admin"), 200)
}

func TestTamperedOrForeignCookieIsNoSession(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)
	expectStatus(t, signInOIDC(t, b, gs, idp, "agent-otp", "/admin"), 200)
	good := b.cookie(gs.URL, config.DefaultCookieName)
	if good == nil {
		t.Fatal("no session cookie after sign-in")
	}

	// Another instance's gate (other keys) signs a user in; its cookie is foreign here.
	other, otherIDP := startOIDCGate(t)
	ob := newBrowser(t, other.Server)
	expectStatus(t, signInOIDC(t, ob, other, otherIDP, "agent-otp", "/admin"), 200)
	foreign := ob.cookie(other.URL, config.DefaultCookieName).Value

	flipped := []byte(good.Value)
	flipped[len(flipped)/2] ^= 1
	for name, value := range map[string]string{"tampered": string(flipped), "foreign": foreign, "truncated": good.Value[:len(good.Value)-4]} {
		t.Run(name, func(t *testing.T) {
			before := gs.upstream.count()
			b.setCookie(gs.URL, config.DefaultCookieName, value)
			r := b.get(gs.URL + "/admin")
			expectStatus(t, r, 302)
			if gs.upstream.count() != before {
				t.Errorf("the upstream was reached with a %s cookie", name)
			}
		})
	}
	b.setCookie(gs.URL, config.DefaultCookieName, good.Value)
	expectStatus(t, b.get(gs.URL+"/admin"), 200)
}

func TestSpoofedIdentityHeadersNeverReachTheUpstream(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)

	// Unprotected path, no session: forwarded without any identity.
	expectStatus(t, b.get(gs.URL+"/tickets/new", spoofedHeaders...), 200)
	got := gs.upstream.last(t)
	for name := range got {
		if isIdentityHeader(name) {
			t.Errorf("identity header %s reached the upstream on a public path: %q", name, got.Values(name))
		}
	}
	// Protected path: the forged headers ride along the whole sign-in and after it.
	r := signInOIDC(t, b, gs, idp, "agent-otp", "/admin", spoofedHeaders...)
	expectStatus(t, r, 200)
	expectStatus(t, b.get(gs.URL+"/admin", spoofedHeaders...), 200)
	expectOnlyGateIdentity(t, gs.upstream.last(t), "agent-otp", agentGroup)
}

func TestLogoutEndsTheSession(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)
	expectStatus(t, signInOIDC(t, b, gs, idp, "agent-otp", "/admin"), 200)
	expectStatus(t, b.post(gs.URL+pathLogout, nil), 200)
	expectStatus(t, b.get(gs.URL+"/admin"), 302)
}

func TestLogsNameNoUserNorSecret(t *testing.T) {
	gs, idp := startOIDCGate(t)
	b := newBrowser(t, gs.Server)
	expectStatus(t, signInOIDC(t, b, gs, idp, "agent-otp", "/admin"), 200)
	expectStatus(t, signInOIDC(t, newBrowser(t, gs.Server), gs, idp, "agent-pwd", "/admin"), 403)
	logs := gs.logs.String()
	cookie := b.cookie(gs.URL, config.DefaultCookieName).Value
	for _, secret := range []string{"agent-otp", "agent-pwd", "@example.com", oidcClientSecret, cookie} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, gs.gate.subjectTag("agent-otp")) {
		t.Errorf("the log does not name the user by its tag:\n%s", logs)
	}
}
