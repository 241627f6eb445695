package resources

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// gatewayEdge exposes through Gateway API HTTPRoutes attached to a platform Gateway, with
// one implementation's policies or filters.
type gatewayEdge struct{ impl Edge }

func (e gatewayEdge) allowList() bool { return e.impl == EdgeEnvoyGateway || e.impl == EdgeTraefik }

// closes: every implementation can, since a rule without backendRefs must be answered
// with a 500 (Gateway API core conformance), and the two known ones refuse clients.
func (e gatewayEdge) closes() bool    { return true }
func (e gatewayEdge) bodyLimit() bool { return e.allowList() }

func (e gatewayEdge) mechanism() string {
	switch e.impl {
	case EdgeEnvoyGateway:
		return "Envoy Gateway SecurityPolicy (authorization with clientCIDRs, default deny) and BackendTrafficPolicy requestBuffer"
	case EdgeTraefik:
		return "Traefik Middlewares ipAllowList and buffering as HTTPRoute ExtensionRef filters"
	}
	return "nothing"
}

func (e gatewayEdge) objects(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan) []client.Object {
	a := AccessNamesFor(inst)
	var out []client.Object
	if plan.Portal == RouteOpen {
		out = append(out, e.route(inst, prof, opts, plan, a.PortalRoute, []string{"/"}, RouteOpen, len(plan.PortalCIDRs) > 0, a.PortalAllowList))
	}
	if plan.Agent != RouteAbsent {
		out = append(out, e.route(inst, prof, opts, plan, a.AgentRoute, agentPaths(prof, plan), plan.Agent, len(plan.AgentCIDRs) > 0, a.AgentAllowList))
	}
	switch e.impl {
	case EdgeEnvoyGateway:
		out = append(out, envoyPolicies(inst, prof, opts, plan)...)
	case EdgeTraefik:
		out = append(out, traefikMiddlewares(inst, prof, opts, plan)...)
	}
	return out
}

// route is one HTTPRoute for the instance's hostname. A closed route on an implementation
// the operator does not know has no backend, which Gateway API requires to be answered
// with a 500; Traefik gets a Middleware that refuses everyone, Envoy Gateway a
// SecurityPolicy that does.
func (e gatewayEdge) route(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan, name string, paths []string, state RouteState, restricted bool, allowListName string) *gatewayv1.HTTPRoute {
	var matches []gatewayv1.HTTPRouteMatch
	for _, p := range paths {
		matches = append(matches, gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{
			Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(p),
		}})
	}
	rule := gatewayv1.HTTPRouteRule{Matches: matches}
	if e.impl == EdgeTraefik {
		if state == RouteClosed || restricted {
			rule.Filters = append(rule.Filters, traefikFilter(allowListName))
		}
		if plan.BodyLimitBytes > 0 {
			rule.Filters = append(rule.Filters, traefikFilter(AccessNamesFor(inst).BodyLimit))
		}
	}
	if state == RouteOpen || e.impl != EdgeOther {
		rule.BackendRefs = []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(backendService(inst, plan)),
			Port: ptr.To(gatewayv1.PortNumber(servicePort)),
		}}}}
	}
	return &gatewayv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: objectMeta(inst, name, Labels(inst, prof, opts, ComponentApp)),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{parentRef(inst, opts)}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(inst.Spec.Hostname)},
			Rules:           []gatewayv1.HTTPRouteRule{rule},
		},
	}
}

// parentRef is the instance's Gateway (spec.ingress.gateway), else the operator's.
func parentRef(inst *v1alpha1.HelpdeskInstance, opts Options) gatewayv1.ParentReference {
	g := opts.Exposure.Gateway
	if o := inst.Spec.Ingress.Gateway; o != nil {
		g = GatewayRef{Namespace: o.Namespace, Name: o.Name, SectionName: o.SectionName}
		if g.Namespace == "" {
			g.Namespace = opts.Exposure.Gateway.Namespace
		}
	}
	ref := gatewayv1.ParentReference{
		Group:     ptr.To(gatewayv1.Group(gatewayv1.GroupName)),
		Kind:      ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace(g.Namespace)),
		Name:      gatewayv1.ObjectName(g.Name),
	}
	if g.SectionName != "" {
		ref.SectionName = ptr.To(gatewayv1.SectionName(g.SectionName))
	}
	return ref
}

func traefikFilter(middleware string) gatewayv1.HTTPRouteFilter {
	return gatewayv1.HTTPRouteFilter{
		Type:         gatewayv1.HTTPRouteFilterExtensionRef,
		ExtensionRef: &gatewayv1.LocalObjectReference{Group: gatewayv1.Group(traefikMiddlewareGVK.Group), Kind: gatewayv1.Kind(traefikMiddlewareGVK.Kind), Name: gatewayv1.ObjectName(middleware)},
	}
}

func httpRouteSkeleton(inst *v1alpha1.HelpdeskInstance, name string) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: name},
	}
}
