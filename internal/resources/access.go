package resources

import (
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// RouteState is what becomes of one route (the portal's or the agents') of an instance.
type RouteState string

const (
	// RouteOpen: the route serves its paths, behind its allow-list.
	RouteOpen RouteState = "Open"
	// RouteClosed: the route exists but refuses every client, so that "/" cannot catch
	// its paths. Only for the agent route, on implementations that can refuse clients.
	RouteClosed RouteState = "Closed"
	// RouteAbsent: no route; nothing of the instance is served on its paths.
	RouteAbsent RouteState = "Absent"
)

// AccessPlan is what an instance's access policy becomes on this cluster's exposure. It
// is computed from the spec alone (PlanAccess); the controller then adds what only the
// cluster can tell (a missing Secret, the gate's availability) to the parts.
type AccessPlan struct {
	// Exposed is false when the instance may not be exposed at all (hostname refused or
	// taken): no route is built.
	Exposed bool
	// Exposure names the exposure, e.g. gateway/envoy-gateway.
	Exposure string
	// Referenced: the instance names an access policy; Policy is nil when it does not exist.
	Referenced bool
	Policy     *v1alpha1.AccessPolicy
	// Portal and Agent say what becomes of the two routes.
	Portal, Agent RouteState
	// Gated: an access gate runs in front of the app, and every route leads to it.
	Gated bool
	// AgentCIDRs and PortalCIDRs are the allow-lists the routes carry, normalized; empty
	// means every client.
	AgentCIDRs, PortalCIDRs []string
	// BodyLimitBytes limits request bodies at the edge; 0 sets no limit.
	BodyLimitBytes int64
	// GateEgress are the gate's rules to its identity provider.
	GateEgress []networkingv1.NetworkPolicyEgressRule
	// Problems are refused parts of the policy no part reports (provider CIDRs outside the
	// operator's bounds), for the instance's Ready.
	Problems []string
	// Parts report every part of the policy.
	Parts v1alpha1.AccessEnforcement
	// Settings are the app settings the policy decides; nil when the app has no settings
	// store or there is no policy.
	Settings *AppSettings
}

// AppSettings are values the operator writes into the app's settings store.
type AppSettings struct {
	// Table is the store (appprofile.SettingsStore.Table).
	Table string
	// Values are public values by setting name.
	Values map[string]string
	// Secrets are the policy's Secret keys whose values a setting takes; only the Job
	// that writes them reads them.
	Secrets map[string]v1alpha1.SecretKeyReference
	// Requested: the policy asks for something in these settings (an extension
	// allow-list, the app's captcha). Without it the values are the app's defaults,
	// written only to undo what an earlier policy asked for.
	Requested bool
	// Extensions and Captcha say which parts wait for the values to be written.
	Extensions, Captcha bool
}

// closedPaths names the agent paths, for messages.
func closedPaths(prof appprofile.Profile) string {
	return strings.Join(prof.AgentPathPrefixes, ", ")
}

// PlanAccess decides, from the instance, its access policy (nil when spec.accessPolicyRef
// is unset or names no policy) and the operator's exposure, which routes exist, what they
// admit, whether a gate runs, and what is and is not enforced. It never opens a door the
// policy closes: a list the exposure cannot enforce closes the paths it guards, and so
// does a second factor nothing could verify.
func PlanAccess(inst *v1alpha1.HelpdeskInstance, policy *v1alpha1.AccessPolicy, prof appprofile.Profile, opts Options) AccessPlan {
	e := edgeFor(opts)
	plan := AccessPlan{Exposed: true, Exposure: opts.Exposure.String(), Portal: RouteOpen, Agent: RouteOpen}
	if inst.Spec.AccessPolicyRef == nil {
		return plan
	}
	plan.Referenced = true
	if policy == nil {
		plan.Portal, plan.Agent = RouteAbsent, RouteAbsent
		msg := fmt.Sprintf("AccessPolicy %q does not exist: the instance is not exposed at all until it does", inst.Spec.AccessPolicyRef.Name)
		part := v1alpha1.AccessPartStatus{State: v1alpha1.AccessPartNotEnforced, Reason: v1alpha1.ReasonPolicyNotFound, Message: msg}
		plan.Parts = v1alpha1.AccessEnforcement{AllowList: part, SSO: part, MFA: part, Session: part, Uploads: part, BotProtection: part}
		return plan
	}
	plan.Policy = policy
	spec := policy.Spec
	plan.Gated = spec.SSO != nil
	plan.AgentCIDRs, plan.PortalCIDRs = normalizeCIDRs(spec.AgentAllowedCIDRs), normalizeCIDRs(spec.PortalAllowedCIDRs)

	var closeReasons []string
	closeAgent := func(why string) { closeReasons = append(closeReasons, why) }

	// Allow-lists.
	switch {
	case len(plan.AgentCIDRs) == 0 && len(plan.PortalCIDRs) == 0:
		plan.Parts.AllowList = notRequested("both lists are empty: every network may reach the portal and the agent paths")
	case !e.allowList():
		var closed []string
		if len(plan.AgentCIDRs) > 0 {
			closeAgent("spec.agentAllowedCIDRs")
			closed = append(closed, "the agent paths ("+closedPaths(prof)+")")
		}
		if len(plan.PortalCIDRs) > 0 {
			plan.Portal = RouteAbsent
			closed = append(closed, "the portal")
		}
		plan.Parts.AllowList = notEnforced(v1alpha1.ReasonAllowListUnsupported, fmt.Sprintf(
			"the exposure %s cannot restrict clients by address, so %s are not exposed; expose through ingress-nginx, Traefik or Envoy Gateway, or empty the lists",
			plan.Exposure, strings.Join(closed, " and ")))
	default:
		plan.Parts.AllowList = enforced(fmt.Sprintf("agent paths: %s; portal: %s (%s, by the client address the edge sees)",
			describeCIDRs(plan.AgentCIDRs), describeCIDRs(plan.PortalCIDRs), e.mechanism()))
	}

	// SSO, MFA and sessions: the gate.
	mfaRequired := spec.MFA.Required == nil || *spec.MFA.Required
	if spec.SSO == nil {
		plan.Parts.SSO = notRequested("no spec.sso: agents sign in with the app's own accounts")
		plan.Parts.Session = notEnforced(v1alpha1.ReasonSessionNeedsSSO,
			"session limits are enforced by the access gate, which runs only with spec.sso; the app's own sign-in has no idle timeout")
	} else {
		provider := ssoProvider(spec.SSO)
		msg := provider + " sign-in through the instance's access gate in front of every path; only signed-in agents reach " + closedPaths(prof)
		if o := spec.SSO.OIDC; o != nil && len(o.AllowedGroups) > 0 {
			msg += fmt.Sprintf(", and only members of %d allowed group(s)", len(o.AllowedGroups))
		}
		plan.Parts.SSO = enforced(msg)
		idle, absolute := sessionLimits(spec.Session)
		plan.Parts.Session = enforced(fmt.Sprintf("the gate ends a session after %s without a request and %s after sign-in", idle, absolute))
		var problems []string
		plan.GateEgress, problems = gateEgress(spec.SSO, opts)
		plan.Problems = append(plan.Problems, problems...)
		if len(plan.GateEgress) == 0 {
			plan.Parts.SSO = notEnforced(v1alpha1.ReasonNoProviderEgress,
				"the gate may reach no address of the identity provider, so nobody can sign in: set spec.sso.providerCIDRs (or the operator's --gate-egress-cidrs)")
		}
	}
	switch {
	case !mfaRequired:
		plan.Parts.MFA = notRequested("spec.mfa.required is false")
	case spec.SSO == nil:
		closeAgent("spec.mfa.required")
		plan.Parts.MFA = notEnforced(v1alpha1.ReasonMFANeedsSSO,
			"spec.mfa.required needs spec.sso (OIDC or SAML): the app cannot verify a second factor, so the agent paths are not exposed")
	case spec.SSO.LDAP != nil:
		plan.Parts.MFA = notEnforced(v1alpha1.ReasonMFAUnverifiable,
			"an LDAP bind proves a password only: set spec.mfa.required to false or use OIDC or SAML; the gate keeps its last valid configuration")
	default:
		plan.Parts.MFA = enforced(fmt.Sprintf("the gate admits only sign-ins whose %s proves a second factor (%s), and asks the provider for one",
			map[bool]string{true: "ID token (amr or acr)", false: "assertion (AuthnContextClassRef)"}[spec.SSO.OIDC != nil], methodList(spec.MFA.Methods)))
	}

	// Uploads: the size at the edge, the extensions in the app.
	maxSize := quantityOr(spec.Uploads.MaxSize, "10Mi")
	var uploadProblems []string
	uploadReason := ""
	if e.bodyLimit() {
		plan.BodyLimitBytes = maxSize.Value()
	} else {
		uploadReason = v1alpha1.ReasonUploadLimitUnsupported
		uploadProblems = append(uploadProblems, fmt.Sprintf("the exposure %s cannot limit request bodies, so spec.uploads.maxSize is not enforced", plan.Exposure))
	}
	plan.Settings = appSettings(prof.Settings, spec)
	extensions := "the app's default list of refused extensions applies"
	switch {
	case len(spec.Uploads.AllowedExtensions) > 0 && plan.Settings == nil:
		if uploadReason == "" {
			uploadReason = v1alpha1.ReasonExtensionsUnsupported
		}
		uploadProblems = append(uploadProblems, "spec.uploads.allowedExtensions: the app profile has no setting for them")
	case len(spec.Uploads.AllowedExtensions) > 0:
		extensions = fmt.Sprintf("the app accepts only %d extension(s) (%s)", len(spec.Uploads.AllowedExtensions), prof.Settings.ExtensionAllowList)
	}
	if uploadReason != "" {
		plan.Parts.Uploads = notEnforced(uploadReason, strings.Join(uploadProblems, "; "))
	} else {
		plan.Parts.Uploads = enforced(fmt.Sprintf("request bodies above %s are refused at the edge (%s); %s", maxSize.String(), e.mechanism(), extensions))
	}

	// Bot protection, in the app.
	plan.Parts.BotProtection = botProtection(spec.BotProtection, prof.Settings)

	if len(closeReasons) > 0 {
		switch {
		case plan.Portal == RouteAbsent:
			plan.Agent = RouteAbsent
		case e.closes():
			plan.Agent = RouteClosed
		default:
			// "/" would serve the agent paths, and this implementation cannot refuse them.
			plan.Agent, plan.Portal = RouteAbsent, RouteAbsent
			plan.Parts.AllowList.Message = appendSentence(plan.Parts.AllowList.Message,
				"the portal is not exposed either: on "+plan.Exposure+" the portal route would also serve the agent paths")
		}
	}
	return plan
}

func botProtection(b *v1alpha1.BotProtectionSpec, store appprofile.SettingsStore) v1alpha1.AccessPartStatus {
	if b == nil {
		return notRequested("no spec.botProtection")
	}
	var problems []string
	reason := ""
	add := func(r, msg string) {
		if reason == "" {
			reason = r
		}
		problems = append(problems, msg)
	}
	if c := b.Captcha; c != nil && string(c.Provider) != store.CaptchaProvider {
		supported := "no captcha provider"
		if store.CaptchaProvider != "" {
			supported = "provider " + store.CaptchaProvider + " only"
		}
		add(v1alpha1.ReasonCaptchaProviderUnsupported, fmt.Sprintf("captcha provider %s: the app supports %s", c.Provider, supported))
	}
	if b.Honeypot {
		add(v1alpha1.ReasonHoneypotUnsupported, "spec.botProtection.honeypot: Helpy has no honeypot and this operator provides none yet")
	}
	if reason == "" && b.Captcha == nil {
		return notRequested("neither a captcha nor the honeypot")
	}
	if reason == "" {
		return enforced(fmt.Sprintf("the app checks a %s captcha on anonymous ticket submissions (%s, %s)", b.Captcha.Provider, store.CaptchaEnabled, store.CaptchaSiteKey))
	}
	return notEnforced(reason, strings.Join(problems, "; "))
}

// appSettings are the values the policy decides in the app's settings store: the
// extension allow-list and the captcha, with the app's defaults for what it does not ask.
func appSettings(store appprofile.SettingsStore, spec v1alpha1.AccessPolicySpec) *AppSettings {
	if store.Table == "" {
		return nil
	}
	s := &AppSettings{Table: store.Table, Values: map[string]string{
		store.ExtensionAllowList: strings.Join(spec.Uploads.AllowedExtensions, ","),
		store.CaptchaEnabled:     "0",
		store.CaptchaSiteKey:     "",
		store.CaptchaSecretKey:   "",
	}}
	s.Extensions = len(spec.Uploads.AllowedExtensions) > 0
	if b := spec.BotProtection; b != nil && b.Captcha != nil && string(b.Captcha.Provider) == store.CaptchaProvider {
		s.Captcha = true
		s.Values[store.CaptchaEnabled] = "1"
		s.Values[store.CaptchaSiteKey] = b.Captcha.SiteKey
		delete(s.Values, store.CaptchaSecretKey)
		s.Secrets = map[string]v1alpha1.SecretKeyReference{store.CaptchaSecretKey: b.Captcha.SecretKeyRef}
	}
	s.Requested = s.Extensions || s.Captcha
	return s
}

func enforced(msg string) v1alpha1.AccessPartStatus {
	return v1alpha1.AccessPartStatus{State: v1alpha1.AccessPartEnforced, Message: msg}
}

func notEnforced(reason, msg string) v1alpha1.AccessPartStatus {
	return v1alpha1.AccessPartStatus{State: v1alpha1.AccessPartNotEnforced, Reason: reason, Message: msg}
}

func notRequested(msg string) v1alpha1.AccessPartStatus {
	return v1alpha1.AccessPartStatus{State: v1alpha1.AccessPartNotRequested, Message: msg}
}

func appendSentence(msg, more string) string {
	if msg == "" {
		return more
	}
	return msg + "; " + more
}

func ssoProvider(sso *v1alpha1.SSOSpec) string {
	switch {
	case sso.OIDC != nil:
		return "OIDC"
	case sso.SAML != nil:
		return "SAML"
	default:
		return "LDAP"
	}
}

func methodList(methods []v1alpha1.MFAMethod) string {
	if len(methods) == 0 {
		return "TOTP or WebAuthn"
	}
	out := make([]string, len(methods))
	for i, m := range methods {
		out[i] = string(m)
	}
	return strings.Join(out, " or ")
}

// sessionLimits are the policy's session limits with the schema's defaults.
func sessionLimits(s v1alpha1.SessionSpec) (idle, absolute string) {
	idle, absolute = "30m0s", "12h0m0s"
	if s.IdleTimeout != nil {
		idle = s.IdleTimeout.Duration.String()
	}
	if s.AbsoluteTimeout != nil {
		absolute = s.AbsoluteTimeout.Duration.String()
	}
	return idle, absolute
}

// normalizeCIDRs masks, deduplicates and sorts CIDRs, so that equal lists build equal
// objects; anything unparsable (the schema refuses it) is left out.
func normalizeCIDRs(cidrs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			continue
		}
		s := p.Masked().String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func describeCIDRs(cidrs []string) string {
	if len(cidrs) == 0 {
		return "every network"
	}
	return fmt.Sprintf("only %d network(s)", len(cidrs))
}

// gateEgress allows the gate to reach its identity provider: the policy's provider CIDRs
// (within the operator's tenant egress bounds) and the operator's gate egress CIDRs, on
// the port of the provider's URL. Refused policy CIDRs are described.
func gateEgress(sso *v1alpha1.SSOSpec, opts Options) ([]networkingv1.NetworkPolicyEgressRule, []string) {
	var problems []string
	var to []networkingv1.NetworkPolicyPeer
	for i, c := range sso.ProviderCIDRs {
		peer, err := opts.TenantEgress.peer(c)
		if err != nil {
			problems = append(problems, fmt.Sprintf("spec.sso.providerCIDRs[%d]: %s; the gate may not reach it", i, err))
			continue
		}
		to = append(to, peer)
	}
	to = append(to, cidrPeers(opts.Gate.EgressCIDRs)...)
	if len(to) == 0 {
		return nil, problems
	}
	return []networkingv1.NetworkPolicyEgressRule{{To: to, Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, providerPort(sso))}}}, problems
}

// providerPort is the TCP port of the provider's URL, with the scheme's default.
func providerPort(sso *v1alpha1.SSOSpec) int32 {
	raw, def := "", int32(443)
	switch {
	case sso.OIDC != nil:
		raw = sso.OIDC.IssuerURL
	case sso.SAML != nil:
		raw = sso.SAML.MetadataURL
	case sso.LDAP != nil:
		raw, def = sso.LDAP.URL, 636
		if strings.HasPrefix(raw, "ldap://") {
			def = 389
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		return def
	}
	p, err := strconv.ParseInt(u.Port(), 10, 32)
	if err != nil || p < 1 || p > 65535 {
		return def
	}
	return int32(p)
}
