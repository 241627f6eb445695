// Package gate is the access gate: an authenticating reverse proxy in front of one
// helpdesk instance, run as `helpdesk-operator gate --config=...`, one Deployment per
// instance. Requests to the protected path prefixes (Helpy: /admin and /api) need a gate
// session; everything else (the customer portal) is passed through without one. Sessions
// come from exactly one identity provider: OIDC (authorization code flow with PKCE, state
// and nonce), SAML 2.0 (the gate is the service provider) or LDAP (a login form served by
// the gate, then search and bind).
//
// # Why a gate of our own
//
// The usual pair, oauth2-proxy in front of Dex, does not fit: Dex (the connector for SAML
// and LDAP) cannot be built here, since the module proxy refuses every Dex release after
// 2018; and oauth2-proxy sends acr_values but never checks the acr or amr the provider
// returns, so "MFA required" would be a request, not a check, and it has no idle timeout,
// only a cookie lifetime and a refresh interval. The gate therefore composes well-kept
// libraries and writes no token parsing or cryptography of its own: coreos/go-oidc and
// x/oauth2 for OIDC, crewjam/saml for SAML, go-ldap for LDAP, gorilla/securecookie for
// signed and encrypted cookies, and net/http/httputil.ReverseProxy for the upstream.
//
// # What is checked at sign-in
//
//   - Groups: with allowedGroups set, the user must be in one of them (OIDC: the groups
//     claim; SAML: the groups attribute; LDAP: memberOf or a group search). Otherwise the
//     answer is 403 and no session is made.
//   - Second factor, when mfa.required: it must be proven by the provider, not merely
//     asked for. OIDC: the ID token's amr holds one of mfa.acceptedAMR or its acr is one of
//     mfa.acceptedACR; config.MFAFor maps the AccessPolicy's methods to RFC 8176 values
//     (TOTP: otp; WebAuthn: hwk, swk; any method: mfa). SAML: an AuthnStatement's
//     AuthnContextClassRef is one of mfa.acceptedAuthnContextClassRefs. Missing evidence
//     is a 403 and no session.
//   - LDAP with mfa.required is refused by config validation: a bind proves a password
//     and nothing else, and a TOTP check in the gate would need per-user secrets, an
//     enrollment flow that a stolen password could complete first, and state shared by
//     the gate's replicas. An LDAP policy must set mfa.required to false explicitly, or
//     use an OIDC or SAML provider that enforces MFA.
//
// # Sessions
//
// The session is a cookie encoded by securecookie (HMAC-SHA256 signed, AES-256 encrypted,
// keys from mounted files) holding the subject, e-mail, groups, sign-in time and last-seen
// time. It is Secure, HttpOnly, SameSite=Lax, host-only and for path /. A session ends
// after idleTimeout without a request and absoluteTimeout after sign-in, whatever the
// activity. Last-seen is rewritten only when it is older than a tenth of idleTimeout, so
// most requests do not set the cookie again; the idle limit is then enforced up to that
// tenth early, never late. A cookie that does not decode (tampered, another instance's,
// expired) is no session.
//
// # Upstream
//
// Identity headers (X-Forwarded-User, X-Forwarded-Email, X-Forwarded-Groups, Remote-User
// and the like, also spelt with underscores) are removed from every request, and the
// gate sets its own only on protected paths after a session was checked, so an identity
// header reaching the app comes from the gate. The gate's cookies are not forwarded.
//
// Logs are JSON lines without tokens, cookies, passwords, e-mail addresses or subjects:
// a user appears as a keyed hash of the subject.
package gate
