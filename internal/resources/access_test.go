package resources

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	gateconfig "github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// exposures are every exposure the operator knows.
var exposures = []struct {
	name string
	mode ExposureMode
	edge Edge
}{
	{"ingress-nginx", ExposureIngress, EdgeIngressNginx},
	{"ingress-traefik", ExposureIngress, EdgeTraefik},
	{"ingress-other", ExposureIngress, EdgeOther},
	{"gateway-envoy", ExposureGateway, EdgeEnvoyGateway},
	{"gateway-traefik", ExposureGateway, EdgeTraefik},
	{"gateway-other", ExposureGateway, EdgeOther},
}

// TestGoldenAccess compares the access objects of the sample OIDC policy on every
// exposure, and of SAML and LDAP policies, with reviewed YAML files (-update rewrites them).
func TestGoldenAccess(t *testing.T) {
	for _, x := range exposures {
		t.Run(x.name, func(t *testing.T) {
			objs, err := accessObjects(guarded(oidcPolicy()), oidcPolicy(), exposureOptions(x.mode, x.edge))
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, "access-"+x.name+".yaml", runtimeObjects(objs))
		})
	}
	for name, policy := range map[string]*v1alpha1.AccessPolicy{"oidc": oidcPolicy(), "saml": samlPolicy(), "ldap": ldapPolicy()} {
		t.Run(name, func(t *testing.T) {
			objs, err := accessObjects(guarded(policy), policy, exposureOptions(ExposureGateway, EdgeEnvoyGateway))
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, "access-gate-"+name+".yaml", runtimeObjects(objs))
			// The rendered configuration, readable: the Secret above holds it base64-encoded.
			for _, obj := range objs {
				if s, ok := obj.(*corev1.Secret); ok {
					compareGoldenBytes(t, "access-gate-"+name+".json", s.Data["config.json"])
				}
			}
		})
	}
}

func runtimeObjects[T runtime.Object](objs []T) []runtime.Object {
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

// TestPlanAccessPerExposure: what each exposure enforces of the sample policy, and that a
// list it cannot enforce closes what the list guards.
func TestPlanAccessPerExposure(t *testing.T) {
	prof := helpyProfile(t)
	want := map[string]struct {
		portal, agent RouteState
		allowList     v1alpha1.AccessPartState
		uploads       v1alpha1.AccessPartState
		bodyLimit     int64
	}{
		"ingress-nginx":   {RouteOpen, RouteOpen, v1alpha1.AccessPartEnforced, v1alpha1.AccessPartEnforced, 10 << 20},
		"ingress-traefik": {RouteOpen, RouteOpen, v1alpha1.AccessPartEnforced, v1alpha1.AccessPartEnforced, 10 << 20},
		"ingress-other":   {RouteAbsent, RouteAbsent, v1alpha1.AccessPartNotEnforced, v1alpha1.AccessPartNotEnforced, 0},
		"gateway-envoy":   {RouteOpen, RouteOpen, v1alpha1.AccessPartEnforced, v1alpha1.AccessPartEnforced, 10 << 20},
		"gateway-traefik": {RouteOpen, RouteOpen, v1alpha1.AccessPartEnforced, v1alpha1.AccessPartEnforced, 10 << 20},
		"gateway-other":   {RouteAbsent, RouteAbsent, v1alpha1.AccessPartNotEnforced, v1alpha1.AccessPartNotEnforced, 0},
	}
	for _, x := range exposures {
		plan := PlanAccess(guarded(oidcPolicy()), oidcPolicy(), prof, exposureOptions(x.mode, x.edge))
		w := want[x.name]
		if plan.Portal != w.portal || plan.Agent != w.agent || plan.Parts.AllowList.State != w.allowList ||
			plan.Parts.Uploads.State != w.uploads || plan.BodyLimitBytes != w.bodyLimit {
			t.Errorf("%s: portal %s agent %s allowList %s uploads %s limit %d; want %+v", x.name, plan.Portal, plan.Agent,
				plan.Parts.AllowList.State, plan.Parts.Uploads.State, plan.BodyLimitBytes, w)
		}
		if w.allowList == v1alpha1.AccessPartNotEnforced && plan.Parts.AllowList.Reason != v1alpha1.ReasonAllowListUnsupported {
			t.Errorf("%s: allowList reason %q, want %s", x.name, plan.Parts.AllowList.Reason, v1alpha1.ReasonAllowListUnsupported)
		}
		for part, s := range map[string]v1alpha1.AccessPartStatus{"sso": plan.Parts.SSO, "mfa": plan.Parts.MFA, "session": plan.Parts.Session} {
			if s.State != v1alpha1.AccessPartEnforced {
				t.Errorf("%s: %s is %s (%s)", x.name, part, s.State, s.Message)
			}
		}
		if !plan.Gated || len(plan.GateEgress) != 1 {
			t.Errorf("%s: gated %v, gate egress %+v", x.name, plan.Gated, plan.GateEgress)
		}
	}
}

// TestUnenforceableAgentListKeepsThePortal: with only an agent list, an implementation that
// can refuse a route keeps its agent paths closed and the portal open; one that cannot
// closes both, since "/" would serve the agent paths.
func TestUnenforceableAgentListKeepsThePortal(t *testing.T) {
	prof := helpyProfile(t)
	policy := oidcPolicy()
	policy.Spec.PortalAllowedCIDRs = nil
	inst := guarded(policy)

	plan := PlanAccess(inst, policy, prof, exposureOptions(ExposureGateway, EdgeOther))
	if plan.Portal != RouteOpen || plan.Agent != RouteClosed {
		t.Fatalf("gateway/other: portal %s agent %s, want Open and Closed", plan.Portal, plan.Agent)
	}
	for _, obj := range Exposure(inst, prof, exposureOptions(ExposureGateway, EdgeOther), plan) {
		route := obj.(*gatewayv1.HTTPRoute)
		if route.Name == AccessNamesFor(inst).AgentRoute && len(route.Spec.Rules[0].BackendRefs) != 0 {
			t.Errorf("the closed agent route has a backend: %+v", route.Spec.Rules[0].BackendRefs)
		}
	}

	plan = PlanAccess(inst, policy, prof, exposureOptions(ExposureIngress, EdgeOther))
	if plan.Portal != RouteAbsent || plan.Agent != RouteAbsent {
		t.Fatalf("ingress/other: portal %s agent %s, want both Absent", plan.Portal, plan.Agent)
	}
	if objs := Exposure(inst, prof, exposureOptions(ExposureIngress, EdgeOther), plan); len(objs) != 0 {
		t.Errorf("ingress/other exposes %d objects although it cannot keep the agent paths closed", len(objs))
	}
}

// TestMFAWithoutSSOClosesTheAgentPaths: nothing could verify a second factor, so the agent
// route refuses everyone on every implementation that can, and nothing is exposed where
// the agent paths cannot be kept closed.
func TestMFAWithoutSSOClosesTheAgentPaths(t *testing.T) {
	prof := helpyProfile(t)
	policy := &v1alpha1.AccessPolicy{Spec: v1alpha1.AccessPolicySpec{MFA: v1alpha1.MFASpec{Required: ptr.To(true)}}}
	policy.Name = "mfa-only"
	inst := guarded(policy)
	for _, x := range exposures {
		opts := exposureOptions(x.mode, x.edge)
		plan := PlanAccess(inst, policy, prof, opts)
		if plan.Parts.MFA.Reason != v1alpha1.ReasonMFANeedsSSO || plan.Agent == RouteOpen {
			t.Errorf("%s: agent route %s, MFA %+v", x.name, plan.Agent, plan.Parts.MFA)
		}
		for _, obj := range Exposure(inst, prof, opts, plan) {
			if ing, ok := obj.(*networkingv1.Ingress); ok && ing.Name == AccessNamesFor(inst).AgentRoute {
				refuses := ing.Annotations[AnnotationNginxAllowList] == strings.Join(refuseEveryClient, ",") ||
					strings.Contains(ing.Annotations[AnnotationTraefikMiddlewares], AccessNamesFor(inst).AgentAllowList)
				if !refuses {
					t.Errorf("%s: the closed agent Ingress admits clients: %v", x.name, ing.Annotations)
				}
			}
		}
	}
	policy.Spec.MFA.Required = ptr.To(false)
	if plan := PlanAccess(inst, policy, prof, testOptions()); plan.Agent != RouteOpen || plan.Parts.Session.Reason != v1alpha1.ReasonSessionNeedsSSO {
		t.Errorf("without MFA: agent %s, session %+v", plan.Agent, plan.Parts.Session)
	}
}

// TestNarrowingAndRemovingListsLeavesNoStaleAllowance: every CIDR the built objects admit
// is in the current list; a narrowed list drops the old ones and a removed list builds no
// allow-list object at all (the controller deletes the leftovers: ExposureCandidates).
func TestNarrowingAndRemovingListsLeavesNoStaleAllowance(t *testing.T) {
	prof := helpyProfile(t)
	for _, x := range exposures[:5] {
		if x.edge == EdgeOther {
			continue
		}
		opts := exposureOptions(x.mode, x.edge)
		policy := oidcPolicy()
		inst := guarded(policy)
		wide := render(t, Exposure(inst, prof, opts, PlanAccess(inst, policy, prof, opts)))
		for _, c := range []string{"203.0.113.0/24", "2001:db8:ac::/48", "198.51.100.16/28", "192.0.2.0/24"} {
			if !strings.Contains(wide, c) {
				t.Errorf("%s: %s is not admitted by the wide list", x.name, c)
			}
		}
		policy.Spec.AgentAllowedCIDRs = []string{"203.0.113.0/24"}
		narrow := render(t, Exposure(inst, prof, opts, PlanAccess(inst, policy, prof, opts)))
		for _, c := range []string{"2001:db8:ac::/48", "198.51.100.16/28"} {
			if strings.Contains(narrow, c) {
				t.Errorf("%s: %s survives the narrowing", x.name, c)
			}
		}
		policy.Spec.AgentAllowedCIDRs, policy.Spec.PortalAllowedCIDRs = nil, nil
		open := Exposure(inst, prof, opts, PlanAccess(inst, policy, prof, opts))
		if rendered := render(t, open); strings.Contains(rendered, "203.0.113.0/24") || strings.Contains(rendered, "192.0.2.0/24") ||
			strings.Contains(rendered, "ipAllowList") || strings.Contains(rendered, "clientCIDRs") || strings.Contains(rendered, AnnotationNginxAllowList) {
			t.Errorf("%s: a removed list still restricts or admits:\n%s", x.name, rendered)
		}
		candidates := map[string]bool{}
		for _, c := range ExposureCandidates(inst) {
			candidates[c.GetObjectKind().GroupVersionKind().Kind+"/"+c.GetName()] = true
		}
		for _, obj := range Exposure(inst, prof, opts, PlanAccess(inst, oidcPolicy(), prof, opts)) {
			key := kindOf(t, obj) + "/" + obj.GetName()
			if !candidates[key] {
				t.Errorf("%s: %s is not among the candidates the controller cleans up", x.name, key)
			}
		}
	}
}

// TestGateConfigIsWhatTheGateLoads: the rendered configuration passes the gate's own
// loader (unknown fields refused, defaults, validation), and maps the policy's fields.
func TestGateConfigIsWhatTheGateLoads(t *testing.T) {
	prof := helpyProfile(t)
	for name, policy := range map[string]*v1alpha1.AccessPolicy{"oidc": oidcPolicy(), "saml": samlPolicy(), "ldap": ldapPolicy()} {
		inst := guarded(policy)
		cfg, err := GateConfig(inst, prof, policy)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		secret, err := GateSecret(inst, prof, testOptions(), cfg, GateInputs{Secrets: gateKeys()})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, secret.Data["config.json"], 0o600); err != nil {
			t.Fatal(err)
		}
		loaded, err := gateconfig.Load(path)
		if err != nil {
			t.Fatalf("%s: the gate refuses the rendered configuration: %v", name, err)
		}
		if loaded.ExternalURL != "https://"+inst.Spec.Hostname || loaded.UpstreamURL != "http://support-app:80" ||
			!slices.Equal(loaded.ProtectedPathPrefixes, []string{"/admin", "/api"}) || loaded.Session.AbsoluteTimeout.Duration.String() != "10h0m0s" {
			t.Errorf("%s: %+v", name, loaded)
		}
		// The cookie keys are what the gate reads: base64 of 64 and 32 bytes.
		for file, key := range map[string]string{"hash": "hash-key", "block": "block-key"} {
			p := filepath.Join(dir, file)
			if err := os.WriteFile(p, secret.Data[key], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := (gateconfig.Cookie{HashKeyFile: filepath.Join(dir, "hash"), BlockKeyFile: filepath.Join(dir, "block")}).ReadCookieKeys(); err != nil {
			t.Errorf("%s: the gate refuses the cookie keys: %v", name, err)
		}
		var raw map[string]any
		if err := json.Unmarshal(secret.Data["config.json"], &raw); err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"test-secret-key-base-value", string(gateKeys()[GateHashKeySecret])} {
			if strings.Contains(string(secret.Data["config.json"]), leak) {
				t.Errorf("%s: the configuration holds a secret value", name)
			}
		}
	}
	oidc, _ := GateConfig(guarded(oidcPolicy()), prof, oidcPolicy())
	if !slices.Equal(oidc.AllowedGroups, []string{"support-agents"}) || !oidc.MFA.Required || !slices.Contains(oidc.MFA.AcceptedAMR, "otp") ||
		oidc.OIDC.ClientSecretFile != "/var/run/helpdesk-gate/idp/client-secret" {
		t.Errorf("OIDC mapping: %+v %+v", oidc, oidc.OIDC)
	}
	// LDAP with a required second factor is refused by the gate's validation, before any pod.
	bad := ldapPolicy()
	bad.Spec.MFA.Required = ptr.To(true)
	if _, err := GateConfig(guarded(bad), prof, bad); err == nil || !strings.Contains(err.Error(), "mfa.required") {
		t.Errorf("LDAP with MFA: err = %v, want the gate's refusal naming mfa.required", err)
	}
}

func TestGateKeysMustBeWhatVaultGenerates(t *testing.T) {
	prof := helpyProfile(t)
	inst := guarded(oidcPolicy())
	cfg, err := GateConfig(inst, prof, oidcPolicy())
	if err != nil {
		t.Fatal(err)
	}
	keys := gateKeys()
	keys[GateBlockKeySecret] = []byte("not base64 at all!")
	if _, err := GateSecret(inst, prof, testOptions(), cfg, GateInputs{Secrets: keys}); err == nil || strings.Contains(err.Error(), "not base64 at all") {
		t.Errorf("err = %v: want a refusal that does not quote the value", err)
	}
	for _, spec := range GateVaultSecrets() {
		if spec.Length != 86 && spec.Length != 43 {
			t.Errorf("%s: %d characters do not carry 64 or 32 bytes", spec.Key, spec.Length)
		}
	}
}

func TestGateRollsWhenItsInputsChange(t *testing.T) {
	prof := helpyProfile(t)
	inst := guarded(oidcPolicy())
	hash := func(policy *v1alpha1.AccessPolicy, versions map[string]string) string {
		cfg, err := GateConfig(inst, prof, policy)
		if err != nil {
			t.Fatal(err)
		}
		in := GateInputs{Secrets: gateKeys(), SecretVersions: versions}
		s, err := GateSecret(inst, prof, testOptions(), cfg, in)
		if err != nil {
			t.Fatal(err)
		}
		return GateDeployment(inst, prof, testOptions(), policy, GateConfigHash(s, in)).Spec.Template.Annotations[AnnotationConfigHash]
	}
	base := hash(oidcPolicy(), map[string]string{"oidc": "1"})
	if again := hash(oidcPolicy(), map[string]string{"oidc": "1"}); again != base {
		t.Error("the same inputs give another hash")
	}
	if hash(oidcPolicy(), map[string]string{"oidc": "2"}) == base {
		t.Error("a rotated client secret does not roll the gate")
	}
	changed := oidcPolicy()
	changed.Spec.Session.IdleTimeout.Duration *= 2
	if hash(changed, map[string]string{"oidc": "1"}) == base {
		t.Error("a new idle timeout does not roll the gate")
	}
}

func render(t *testing.T, objs any) string {
	t.Helper()
	out, err := json.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func kindOf(t *testing.T, obj runtime.Object) string {
	t.Helper()
	return obj.GetObjectKind().GroupVersionKind().Kind
}

// TestAppSettingsFollowThePolicy: the extension allow-list and reCAPTCHA become Helpy's
// settings; another captcha provider is refused and leaves reCAPTCHA off; a policy that
// asks for neither writes the defaults (only used where settings were written before).
func TestAppSettingsFollowThePolicy(t *testing.T) {
	prof := helpyProfile(t)
	plan := PlanAccess(guarded(oidcPolicy()), oidcPolicy(), prof, testOptions())
	s := plan.Settings
	if s == nil || !s.Requested || !s.Extensions || !s.Captcha || s.Values["settings.extension_whitelist"] != "pdf,png" ||
		s.Values["settings.recaptcha_enabled"] != "1" || s.Secrets["settings.recaptcha_api_key"].Name != "captcha" {
		t.Fatalf("settings %+v", s)
	}
	if _, leaked := s.Values["settings.recaptcha_api_key"]; leaked {
		t.Error("the captcha's secret key is a public value")
	}
	if plan.Parts.BotProtection.State != v1alpha1.AccessPartEnforced || plan.Parts.Uploads.State != v1alpha1.AccessPartEnforced {
		t.Errorf("parts %+v %+v", plan.Parts.BotProtection, plan.Parts.Uploads)
	}
	other := oidcPolicy()
	other.Spec.BotProtection.Captcha.Provider = "HCaptcha"
	other.Spec.BotProtection.Honeypot = true
	plan = PlanAccess(guarded(other), other, prof, testOptions())
	if p := plan.Parts.BotProtection; p.Reason != v1alpha1.ReasonCaptchaProviderUnsupported || !strings.Contains(p.Message, "ReCaptcha only") || !strings.Contains(p.Message, "honeypot") {
		t.Errorf("HCaptcha with a honeypot: %+v", p)
	}
	if plan.Settings.Captcha || plan.Settings.Values["settings.recaptcha_enabled"] != "0" {
		t.Errorf("an unsupported provider turned reCAPTCHA on: %+v", plan.Settings)
	}
	none := oidcPolicy()
	none.Spec.BotProtection, none.Spec.Uploads.AllowedExtensions = nil, nil
	plan = PlanAccess(guarded(none), none, prof, testOptions())
	if plan.Settings.Requested || plan.Settings.Values["settings.extension_whitelist"] != "" {
		t.Errorf("defaults: %+v", plan.Settings)
	}
	// A rotated captcha key is written again; the same inputs are not.
	a := SettingsHash(*PlanAccess(guarded(oidcPolicy()), oidcPolicy(), prof, testOptions()).Settings, map[string]string{"captcha": "1"})
	b := SettingsHash(*PlanAccess(guarded(oidcPolicy()), oidcPolicy(), prof, testOptions()).Settings, map[string]string{"captcha": "2"})
	if a == b || a != SettingsHash(*PlanAccess(guarded(oidcPolicy()), oidcPolicy(), prof, testOptions()).Settings, map[string]string{"captcha": "1"}) {
		t.Error("the settings hash does not follow the captcha Secret's version")
	}
}
