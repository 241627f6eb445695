package config

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// ValidationError lists every problem of a configuration, each starting with the JSON path
// of the field it is about, e.g. "oidc.issuerURL: must be an https URL".
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid gate configuration: " + strings.Join(e.Problems, "; ")
}

type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

// Validate checks the configuration (after SetDefaults) without reading any file, and
// returns a *ValidationError naming each bad field.
func (c *Config) Validate() error {
	var p problems
	if c.ListenAddress == "" {
		p.add("listenAddress", "must be set, e.g. :8080")
	}
	if u, err := url.Parse(c.UpstreamURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("upstreamURL", "must be an http(s) URL such as http://helpy:3000")
	}
	checkExternalURL(&p, c.ExternalURL)
	checkPrefixes(&p, c.ProtectedPathPrefixes)
	for i, g := range c.AllowedGroups {
		if strings.TrimSpace(g) == "" {
			p.add(fmt.Sprintf("allowedGroups[%d]", i), "must not be empty")
		}
	}
	if (&http.Cookie{Name: c.Cookie.Name, Value: "x"}).Valid() != nil {
		p.add("cookie.name", "%q is not a valid cookie name", c.Cookie.Name)
	}
	checkFile(&p, "cookie.hashKeyFile", c.Cookie.HashKeyFile, true)
	checkFile(&p, "cookie.blockKeyFile", c.Cookie.BlockKeyFile, true)
	checkSession(&p, c.Session)

	kinds := 0
	for _, set := range []bool{c.OIDC != nil, c.SAML != nil, c.LDAP != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		p.add("oidc/saml/ldap", "exactly one identity provider must be configured, found %d", kinds)
	}
	if c.OIDC != nil {
		c.OIDC.validate(&p, c.MFA)
	}
	if c.SAML != nil {
		c.SAML.validate(&p, c.MFA)
	}
	if c.LDAP != nil {
		c.LDAP.validate(&p, c.MFA)
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

func checkExternalURL(p *problems, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		p.add("externalURL", "must be an https URL such as https://help.example.com")
		return
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p.add("externalURL", "must have no path, query, fragment or user info: the gate serves the whole host")
	}
}

func checkPrefixes(p *problems, prefixes []string) {
	if len(prefixes) == 0 {
		p.add("protectedPathPrefixes", "must list at least one path prefix, e.g. /admin")
	}
	for i, prefix := range prefixes {
		if !strings.HasPrefix(prefix, "/") || path.Clean(prefix) != prefix {
			p.add(fmt.Sprintf("protectedPathPrefixes[%d]", i), "%q must be a clean absolute path such as /admin", prefix)
		}
	}
}

func checkSession(p *problems, s Session) {
	idle, absolute := s.IdleTimeout.Duration, s.AbsoluteTimeout.Duration
	if idle < time.Minute || idle > 24*time.Hour {
		p.add("session.idleTimeout", "must be between 1m and 24h, e.g. 30m")
	}
	if absolute < 5*time.Minute || absolute > 720*time.Hour {
		p.add("session.absoluteTimeout", "must be between 5m and 720h, e.g. 12h")
	}
	if idle > absolute {
		p.add("session.idleTimeout", "must not exceed session.absoluteTimeout")
	}
}

// checkFile requires an absolute path: the gate's working directory is no place to rely on.
func checkFile(p *problems, field, file string, required bool) {
	if file == "" {
		if required {
			p.add(field, "must name a mounted file")
		}
		return
	}
	if !filepath.IsAbs(file) {
		p.add(field, "%q must be an absolute path", file)
	}
}

func checkHTTPSURL(p *problems, field, raw string) {
	if u, err := url.Parse(raw); err != nil || u.Scheme != "https" || u.Host == "" {
		p.add(field, "must be an https URL")
	}
}

func (o *OIDC) validate(p *problems, mfa MFA) {
	checkHTTPSURL(p, "oidc.issuerURL", o.IssuerURL)
	if o.ClientID == "" {
		p.add("oidc.clientID", "must be set")
	}
	checkFile(p, "oidc.clientSecretFile", o.ClientSecretFile, true)
	checkFile(p, "oidc.caFile", o.CAFile, false)
	if o.GroupsClaim == "" {
		p.add("oidc.groupsClaim", "must be set")
	}
	if mfa.Required && len(mfa.AcceptedAMR) == 0 && len(mfa.AcceptedACR) == 0 {
		p.add("mfa.acceptedAMR", "with mfa.required and OIDC, list the amr (or mfa.acceptedACR the acr) values that prove a second factor")
	}
}

func (s *SAML) validate(p *problems, mfa MFA) {
	checkHTTPSURL(p, "saml.metadataURL", s.MetadataURL)
	if s.EntityID == "" {
		p.add("saml.entityID", "must be set")
	}
	if s.Binding != BindingRedirect && s.Binding != BindingPost {
		p.add("saml.binding", "must be %q or %q", BindingRedirect, BindingPost)
	}
	if (s.KeyFile == "") != (s.CertificateFile == "") {
		p.add("saml.keyFile", "saml.keyFile and saml.certificateFile must be set together")
	}
	checkFile(p, "saml.keyFile", s.KeyFile, false)
	checkFile(p, "saml.certificateFile", s.CertificateFile, false)
	checkFile(p, "saml.caFile", s.CAFile, false)
	if s.GroupsAttribute == "" {
		p.add("saml.groupsAttribute", "must be set")
	}
	if mfa.Required && len(mfa.AcceptedAuthnContextClassRefs) == 0 {
		p.add("mfa.acceptedAuthnContextClassRefs", "with mfa.required and SAML, list the AuthnContextClassRefs that prove a second factor")
	}
}

func (l *LDAP) validate(p *problems, mfa MFA) {
	u, err := url.Parse(l.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "ldaps" && u.Scheme != "ldap"):
		p.add("ldap.url", "must look like ldaps://ldap.example.com:636")
	case u.Scheme == "ldap" && !l.StartTLS:
		p.add("ldap.url", "ldap:// needs ldap.startTLS: true, so that passwords never cross the network in clear text")
	case u.Scheme == "ldaps" && l.StartTLS:
		p.add("ldap.startTLS", "must be false with ldaps://, which is TLS already")
	}
	checkFile(p, "ldap.caFile", l.CAFile, false)
	if l.BindDN == "" {
		p.add("ldap.bindDN", "must be set")
	}
	checkFile(p, "ldap.bindPasswordFile", l.BindPasswordFile, true)
	if l.UserSearchBase == "" {
		p.add("ldap.userSearchBase", "must be set")
	}
	if !strings.Contains(l.UserFilter, "{0}") {
		p.add("ldap.userFilter", "must contain {0} where the login goes, e.g. (uid={0})")
	}
	if g := l.GroupSearch; g != nil {
		if g.Base == "" {
			p.add("ldap.groupSearch.base", "must be set")
		}
		if !strings.Contains(g.Filter, "{0}") && !strings.Contains(g.Filter, "{1}") {
			p.add("ldap.groupSearch.filter", "must contain {0} (the user's DN) or {1} (the login), e.g. (member={0})")
		}
	}
	// A directory bind proves a password and nothing more; see the package gate doc.
	if mfa.Required {
		p.add("mfa.required", "LDAP cannot prove a second factor: set mfa.required to false for LDAP, or use an OIDC or SAML provider that enforces MFA")
	}
}
