package gate

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// oidcLogin signs users in with the authorization code flow, PKCE (S256), state and nonce.
type oidcLogin struct {
	g      *Gate
	cfg    *config.OIDC
	client *http.Client
	secret string

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDCLogin(g *Gate, cfg *config.OIDC) (*oidcLogin, error) {
	secret, err := config.ReadSecret("oidc.clientSecretFile", cfg.ClientSecretFile)
	if err != nil {
		return nil, err
	}
	client, err := config.HTTPClient("oidc.caFile", cfg.CAFile)
	if err != nil {
		return nil, err
	}
	return &oidcLogin{g: g, cfg: cfg, client: client, secret: secret}, nil
}

func (o *oidcLogin) name() string { return "oidc" }

func (o *oidcLogin) register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathOIDCCallback, o.callback)
}

// discover fetches the provider's discovery document once it succeeds; until then every
// sign-in tries again.
func (o *oidcLogin) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.oauth != nil {
		return o.oauth, o.verifier, nil
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client), o.cfg.IssuerURL)
	if err != nil {
		return nil, nil, err
	}
	o.oauth = &oauth2.Config{
		ClientID:     o.cfg.ClientID,
		ClientSecret: o.secret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  o.g.absolute(pathOIDCCallback),
		Scopes:       append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...),
	}
	o.verifier = provider.Verifier(&oidc.Config{ClientID: o.cfg.ClientID})
	return o.oauth, o.verifier, nil
}

func (o *oidcLogin) start(w http.ResponseWriter, r *http.Request, returnTo string) {
	oauth, _, err := o.discover(r.Context())
	if err != nil {
		o.g.log.Error("identity provider unreachable", "provider", "oidc", "error", err.Error())
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The identity provider is not reachable right now."})
		return
	}
	flow := newFlow(returnTo)
	flow.Nonce = rand.Text()
	flow.Verifier = oauth2.GenerateVerifier()
	if err := o.g.flows.save(w, flow, http.SameSiteLaxMode); err != nil {
		renderPage(w, http.StatusInternalServerError, pageError, pageData{Message: "The sign-in could not be started."})
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(flow.Verifier), oidc.Nonce(flow.Nonce)}
	if o.g.cfg.MFA.Required && len(o.g.cfg.MFA.RequestACRValues) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(o.g.cfg.MFA.RequestACRValues, " ")))
	}
	http.Redirect(w, r, oauth.AuthCodeURL(flow.State, opts...), http.StatusFound)
}

// callback finishes the flow: state against the flow cookie, code for tokens with the PKCE
// verifier, the ID token's signature, issuer, audience and expiry (go-oidc), then the nonce.
func (o *oidcLogin) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	flow := o.g.flows.load(r, q.Get("state"))
	if flow == nil {
		o.g.log.Warn("sign-in failed", "provider", "oidc", "reason", "state does not match a sign-in of this browser")
		renderPage(w, http.StatusBadRequest, pageError, pageData{Message: "This sign-in expired or was started elsewhere. Please try again."})
		return
	}
	if code := q.Get("error"); code != "" {
		// The error code is a registered token (access_denied, ...); its description is
		// the provider's free text and stays out of the logs.
		o.g.log.Warn("sign-in failed", "provider", "oidc", "reason", "provider answered "+clip(code))
		renderPage(w, http.StatusForbidden, pageRefused, pageData{Message: "The identity provider did not sign you in."})
		return
	}
	oauth, verifier, err := o.discover(r.Context())
	if err != nil {
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The identity provider is not reachable right now."})
		return
	}
	ctx := oidc.ClientContext(r.Context(), o.client)
	token, err := oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		o.g.log.Warn("sign-in failed", "provider", "oidc", "reason", "code exchange: "+oauthErrorCode(err))
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The identity provider refused the sign-in."})
		return
	}
	raw, _ := token.Extra("id_token").(string)
	idToken, err := verifier.Verify(ctx, raw)
	if err != nil || idToken.Nonce != flow.Nonce {
		o.g.log.Warn("sign-in failed", "provider", "oidc", "reason", "ID token missing, invalid or with another nonce")
		renderPage(w, http.StatusUnauthorized, pageError, pageData{Message: "The identity provider's answer could not be verified."})
		return
	}
	id, err := o.identity(idToken)
	if err != nil {
		o.g.log.Warn("sign-in failed", "provider", "oidc", "reason", "unreadable claims")
		renderPage(w, http.StatusUnauthorized, pageError, pageData{Message: "The identity provider's answer could not be read."})
		return
	}
	o.g.admit(w, r, id, flow.ReturnTo)
}

// identity reads the verified ID token's claims: e-mail, groups (claim name configured,
// a list or a single string) and the second-factor evidence amr and acr.
func (o *oidcLogin) identity(t *oidc.IDToken) (identity, error) {
	var claims struct {
		Email string   `json:"email"`
		AMR   []string `json:"amr"`
		ACR   string   `json:"acr"`
	}
	var all map[string]json.RawMessage
	if err := t.Claims(&claims); err != nil {
		return identity{}, err
	}
	if err := t.Claims(&all); err != nil {
		return identity{}, err
	}
	id := identity{Subject: t.Subject, Email: claims.Email}
	if raw, ok := all[o.cfg.GroupsClaim]; ok {
		if err := json.Unmarshal(raw, &id.Groups); err != nil {
			var one string
			if json.Unmarshal(raw, &one) != nil {
				return identity{}, errors.New("groups claim is neither a list nor a string")
			}
			id.Groups = []string{one}
		}
	}
	mfa := o.g.cfg.MFA
	id.SecondFactor = slices.ContainsFunc(claims.AMR, func(v string) bool { return slices.Contains(mfa.AcceptedAMR, v) }) ||
		(claims.ACR != "" && slices.Contains(mfa.AcceptedACR, claims.ACR))
	return id, nil
}

// oauthErrorCode names a failed exchange by the provider's registered error code only:
// the response body may echo what was sent.
func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return clip(re.ErrorCode)
	}
	return "request failed"
}

// clip bounds a provider-chosen string before it reaches a log line.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
