package gate

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// flowLifetime bounds a sign-in: from leaving for the provider to coming back.
const flowLifetime = 10 * time.Minute

// loginFlow is the state of one sign-in in progress, kept in its own short-lived cookie so
// that every gate replica can finish what another started.
type loginFlow struct {
	// State is the OIDC state, the SAML RelayState, or the LDAP form's CSRF token.
	State string `json:"state"`
	// Nonce and Verifier (PKCE) are OIDC's.
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"pkce,omitempty"`
	// RequestID is the SAML AuthnRequest's ID, which the response must answer.
	RequestID string `json:"req,omitempty"`
	// ReturnTo is the local path the sign-in started from.
	ReturnTo string `json:"to"`
}

type flows struct {
	name  string
	codec *securecookie.SecureCookie
}

func newFlows(sessionCookie string, keys config.CookieKeys) *flows {
	codec := securecookie.New(keys.Hash, keys.Block)
	codec.SetSerializer(securecookie.JSONEncoder{})
	codec.MaxAge(int(flowLifetime.Seconds()))
	// The cookie name is part of what securecookie signs, so a flow cookie can never be
	// passed off as a session or the other way round.
	return &flows{name: sessionCookie + "-login", codec: codec}
}

// newFlow starts a sign-in with a fresh random state.
func newFlow(returnTo string) *loginFlow {
	return &loginFlow{State: rand.Text(), ReturnTo: returnTo}
}

// save sets the flow cookie. sameSite is None only for SAML, whose response arrives as a
// cross-site POST that would not carry a Lax cookie.
func (f *flows) save(w http.ResponseWriter, flow *loginFlow, sameSite http.SameSite) error {
	value, err := f.codec.Encode(f.name, flow)
	if err != nil {
		return err
	}
	http.SetCookie(w, hostCookie(f.name, value, int(flowLifetime.Seconds()), sameSite))
	return nil
}

// load returns the flow whose state matches state, or nil.
func (f *flows) load(r *http.Request, state string) *loginFlow {
	flow := f.current(r)
	if flow == nil || state == "" || subtle.ConstantTimeCompare([]byte(flow.State), []byte(state)) != 1 {
		return nil
	}
	return flow
}

// current returns the flow cookie's content without checking a state, or nil.
func (f *flows) current(r *http.Request) *loginFlow {
	cookie, err := r.Cookie(f.name)
	if err != nil {
		return nil
	}
	var flow loginFlow
	if err := f.codec.Decode(f.name, cookie.Value, &flow); err != nil {
		return nil
	}
	return &flow
}

func (f *flows) clear(w http.ResponseWriter) {
	http.SetCookie(w, hostCookie(f.name, "", -1, http.SameSiteLaxMode))
}
