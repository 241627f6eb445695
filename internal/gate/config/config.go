// Package config is the access gate's configuration: the JSON document the operator renders
// into a Secret from an AccessPolicy and the gate reads at start-up. It holds no secret
// values, only the paths of mounted files that hold them (client secrets, bind passwords,
// private keys, cookie keys), so the rendered document can be shown, diffed and logged.
//
// Validate checks the document's shape without touching the file system, so the operator
// can call it before it renders; LoadSecrets reads the files, in the gate.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Config is the whole gate configuration. Exactly one of OIDC, SAML and LDAP is set.
type Config struct {
	// ListenAddress the gate serves on, e.g. ":8080" (TLS is terminated in front of it).
	ListenAddress string `json:"listenAddress"`
	// UpstreamURL is the helpdesk behind the gate, e.g. http://acme-helpy:3000.
	UpstreamURL string `json:"upstreamURL"`
	// ExternalURL is how browsers reach the gate, an https URL without a path, e.g.
	// https://help.acme.example; redirect, callback and ACS URLs are built from it.
	ExternalURL string `json:"externalURL"`
	// ProtectedPathPrefixes need a session; every other path is passed through without
	// one (the customer portal). For Helpy: ["/admin", "/api"].
	ProtectedPathPrefixes []string `json:"protectedPathPrefixes"`
	// AllowedGroups, when set, admits only members of at least one of these groups.
	AllowedGroups []string `json:"allowedGroups,omitempty"`

	Cookie  Cookie  `json:"cookie"`
	Session Session `json:"session"`
	MFA     MFA     `json:"mfa"`

	OIDC *OIDC `json:"oidc,omitempty"`
	SAML *SAML `json:"saml,omitempty"`
	LDAP *LDAP `json:"ldap,omitempty"`
}

// Cookie names the session cookie and the files with its keys. Each key file holds the
// key as standard base64 (the operator keeps the keys in Vault and mounts them).
type Cookie struct {
	// Name of the session cookie; the __Host- prefix makes browsers enforce that it is
	// Secure, host-only and for path /. Default "__Host-helpdesk-gate".
	Name string `json:"name,omitempty"`
	// HashKeyFile holds the HMAC-SHA256 key that signs the cookie: 32 to 64 bytes.
	HashKeyFile string `json:"hashKeyFile"`
	// BlockKeyFile holds the AES-256 key that encrypts the cookie: exactly 32 bytes.
	BlockKeyFile string `json:"blockKeyFile"`
}

// Session limits a signed-in session, as AccessPolicy spec.session does.
type Session struct {
	// IdleTimeout: no request for longer than this means signing in again (1m to 24h).
	IdleTimeout metav1.Duration `json:"idleTimeout"`
	// AbsoluteTimeout: no session outlives this, active or not (5m to 720h).
	AbsoluteTimeout metav1.Duration `json:"absoluteTimeout"`
}

// MFA says whether a second factor is required and what evidence of it the gate accepts.
// The operator renders the lists from AccessPolicy spec.mfa.methods with EvidenceFor.
type MFA struct {
	Required bool `json:"required"`
	// AcceptedAMR: an OIDC ID token passes when its amr claim holds one of these values
	// (RFC 8176), e.g. otp, hwk, swk, mfa.
	AcceptedAMR []string `json:"acceptedAMR,omitempty"`
	// AcceptedACR: an OIDC ID token also passes when its acr claim is one of these.
	AcceptedACR []string `json:"acceptedACR,omitempty"`
	// RequestACRValues are sent as acr_values to ask the provider for a second factor;
	// asking proves nothing, the returned amr or acr is still checked.
	RequestACRValues []string `json:"requestACRValues,omitempty"`
	// AcceptedAuthnContextClassRefs: a SAML assertion passes when one of its
	// AuthnStatements carries one of these AuthnContextClassRefs; they are also sent as
	// the AuthnRequest's RequestedAuthnContext.
	AcceptedAuthnContextClassRefs []string `json:"acceptedAuthnContextClassRefs,omitempty"`
}

// OIDC configures an OpenID Connect provider (authorization code flow with PKCE).
type OIDC struct {
	// IssuerURL is the provider's issuer, an https URL.
	IssuerURL string `json:"issuerURL"`
	ClientID  string `json:"clientID"`
	// ClientSecretFile holds the client secret.
	ClientSecretFile string `json:"clientSecretFile"`
	// Scopes besides openid; default ["email", "profile", "groups"].
	Scopes []string `json:"scopes,omitempty"`
	// GroupsClaim names the ID token claim with the user's groups; default "groups".
	GroupsClaim string `json:"groupsClaim,omitempty"`
	// CAFile, optional, holds the PEM bundle that signs the provider's certificate;
	// empty uses the system roots.
	CAFile string `json:"caFile,omitempty"`
}

// SAML binding names for AuthnRequests.
const (
	BindingRedirect = "redirect"
	BindingPost     = "post"
)

// SAML configures a SAML 2.0 identity provider; the gate is the service provider.
type SAML struct {
	// MetadataURL is the identity provider's metadata, an https URL.
	MetadataURL string `json:"metadataURL"`
	// EntityID of the gate as service provider; default <externalURL>/_gate/saml/metadata.
	EntityID string `json:"entityID,omitempty"`
	// Binding sends AuthnRequests by "redirect" (HTTP-Redirect, the default) or "post".
	Binding string `json:"binding,omitempty"`
	// KeyFile and CertificateFile, optional and together, hold the service provider's
	// PEM private key and certificate: requests are then signed, and encrypted
	// assertions can be read.
	KeyFile         string `json:"keyFile,omitempty"`
	CertificateFile string `json:"certificateFile,omitempty"`
	// GroupsAttribute names the attribute with the user's groups; default "groups".
	GroupsAttribute string `json:"groupsAttribute,omitempty"`
	// EmailAttribute names the attribute with the e-mail address; default "mail".
	EmailAttribute string `json:"emailAttribute,omitempty"`
	// CAFile, optional, holds the PEM bundle that signs the metadata server's certificate.
	CAFile string `json:"caFile,omitempty"`
}

// LDAP configures a directory: the gate serves a login form, finds the user with the
// service account, and binds as the user to check the password.
type LDAP struct {
	// URL of the directory: ldaps://host:636, or ldap:// together with StartTLS.
	URL      string `json:"url"`
	StartTLS bool   `json:"startTLS,omitempty"`
	// CAFile, optional, holds the PEM bundle that signs the directory's certificate.
	CAFile string `json:"caFile,omitempty"`
	// BindDN and BindPasswordFile are the service account that searches for users.
	BindDN           string `json:"bindDN"`
	BindPasswordFile string `json:"bindPasswordFile"`
	// UserSearchBase and UserFilter find the user; {0} in the filter is the login,
	// escaped. Default filter "(uid={0})".
	UserSearchBase string `json:"userSearchBase"`
	UserFilter     string `json:"userFilter,omitempty"`
	// EmailAttribute of the user entry; default "mail".
	EmailAttribute string `json:"emailAttribute,omitempty"`
	// GroupAttribute of the user entry lists the user's groups as DNs; default
	// "memberOf". Ignored when GroupSearch is set.
	GroupAttribute string `json:"groupAttribute,omitempty"`
	// GroupSearch, for directories without memberOf, finds the groups that list the user.
	GroupSearch *LDAPGroupSearch `json:"groupSearch,omitempty"`
}

// LDAPGroupSearch finds a user's groups by searching for them.
type LDAPGroupSearch struct {
	// Base is the subtree the groups are in, e.g. ou=groups,dc=example,dc=com.
	Base string `json:"base"`
	// Filter selects the user's groups: {0} is the user's DN and {1} the login, both
	// escaped, e.g. (member={0}) or (memberUid={1}).
	Filter string `json:"filter"`
	// NameAttribute of a group entry is its name, compared with allowedGroups; default "cn".
	NameAttribute string `json:"nameAttribute,omitempty"`
}

// Defaults.
const (
	DefaultCookieName     = "__Host-helpdesk-gate"
	DefaultListenAddress  = ":8080"
	DefaultGroupsClaim    = "groups"
	DefaultSAMLGroups     = "groups"
	DefaultEmailAttribute = "mail"
	DefaultUserFilter     = "(uid={0})"
	DefaultGroupAttribute = "memberOf"
	DefaultGroupName      = "cn"
)

// DefaultScopes are requested besides openid when OIDC.Scopes is empty.
var DefaultScopes = []string{"email", "profile", "groups"}

// Load reads the JSON document at path, refusing unknown fields (a typo must not silently
// drop a setting), fills in defaults and validates it.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// SetDefaults fills in every optional field left empty.
func (c *Config) SetDefaults() {
	setDefault(&c.ListenAddress, DefaultListenAddress)
	setDefault(&c.Cookie.Name, DefaultCookieName)
	if o := c.OIDC; o != nil {
		setDefault(&o.GroupsClaim, DefaultGroupsClaim)
		if len(o.Scopes) == 0 {
			o.Scopes = append([]string(nil), DefaultScopes...)
		}
	}
	if s := c.SAML; s != nil {
		setDefault(&s.Binding, BindingRedirect)
		setDefault(&s.GroupsAttribute, DefaultSAMLGroups)
		setDefault(&s.EmailAttribute, DefaultEmailAttribute)
		setDefault(&s.EntityID, c.ExternalURL+"/_gate/saml/metadata")
	}
	if l := c.LDAP; l != nil {
		setDefault(&l.UserFilter, DefaultUserFilter)
		setDefault(&l.EmailAttribute, DefaultEmailAttribute)
		setDefault(&l.GroupAttribute, DefaultGroupAttribute)
		if g := l.GroupSearch; g != nil {
			setDefault(&g.NameAttribute, DefaultGroupName)
		}
	}
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// IdleTimeout and AbsoluteTimeout as plain durations.
func (c *Config) IdleTimeout() time.Duration     { return c.Session.IdleTimeout.Duration }
func (c *Config) AbsoluteTimeout() time.Duration { return c.Session.AbsoluteTimeout.Duration }
