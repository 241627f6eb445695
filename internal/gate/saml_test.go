package gate

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

const classPassword = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

var samlUsers = []samlUser{
	{name: "agent-mfa", groups: []string{"staff", agentGroup}, classRef: config.ClassREFEDSMFA},
	{name: "agent-pwd", groups: []string{agentGroup}, classRef: classPassword},
	{name: "customer", groups: []string{"customers"}, classRef: config.ClassREFEDSMFA},
}

// startSAMLGate runs the test identity provider and a gate signing in with it: agents
// group only, MFA required, requests sent with binding. Post requests are signed (XML
// signature); redirect ones are not, because samlidp's login form posts the request back
// to itself without the redirect binding's query signature and then refuses it.
func startSAMLGate(t *testing.T, binding string) (*gateServer, *samlProvider) {
	gs := listenGate(t)
	idp := startSAMLProvider(t, samlUsers...)
	cfg := gs.baseConfig(t)
	cfg.AllowedGroups = []string{agentGroup}
	cfg.MFA = config.MFAFor(true, []string{config.MethodTOTP, config.MethodWebAuthn})
	cfg.SAML = &config.SAML{
		MetadataURL: idp.URL + "/metadata",
		Binding:     binding,
		// samlidp sends groups as eduPersonAffiliation.
		GroupsAttribute: "eduPersonAffiliation",
		CAFile:          testCAFile(t, idp.Server),
	}
	if binding == config.BindingPost {
		spKey, spCert := selfSignedCert(t, "helpdesk gate")
		cfg.SAML.KeyFile, cfg.SAML.CertificateFile = pemFiles(t, spKey, spCert)
	}
	gs.start(t, cfg)
	idp.register(t, newBrowser(t, gs.Server), gs.URL)
	return gs, idp
}

// signInSAML opens path as user: to the provider, through its login form, and back with
// the provider's auto-posted response to the gate's ACS. It returns the gate's answer to
// that post, followed.
func signInSAML(t *testing.T, b *browser, gs *gateServer, user, path string, headers ...string) *response {
	t.Helper()
	r := b.get(gs.URL+path, headers...)
	if r.StatusCode == 200 { // post binding: the gate's auto-submitting form
		action, values := formOf(t, r)
		r = b.post(action, values)
	} else {
		r = b.follow(r)
	}
	expectStatus(t, r, 200) // the provider's login form
	action, values := formOf(t, r)
	values.Set("user", user)
	values.Set("password", "pw-"+user)
	r = b.post(action, values)
	expectStatus(t, r, 200) // the provider's auto-posting response form
	action, values = formOf(t, r)
	if action != gs.URL+pathSAMLACS || values.Get("SAMLResponse") == "" {
		t.Fatalf("the provider answered with a form to %s, want the gate's ACS with a SAMLResponse", action)
	}
	return b.follow(b.post(action, values, headers...))
}

func TestSAMLUnauthenticatedRequestSendsAnAuthnRequest(t *testing.T) {
	t.Run("redirect binding", func(t *testing.T) {
		gs, idp := startSAMLGate(t, config.BindingRedirect)
		r := newBrowser(t, gs.Server).get(gs.URL + "/admin")
		expectStatus(t, r, 302)
		to, _ := url.Parse(r.Header.Get("Location"))
		if !strings.HasPrefix(to.String(), idp.URL+"/sso?") || to.Query().Get("SAMLRequest") == "" {
			t.Fatalf("redirected to %s, want an AuthnRequest to the provider's SSO URL", to)
		}
		if relay := to.Query().Get("RelayState"); relay == "" || strings.Contains(relay, "admin") {
			t.Errorf("RelayState %q must be the random flow state, not the return path", relay)
		}
	})
	t.Run("post binding", func(t *testing.T) {
		gs, idp := startSAMLGate(t, config.BindingPost)
		r := newBrowser(t, gs.Server).get(gs.URL + "/admin")
		expectStatus(t, r, 200)
		action, values := formOf(t, r)
		if action != idp.URL+"/sso" || values.Get("SAMLRequest") == "" {
			t.Fatalf("form posts to %s, want an AuthnRequest to the provider's SSO URL", action)
		}
		if request, _ := base64.StdEncoding.DecodeString(values.Get("SAMLRequest")); !strings.Contains(string(request), "SignatureValue") {
			t.Errorf("the AuthnRequest is not signed")
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") {
			t.Errorf("the auto-post page runs its script without a nonce CSP: %q", csp)
		}
	})
}

func TestSAMLUserOutsideTheAllowedGroupsIsRefused(t *testing.T) {
	gs, _ := startSAMLGate(t, config.BindingRedirect)
	b := newBrowser(t, gs.Server)
	r := signInSAML(t, b, gs, "customer", "/admin")
	expectStatus(t, r, 403)
	expectNoSessionCookie(t, r)
	expectStatus(t, b.get(gs.URL+"/admin"), 302)
	if gs.upstream.count() != 0 {
		t.Errorf("the upstream was reached by a refused user")
	}
}

func TestSAMLWithoutSecondFactorClassIsRefused(t *testing.T) {
	gs, _ := startSAMLGate(t, config.BindingRedirect)
	b := newBrowser(t, gs.Server)
	r := signInSAML(t, b, gs, "agent-pwd", "/admin")
	expectStatus(t, r, 403)
	expectNoSessionCookie(t, r)
	if !strings.Contains(r.body, "second factor") {
		t.Errorf("refusal page does not say why: %s", r.body)
	}
	if gs.upstream.count() != 0 {
		t.Errorf("the upstream was reached without a second factor")
	}
}

func TestSAMLSecondFactorPassesWithTheGateIdentityOnly(t *testing.T) {
	for _, binding := range []string{config.BindingRedirect, config.BindingPost} {
		t.Run(binding, func(t *testing.T) {
			gs, _ := startSAMLGate(t, binding)
			b := newBrowser(t, gs.Server)
			r := signInSAML(t, b, gs, "agent-mfa", "/admin/dashboard", spoofedHeaders...)
			expectStatus(t, r, 200)
			if r.body != "helpdesk page /admin/dashboard" {
				t.Errorf("landed on %q, want the page the sign-in started from", r.body)
			}
			// samlidp's NameID is the e-mail address.
			expectOnlyGateIdentity(t, gs.upstream.last(t), "agent-mfa@example.com", agentGroup)
			if strings.Contains(gs.logs.String(), "agent-mfa") {
				t.Errorf("the log names the user:\n%s", gs.logs.String())
			}
		})
	}
}

func TestSAMLResponseIsBoundToTheBrowserThatAsked(t *testing.T) {
	gs, _ := startSAMLGate(t, config.BindingRedirect)
	b := newBrowser(t, gs.Server)
	r := b.follow(b.get(gs.URL + "/admin"))
	action, values := formOf(t, r)
	values.Set("user", "agent-mfa")
	values.Set("password", "pw-agent-mfa")
	action, values = formOf(t, b.post(action, values))
	expectStatus(t, b.follow(b.post(action, values)), 200)
	// The same response again, from an attacker's browser that never asked for it.
	r = newBrowser(t, gs.Server).post(action, values)
	if r.StatusCode == 303 || r.StatusCode == 200 {
		t.Fatalf("a captured SAML response was accepted in another browser: %d", r.StatusCode)
	}
	expectNoSessionCookie(t, r)
}
