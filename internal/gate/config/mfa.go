package config

// The AccessPolicy's mfa.methods values (api/v1alpha1 MFAMethod).
const (
	MethodTOTP     = "TOTP"
	MethodWebAuthn = "WebAuthn"
)

// RFC 8176 authentication method reference values the gate accepts as a second factor.
const (
	// AMROneTimePassword: a one-time password, which covers TOTP and HOTP apps.
	AMROneTimePassword = "otp"
	// AMRHardwareKey and AMRSoftwareKey: proof of possession of a hardware- or
	// software-secured key, which is what a WebAuthn authenticator (security key,
	// platform authenticator, synced passkey) gives.
	AMRHardwareKey = "hwk"
	AMRSoftwareKey = "swk"
	// AMRMultiFactor: the provider says several factors were used without naming them.
	// It is the only evidence some providers give (Auth0, Entra ID), so it is accepted
	// whatever the methods; which factors count is then the provider's policy.
	AMRMultiFactor = "mfa"
)

// SAML AuthnContextClassRefs that say a second factor was used. SAML 2.0 itself defines no
// class per factor that providers use for TOTP or WebAuthn, so these are the multi-factor
// classes in common use.
const (
	// ClassREFEDSMFA is the REFEDS MFA profile, the federations' standard.
	ClassREFEDSMFA = "https://refeds.org/profile/mfa"
	// ClassMicrosoftMultipleAuthn is what AD FS and Entra ID assert after MFA.
	ClassMicrosoftMultipleAuthn = "http://schemas.microsoft.com/claims/multipleauthn"
)

// amrByMethod maps each AccessPolicy method to the amr values that prove it.
var amrByMethod = map[string][]string{
	MethodTOTP:     {AMROneTimePassword},
	MethodWebAuthn: {AMRHardwareKey, AMRSoftwareKey},
}

// MFAFor renders the gate's MFA settings from an AccessPolicy's spec.mfa: the amr values
// of the allowed methods plus "mfa", and the multi-factor SAML classes. Unknown methods
// add nothing (the API's enum admits only TOTP and WebAuthn). acr values are provider
// specific, so none are accepted or requested by default.
func MFAFor(required bool, methods []string) MFA {
	m := MFA{Required: required}
	if !required {
		return m
	}
	for _, method := range methods {
		m.AcceptedAMR = appendNew(m.AcceptedAMR, amrByMethod[method]...)
	}
	m.AcceptedAMR = appendNew(m.AcceptedAMR, AMRMultiFactor)
	m.AcceptedAuthnContextClassRefs = []string{ClassREFEDSMFA, ClassMicrosoftMultipleAuthn}
	return m
}

func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		found := false
		for _, have := range list {
			found = found || have == v
		}
		if !found {
			list = append(list, v)
		}
	}
	return list
}
