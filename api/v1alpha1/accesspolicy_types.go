package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessPolicySpec says who may reach the helpdesks that reference it, and how.
// +kubebuilder:validation:XValidation:rule="!has(self.sso) || !has(self.sso.ldap) || !has(self.mfa) || !has(self.mfa.required) || !self.mfa.required",message="spec.mfa.required cannot be enforced with spec.sso.ldap: a directory bind proves a password only; set spec.mfa.required to false or use an OIDC or SAML provider that enforces a second factor"
type AccessPolicySpec struct {
	// AgentAllowedCIDRs restricts the agent and admin UI to these client networks, e.g.
	// 203.0.113.0/24. Empty allows every network (SSO and MFA still apply).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="spec.agentAllowedCIDRs must contain only CIDRs such as 203.0.113.0/24 or 2001:db8::/32"
	AgentAllowedCIDRs []string `json:"agentAllowedCIDRs,omitempty"`

	// PortalAllowedCIDRs restricts the customer portal to these client networks. Empty
	// leaves the portal public.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="spec.portalAllowedCIDRs must contain only CIDRs such as 203.0.113.0/24 or 2001:db8::/32"
	PortalAllowedCIDRs []string `json:"portalAllowedCIDRs,omitempty"`

	// SSO puts single sign-on in front of the agent UI: exactly one of oidc, saml or ldap.
	// +optional
	SSO *SSOSpec `json:"sso,omitempty"`

	// MFA requires a second factor for agents.
	// +optional
	// +kubebuilder:default={}
	MFA MFASpec `json:"mfa,omitempty"`

	// Session limits how long a signed-in session lasts.
	// +optional
	// +kubebuilder:default={}
	Session SessionSpec `json:"session,omitempty"`

	// Uploads limits what may be attached to tickets.
	// +optional
	// +kubebuilder:default={}
	Uploads UploadSpec `json:"uploads,omitempty"`

	// BotProtection guards the public ticket form.
	// +optional
	BotProtection *BotProtectionSpec `json:"botProtection,omitempty"`
}

// SSOSpec configures one single sign-on provider.
// +kubebuilder:validation:XValidation:rule="[has(self.oidc), has(self.saml), has(self.ldap)].filter(x, x).size() == 1",message="spec.sso must set exactly one of oidc, saml or ldap"
type SSOSpec struct {
	// OIDC signs agents in with an OpenID Connect provider.
	// +optional
	OIDC *OIDCSpec `json:"oidc,omitempty"`

	// SAML signs agents in with a SAML 2.0 identity provider.
	// +optional
	SAML *SAMLSpec `json:"saml,omitempty"`

	// LDAP signs agents in against an LDAP directory.
	// +optional
	LDAP *LDAPSpec `json:"ldap,omitempty"`

	// ProviderCIDRs are the networks of the identity provider the access gate talks to
	// (the OIDC issuer with its token and key endpoints, the SAML metadata server, the LDAP
	// directory), e.g. 192.0.2.10/32. The gate's NetworkPolicy allows egress only there
	// (plus the operator's --gate-egress-cidrs), on the port of the provider's URL. The
	// operator's egress bounds apply as for spec.network of an instance.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="spec.sso.providerCIDRs must contain only CIDRs such as 192.0.2.10/32"
	ProviderCIDRs []string `json:"providerCIDRs,omitempty"`
}

// OIDCSpec configures an OpenID Connect provider.
type OIDCSpec struct {
	// IssuerURL is the provider's issuer, an https URL, e.g. https://login.example.com/realms/acme.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && self.startsWith('https://')",message="spec.sso.oidc.issuerURL must be an https URL such as https://login.example.com"
	// +required
	IssuerURL string `json:"issuerURL"`

	// ClientID registered with the provider.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	ClientID string `json:"clientID"`

	// ClientSecretRef is the Secret key holding the client secret.
	// +required
	ClientSecretRef SecretKeyReference `json:"clientSecretRef"`

	// Scopes to request besides openid.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=set
	Scopes []string `json:"scopes,omitempty"`

	// AllowedGroups, when set, admits only members of these groups (from the groups claim).
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	AllowedGroups []string `json:"allowedGroups,omitempty"`
}

// SAMLSpec configures a SAML 2.0 identity provider.
// +kubebuilder:validation:XValidation:rule="has(self.signingKeyRef) == has(self.certificateRef)",message="spec.sso.saml.signingKeyRef and spec.sso.saml.certificateRef must be set together: the identity provider verifies signed requests with the certificate"
type SAMLSpec struct {
	// MetadataURL is the identity provider's metadata document, an https URL.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && self.startsWith('https://')",message="spec.sso.saml.metadataURL must be an https URL"
	// +required
	MetadataURL string `json:"metadataURL"`

	// EntityID of the helpdesk as a service provider; empty uses https://<hostname>/saml.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	EntityID string `json:"entityID,omitempty"`

	// SigningKeyRef is the Secret key holding the service provider's PEM private key used
	// to sign requests; empty leaves requests unsigned.
	// +optional
	SigningKeyRef *SecretKeyReference `json:"signingKeyRef,omitempty"`

	// CertificateRef is the Secret key holding the service provider's PEM certificate for
	// SigningKeyRef's key; set both or neither.
	// +optional
	CertificateRef *SecretKeyReference `json:"certificateRef,omitempty"`
}

// LDAPSpec configures an LDAP directory.
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('ldaps://') || self.startTLS",message="spec.sso.ldap needs an ldaps:// url or startTLS: true, so that passwords never cross the network in clear text"
type LDAPSpec struct {
	// URL of the directory, e.g. ldaps://ldap.example.com:636.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^ldaps?://[^/ ]+(:[0-9]+)?/?$')",message="spec.sso.ldap.url must look like ldaps://ldap.example.com:636"
	// +required
	URL string `json:"url"`

	// StartTLS upgrades an ldap:// connection to TLS before binding.
	// +optional
	StartTLS bool `json:"startTLS,omitempty"`

	// BindDN is the service account the helpdesk binds as to search for users.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	BindDN string `json:"bindDN"`

	// BindPasswordRef is the Secret key holding BindDN's password.
	// +required
	BindPasswordRef SecretKeyReference `json:"bindPasswordRef"`

	// UserSearchBase is the subtree users are searched in, e.g. ou=people,dc=example,dc=com.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	UserSearchBase string `json:"userSearchBase"`

	// UserFilter selects a user by login; {0} stands for the login.
	// +optional
	// +kubebuilder:default="(uid={0})"
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.contains('{0}')",message="spec.sso.ldap.userFilter must contain {0} where the login goes, e.g. (uid={0})"
	UserFilter string `json:"userFilter,omitempty"`

	// CASecretRef is the Secret key holding the PEM CA bundle that signs the directory's
	// certificate; empty uses the system roots.
	// +optional
	CASecretRef *SecretKeyReference `json:"caSecretRef,omitempty"`
}

// MFAMethod is a second factor.
// +kubebuilder:validation:Enum=TOTP;WebAuthn
type MFAMethod string

// MFASpec requires a second factor.
type MFASpec struct {
	// Required makes agents present a second factor at every sign-in.
	// +optional
	// +kubebuilder:default=true
	Required *bool `json:"required,omitempty"`

	// Methods agents may use.
	// +optional
	// +kubebuilder:default={TOTP,WebAuthn}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	Methods []MFAMethod `json:"methods,omitempty"`
}

// SessionSpec limits session lifetimes.
// +kubebuilder:validation:XValidation:rule="!has(self.idleTimeout) || !has(self.absoluteTimeout) || duration(self.idleTimeout) <= duration(self.absoluteTimeout)",message="spec.session.idleTimeout must not exceed spec.session.absoluteTimeout"
type SessionSpec struct {
	// IdleTimeout signs a user out after this long without activity (1m to 24h).
	// +optional
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="spec.session.idleTimeout must be between 1m and 24h, e.g. 30m"
	IdleTimeout *metav1.Duration `json:"idleTimeout,omitempty"`

	// AbsoluteTimeout signs a user out this long after sign-in, active or not (5m to 720h).
	// +optional
	// +kubebuilder:default="12h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m') && duration(self) <= duration('720h')",message="spec.session.absoluteTimeout must be between 5m and 720h, e.g. 12h"
	AbsoluteTimeout *metav1.Duration `json:"absoluteTimeout,omitempty"`
}

// UploadSpec limits attachments.
// +kubebuilder:validation:XValidation:rule="!has(self.maxSize) || quantity(string(self.maxSize)).compareTo(quantity('1Gi')) <= 0",message="spec.uploads.maxSize must be at most 1Gi, e.g. 10Mi"
type UploadSpec struct {
	// AllowedExtensions, lowercase without the dot (e.g. pdf, png); empty allows the
	// profile's safe default list. Executables are always refused.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=16
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]+$`
	AllowedExtensions []string `json:"allowedExtensions,omitempty"`

	// MaxSize of one upload, e.g. 10Mi (at most 1Gi).
	// +optional
	// +kubebuilder:default="10Mi"
	MaxSize *resource.Quantity `json:"maxSize,omitempty"`
}

// CaptchaProvider is a captcha service.
// +kubebuilder:validation:Enum=ReCaptcha;HCaptcha;Turnstile
type CaptchaProvider string

// BotProtectionSpec guards public forms against bots.
// +kubebuilder:validation:XValidation:rule="has(self.captcha) || self.honeypot",message="spec.botProtection must enable a captcha, the honeypot, or both"
type BotProtectionSpec struct {
	// Captcha checks anonymous ticket submissions.
	// +optional
	Captcha *CaptchaSpec `json:"captcha,omitempty"`

	// Honeypot adds a hidden form field that only bots fill in; such submissions are dropped.
	// +optional
	Honeypot bool `json:"honeypot,omitempty"`
}

// CaptchaSpec configures a captcha provider.
type CaptchaSpec struct {
	// Provider of the captcha.
	// +required
	Provider CaptchaProvider `json:"provider"`

	// SiteKey is the provider's public site key.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	SiteKey string `json:"siteKey"`

	// SecretKeyRef is the Secret key holding the provider's private key.
	// +required
	SecretKeyRef SecretKeyReference `json:"secretKeyRef"`
}

// AccessPartState says whether one part of an access policy is in force for an instance.
// +kubebuilder:validation:Enum=Enforced;NotEnforced;NotRequested
type AccessPartState string

// Access part states.
const (
	// AccessPartEnforced: what the policy asks for this part is in force.
	AccessPartEnforced AccessPartState = "Enforced"
	// AccessPartNotEnforced: the policy asks for something this part cannot give on the
	// instance's exposure (the reason says why); the instance fails closed where that
	// would open a door.
	AccessPartNotEnforced AccessPartState = "NotEnforced"
	// AccessPartNotRequested: the policy asks for nothing in this part.
	AccessPartNotRequested AccessPartState = "NotRequested"
)

// AccessPartStatus reports one part of an access policy on one instance.
type AccessPartStatus struct {
	// State is Enforced, NotEnforced or NotRequested.
	// +required
	State AccessPartState `json:"state"`

	// Reason is a CamelCase reason, e.g. AllowListUnsupported; empty when enforced.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`

	// Message says what is in force, or why not and how to fix it.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// AccessEnforcement reports every part of an access policy on one instance.
type AccessEnforcement struct {
	// AllowList: spec.agentAllowedCIDRs and spec.portalAllowedCIDRs at the edge.
	// +required
	AllowList AccessPartStatus `json:"allowList"`
	// SSO: spec.sso by the instance's access gate.
	// +required
	SSO AccessPartStatus `json:"sso"`
	// MFA: spec.mfa, verified by the gate from the identity provider's answer.
	// +required
	MFA AccessPartStatus `json:"mfa"`
	// Session: spec.session by the gate.
	// +required
	Session AccessPartStatus `json:"session"`
	// Uploads: spec.uploads, the size at the edge and the extensions in the app.
	// +required
	Uploads AccessPartStatus `json:"uploads"`
	// BotProtection: spec.botProtection in the app.
	// +required
	BotProtection AccessPartStatus `json:"botProtection"`
}

// AccessPolicyInstance is how a policy is enforced on one instance that references it.
type AccessPolicyInstance struct {
	// Name of the HelpdeskInstance, in the policy's namespace.
	// +required
	Name string `json:"name"`

	// Exposure the instance is served through, e.g. gateway/envoy-gateway or
	// ingress/ingress-nginx.
	// +optional
	Exposure string `json:"exposure,omitempty"`

	AccessEnforcement `json:",inline"`
}

// AccessPolicyStatus is the observed state of an AccessPolicy.
type AccessPolicyStatus struct {
	// Instances lists the instances that reference the policy and, per part, whether it
	// is enforced on them (as each instance last reported it; reason and message only
	// for a part not enforced, the instance's status.access has the rest): those with a
	// part not enforced first, 256 at most; Ready counts them all.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=name
	Instances []AccessPolicyInstance `json:"instances,omitempty"`

	// Conditions: Ready (True only when every part the policy asks for is enforced on
	// every instance that references it), Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the spec generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// SSOProvider is the configured provider (OIDC, SAML, LDAP), or None.
	// +optional
	SSOProvider string `json:"ssoProvider,omitempty"`
}

// AccessPolicy says who may reach a helpdesk: IP allow-lists for the agent UI and the
// portal, single sign-on with MFA in front of it, session and upload rules, and bot
// protection. Instances in the same namespace reference it by name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hap,categories=helpdesk
// +kubebuilder:printcolumn:name="SSO",type=string,JSONPath=`.status.ssoProvider`
// +kubebuilder:printcolumn:name="MFA",type=boolean,JSONPath=`.spec.mfa.required`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccessPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec AccessPolicySpec `json:"spec,omitempty"`
	// +optional
	Status AccessPolicyStatus `json:"status,omitempty"`
}

// AccessPolicyList is a list of AccessPolicies.
// +kubebuilder:object:root=true
type AccessPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessPolicy{}, &AccessPolicyList{})
}
