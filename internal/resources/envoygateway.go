package resources

import (
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Envoy Gateway's policy kinds (gateway.envoyproxy.io/v1alpha1). Its Go module is not on
// the module proxy, so the few fields used are written from its documented API as
// unstructured objects:
//   - SecurityPolicy spec.targetRefs and spec.authorization (defaultAction, rules with
//     action and principal.clientCIDRs);
//   - BackendTrafficPolicy spec.targetRefs and spec.requestBuffer.limit.
var (
	envoySecurityPolicyGVK       = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "SecurityPolicy"}
	envoyBackendTrafficPolicyGVK = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "BackendTrafficPolicy"}
)

// EnvoyGatewayGVKs are the Envoy Gateway kinds the builders make.
func EnvoyGatewayGVKs() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{envoySecurityPolicyGVK, envoyBackendTrafficPolicyGVK}
}

// envoyPolicies: a SecurityPolicy per restricted or closed route (default deny; allow the
// route's client CIDRs, or no one), and a BackendTrafficPolicy with the body limit on
// every route.
func envoyPolicies(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan) []client.Object {
	a := AccessNamesFor(inst)
	var out []client.Object
	switch {
	case plan.Agent == RouteClosed:
		out = append(out, envoySecurityPolicy(inst, prof, opts, a.AgentRoute, nil))
	case plan.Agent == RouteOpen && len(plan.AgentCIDRs) > 0:
		out = append(out, envoySecurityPolicy(inst, prof, opts, a.AgentRoute, plan.AgentCIDRs))
	}
	if plan.Portal == RouteOpen && len(plan.PortalCIDRs) > 0 {
		out = append(out, envoySecurityPolicy(inst, prof, opts, a.PortalRoute, plan.PortalCIDRs))
	}
	var routes []string
	if plan.Portal == RouteOpen {
		routes = append(routes, a.PortalRoute)
	}
	if plan.Agent == RouteOpen {
		routes = append(routes, a.AgentRoute)
	}
	if plan.BodyLimitBytes > 0 && len(routes) > 0 {
		p := unstructuredChild(inst, prof, opts, envoyBackendTrafficPolicyGVK, a.BodyLimit, ComponentApp)
		p.Object["spec"] = map[string]any{
			"targetRefs":    routeTargets(routes...),
			"requestBuffer": map[string]any{"limit": resource.NewQuantity(plan.BodyLimitBytes, resource.BinarySI).String()},
		}
		out = append(out, p)
	}
	return out
}

// envoySecurityPolicy is named like its route. Envoy Gateway decides on the client address
// it detected (the connection's peer, or X-Forwarded-For as its ClientTrafficPolicy
// trusts it); no rule means nobody is allowed.
func envoySecurityPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, route string, cidrs []string) *unstructured.Unstructured {
	p := unstructuredChild(inst, prof, opts, envoySecurityPolicyGVK, route, ComponentApp)
	authorization := map[string]any{"defaultAction": "Deny"}
	if len(cidrs) > 0 {
		authorization["rules"] = []any{map[string]any{
			"name":      "allowed-networks",
			"action":    "Allow",
			"principal": map[string]any{"clientCIDRs": stringList(cidrs)},
		}}
	}
	p.Object["spec"] = map[string]any{"targetRefs": routeTargets(route), "authorization": authorization}
	return p
}

func routeTargets(routes ...string) []any {
	out := make([]any, len(routes))
	for i, r := range routes {
		out[i] = map[string]any{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": r}
	}
	return out
}
