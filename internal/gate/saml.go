package gate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// metadataMaxAge: the identity provider's metadata is fetched again after this long, so a
// rotated signing certificate is picked up without restarting the gate.
const metadataMaxAge = 24 * time.Hour

// samlLogin is a SAML 2.0 service provider: SP-initiated sign-in only (no IdP-initiated
// responses, which no request of this browser asked for), assertions must be signed, and
// each assertion is accepted once per gate process.
type samlLogin struct {
	g           *Gate
	cfg         *config.SAML
	client      *http.Client
	key         crypto.Signer
	certificate *x509.Certificate
	replays     saml.AssertionReplayCache

	mu        sync.Mutex
	sp        *saml.ServiceProvider
	fetchedAt time.Time
}

func newSAMLLogin(g *Gate, cfg *config.SAML) (*samlLogin, error) {
	client, err := config.HTTPClient("saml.caFile", cfg.CAFile)
	if err != nil {
		return nil, err
	}
	s := &samlLogin{g: g, cfg: cfg, client: client, replays: samlsp.NewMemoryReplayCache(10000)}
	if cfg.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(cfg.CertificateFile, cfg.KeyFile)
		if err != nil {
			return nil, errors.New("saml.keyFile/saml.certificateFile: " + err.Error())
		}
		signer, ok := pair.PrivateKey.(crypto.Signer)
		if !ok {
			return nil, errors.New("saml.keyFile: the key cannot sign")
		}
		s.key, s.certificate = signer, pair.Leaf
	}
	return s, nil
}

func (s *samlLogin) name() string { return "saml" }

func (s *samlLogin) register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+pathSAMLACS, s.acs)
	mux.HandleFunc("GET "+pathSAMLMetadata, s.metadata)
}

// serviceProvider returns the service provider with current IdP metadata, fetching it when
// missing or old; a failed refresh keeps the metadata it has.
func (s *samlLogin) serviceProvider(r *http.Request) (*saml.ServiceProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp != nil && time.Since(s.fetchedAt) < metadataMaxAge {
		return s.sp, nil
	}
	metadataURL, err := url.Parse(s.cfg.MetadataURL)
	if err != nil {
		return nil, err
	}
	idp, err := samlsp.FetchMetadata(r.Context(), s.client, *metadataURL)
	if err != nil {
		if s.sp != nil {
			s.g.log.Warn("identity provider metadata refresh failed, keeping the old", "provider", "saml", "error", err.Error())
			return s.sp, nil
		}
		return nil, err
	}
	s.sp, s.fetchedAt = s.newServiceProvider(idp), time.Now()
	return s.sp, nil
}

// newServiceProvider is built afresh on each metadata fetch, so requests in flight keep
// using the one they started with.
func (s *samlLogin) newServiceProvider(idp *saml.EntityDescriptor) *saml.ServiceProvider {
	sp := &saml.ServiceProvider{
		EntityID:                         s.cfg.EntityID,
		Key:                              s.key,
		Certificate:                      s.certificate,
		MetadataURL:                      mustURL(s.g.absolute(pathSAMLMetadata)),
		AcsURL:                           mustURL(s.g.absolute(pathSAMLACS)),
		IDPMetadata:                      idp,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		ReplayCache:                      s.replays,
		RejectSHA1Signatures:             true,
		HTTPClient:                       s.client,
	}
	if s.key != nil {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
		if _, ok := s.key.(*ecdsa.PrivateKey); ok {
			sp.SignatureMethod = dsig.ECDSASHA256SignatureMethod
		}
	}
	if mfa := s.g.cfg.MFA; mfa.Required {
		// Asking is a courtesy to the provider; acs checks what the assertion says.
		sp.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRefs: mfa.AcceptedAuthnContextClassRefs}
	}
	return sp
}

func (s *samlLogin) start(w http.ResponseWriter, r *http.Request, returnTo string) {
	sp, err := s.serviceProvider(r)
	if err != nil {
		s.g.log.Error("identity provider unreachable", "provider", "saml", "error", err.Error())
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The identity provider is not reachable right now."})
		return
	}
	binding := saml.HTTPRedirectBinding
	if s.cfg.Binding == config.BindingPost {
		binding = saml.HTTPPostBinding
	}
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(binding), binding, saml.HTTPPostBinding)
	if err != nil {
		s.g.log.Error("cannot make an AuthnRequest", "provider", "saml", "error", err.Error())
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The identity provider does not offer the configured binding."})
		return
	}
	flow := newFlow(returnTo)
	flow.RequestID = req.ID
	if err := s.g.flows.save(w, flow, http.SameSiteNoneMode); err != nil {
		renderPage(w, http.StatusInternalServerError, pageError, pageData{Message: "The sign-in could not be started."})
		return
	}
	// RelayState is the random flow state, never the return path: nothing the
	// provider echoes back can steer the redirect after sign-in.
	if binding == saml.HTTPRedirectBinding {
		target, err := req.Redirect(flow.State, sp)
		if err != nil {
			renderPage(w, http.StatusInternalServerError, pageError, pageData{Message: "The sign-in could not be started."})
			return
		}
		http.Redirect(w, r, target.String(), http.StatusFound)
		return
	}
	nonce := rand.Text()
	renderPage(w, http.StatusOK, pageSAMLPost, pageData{Form: htmlOf(req.PostWithNonce(flow.State, nonce)), Nonce: nonce})
}

// acs receives the provider's response: RelayState against the flow cookie, then
// crewjam/saml checks signature, issuer, audience, destination, times, InResponseTo
// (our request's ID) and replay.
func (s *samlLogin) acs(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		renderPage(w, http.StatusBadRequest, pageError, pageData{Message: "The sign-in response could not be read."})
		return
	}
	flow := s.g.flows.load(r, r.PostForm.Get("RelayState"))
	if flow == nil {
		s.g.log.Warn("sign-in failed", "provider", "saml", "reason", "RelayState does not match a sign-in of this browser")
		renderPage(w, http.StatusBadRequest, pageError, pageData{Message: "This sign-in expired or was started elsewhere. Please try again."})
		return
	}
	sp, err := s.serviceProvider(r)
	if err != nil {
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The identity provider is not reachable right now."})
		return
	}
	assertion, err := sp.ParseResponse(r, []string{flow.RequestID})
	if err != nil {
		s.g.log.Warn("sign-in failed", "provider", "saml", "reason", samlFailure(err))
		renderPage(w, http.StatusUnauthorized, pageError, pageData{Message: "The identity provider's answer could not be verified."})
		return
	}
	s.g.admit(w, r, s.identity(assertion), flow.ReturnTo)
}

func (s *samlLogin) identity(a *saml.Assertion) identity {
	var id identity
	if a.Subject != nil && a.Subject.NameID != nil {
		id.Subject = a.Subject.NameID.Value
	}
	for _, statement := range a.AttributeStatements {
		for _, attr := range statement.Attributes {
			for _, v := range attr.Values {
				switch s.cfg.GroupsAttribute {
				case attr.Name, attr.FriendlyName:
					id.Groups = append(id.Groups, v.Value)
				}
				if (attr.Name == s.cfg.EmailAttribute || attr.FriendlyName == s.cfg.EmailAttribute) && id.Email == "" {
					id.Email = v.Value
				}
			}
		}
	}
	accepted := s.g.cfg.MFA.AcceptedAuthnContextClassRefs
	for _, statement := range a.AuthnStatements {
		if ref := statement.AuthnContext.AuthnContextClassRef; ref != nil && slices.Contains(accepted, ref.Value) {
			id.SecondFactor = true
		}
	}
	return id
}

// metadata serves the service provider's metadata, to register the gate with the provider.
func (s *samlLogin) metadata(w http.ResponseWriter, r *http.Request) {
	sp, err := s.serviceProvider(r)
	if err != nil {
		renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The identity provider is not reachable right now."})
		return
	}
	body, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		http.Error(w, "metadata could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(body)
}

// samlFailure names why a response was refused by crewjam/saml's error classes only: the
// detailed error may quote the assertion, and with it the user's NameID.
func samlFailure(err error) string {
	for _, known := range []error{
		saml.ErrInvalidSignature, saml.ErrUntrustedCertificate, saml.ErrCertificateNotValidNow,
		saml.ErrExpired, saml.ErrNotYetValid, saml.ErrIssuerMismatch, saml.ErrDestinationMismatch,
		saml.ErrRequestIDMismatch, saml.ErrAudienceMismatch, saml.ErrAssertionReplayed,
		saml.ErrDecryptionFailed, saml.ErrMissingElement, saml.ErrMalformedMessage, saml.ErrUnsupported,
	} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	var bad saml.ErrBadStatus
	if errors.As(err, &bad) {
		return "status " + clip(bad.Status)
	}
	return "invalid response"
}

func mustURL(raw string) url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err) // built from the validated external URL and constant paths
	}
	return *u
}
