package resources

import (
	"bytes"
	"encoding/base64"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// oidcPolicy is the sample policy: OIDC with groups and MFA, both allow-lists, an upload
// limit, as the API server defaults it.
func oidcPolicy() *v1alpha1.AccessPolicy {
	return &v1alpha1.AccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: "agents"},
		Spec: v1alpha1.AccessPolicySpec{
			AgentAllowedCIDRs:  []string{"203.0.113.0/24", "2001:db8:ac::/48", "198.51.100.17/28"},
			PortalAllowedCIDRs: []string{"192.0.2.0/24"},
			SSO: &v1alpha1.SSOSpec{
				OIDC: &v1alpha1.OIDCSpec{
					IssuerURL: "https://login.acme.example/realms/acme", ClientID: "support",
					ClientSecretRef: v1alpha1.SecretKeyReference{Name: "oidc", Key: "client-secret"},
					AllowedGroups:   []string{"support-agents"},
				},
				ProviderCIDRs: []string{"198.18.0.10/32"},
			},
			MFA:     v1alpha1.MFASpec{Required: ptr.To(true), Methods: []v1alpha1.MFAMethod{"TOTP", "WebAuthn"}},
			Session: v1alpha1.SessionSpec{IdleTimeout: &metav1.Duration{Duration: 30 * time.Minute}, AbsoluteTimeout: &metav1.Duration{Duration: 10 * time.Hour}},
			Uploads: v1alpha1.UploadSpec{MaxSize: ptr.To(resource.MustParse("10Mi")), AllowedExtensions: []string{"pdf", "png"}},
			BotProtection: &v1alpha1.BotProtectionSpec{Captcha: &v1alpha1.CaptchaSpec{
				Provider: "ReCaptcha", SiteKey: "6LcSiteKey", SecretKeyRef: v1alpha1.SecretKeyReference{Name: "captcha", Key: "secret-key"},
			}},
		},
	}
}

func samlPolicy() *v1alpha1.AccessPolicy {
	p := oidcPolicy()
	p.Spec.SSO = &v1alpha1.SSOSpec{
		SAML: &v1alpha1.SAMLSpec{
			MetadataURL:    "https://idp.acme.example:8443/metadata",
			SigningKeyRef:  &v1alpha1.SecretKeyReference{Name: "saml-sp", Key: "tls.key"},
			CertificateRef: &v1alpha1.SecretKeyReference{Name: "saml-sp", Key: "tls.crt"},
		},
		ProviderCIDRs: []string{"198.18.0.20/32"},
	}
	return p
}

func ldapPolicy() *v1alpha1.AccessPolicy {
	p := oidcPolicy()
	p.Spec.SSO = &v1alpha1.SSOSpec{LDAP: &v1alpha1.LDAPSpec{
		URL: "ldaps://ldap.acme.example", BindDN: "cn=helpdesk,ou=services,dc=acme", UserSearchBase: "ou=people,dc=acme", UserFilter: "(uid={0})",
		BindPasswordRef: v1alpha1.SecretKeyReference{Name: "ldap", Key: "password"},
		CASecretRef:     &v1alpha1.SecretKeyReference{Name: "ldap", Key: "ca.crt"},
	}, ProviderCIDRs: []string{"198.18.0.30/32"}}
	p.Spec.MFA.Required = ptr.To(false)
	return p
}

// guarded is the minimal instance with TLS, referencing the policy.
func guarded(policy *v1alpha1.AccessPolicy) *v1alpha1.HelpdeskInstance {
	inst := minimalInstance()
	inst.Spec.TLS = &v1alpha1.TLSSpec{SecretName: "support-tls"}
	inst.Spec.AccessPolicyRef = &v1alpha1.LocalObjectReference{Name: policy.Name}
	return inst
}

// exposureOptions are testOptions for one exposure.
func exposureOptions(mode ExposureMode, e Edge) Options {
	o := testOptions()
	o.Exposure = ExposureOptions{Mode: mode, Edge: e, Gateway: GatewayRef{Namespace: "edge", Name: "public", SectionName: "https"}}
	o.Gate.EgressCIDRs = []string{"198.18.1.0/24"}
	return o
}

// gateKeys stand in for the gate's keys from Vault (URL-safe, of the generated lengths).
func gateKeys() map[string][]byte {
	s := testSecrets()
	s[GateHashKeySecret] = []byte(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("h"), 64)))
	s[GateBlockKeySecret] = []byte(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("b"), 32)))
	return s
}

// accessObjects are every access object of inst under opts: routes and their policies, the
// gate and the NetworkPolicies.
func accessObjects(inst *v1alpha1.HelpdeskInstance, policy *v1alpha1.AccessPolicy, opts Options) ([]client.Object, error) {
	prof, err := appprofile.For(v1alpha1.AppProfileHelpy)
	if err != nil {
		return nil, err
	}
	plan := PlanAccess(inst, policy, prof, opts)
	out := Exposure(inst, prof, opts, plan)
	if plan.Gated {
		cfg, err := GateConfig(inst, prof, policy)
		if err != nil {
			return nil, err
		}
		in := GateInputs{Secrets: gateKeys(), SecretVersions: map[string]string{"oidc": "101"}}
		secret, err := GateSecret(inst, prof, opts, cfg, in)
		if err != nil {
			return nil, err
		}
		out = append(out, GateServiceAccount(inst, prof, opts), secret,
			GateDeployment(inst, prof, opts, policy, GateConfigHash(secret, in)), GateService(inst, prof, opts))
	}
	if s := plan.Settings; s != nil && s.Requested {
		out = append(out, SettingsJob(inst, prof, opts, *s, map[string]string{"captcha": "7"}))
	}
	for _, np := range NetworkPolicies(inst, prof, opts, plan) {
		if np.Name == NamesFor(inst).PolicyApp || np.Name == AccessNamesFor(inst).Gate {
			out = append(out, np)
		}
	}
	return out, nil
}
