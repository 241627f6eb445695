package resources

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// traefikMiddlewareGVK is Traefik's Middleware (traefik.io/v1alpha1). The operator writes
// two of its kinds: ipAllowList (spec.ipAllowList.sourceRange) and buffering
// (spec.buffering.maxRequestBodyBytes), as unstructured objects: Traefik's Go module is
// too large a dependency for three fields.
var traefikMiddlewareGVK = schema.GroupVersionKind{Group: "traefik.io", Version: "v1alpha1", Kind: "Middleware"}

// TraefikMiddlewareGVK is the kind of the Traefik Middlewares the builders make.
func TraefikMiddlewareGVK() schema.GroupVersionKind { return traefikMiddlewareGVK }

// traefikMiddlewares are the Middlewares the routes of plan refer to: an ipAllowList per
// restricted or closed route, and one buffering limit shared by both routes.
func traefikMiddlewares(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan) []client.Object {
	a := AccessNamesFor(inst)
	var out []client.Object
	switch {
	case plan.Agent == RouteClosed:
		out = append(out, traefikAllowList(inst, prof, opts, a.AgentAllowList, refuseEveryClient))
	case plan.Agent == RouteOpen && len(plan.AgentCIDRs) > 0:
		out = append(out, traefikAllowList(inst, prof, opts, a.AgentAllowList, plan.AgentCIDRs))
	}
	if plan.Portal == RouteOpen && len(plan.PortalCIDRs) > 0 {
		out = append(out, traefikAllowList(inst, prof, opts, a.PortalAllowList, plan.PortalCIDRs))
	}
	if plan.BodyLimitBytes > 0 && (plan.Portal != RouteAbsent || plan.Agent != RouteAbsent) {
		m := unstructuredChild(inst, prof, opts, traefikMiddlewareGVK, a.BodyLimit, ComponentApp)
		m.Object["spec"] = map[string]any{"buffering": map[string]any{"maxRequestBodyBytes": plan.BodyLimitBytes}}
		out = append(out, m)
	}
	return out
}

// traefikAllowList admits only cidrs, by the connection's remote address (Traefik's
// default ipStrategy); others get 403.
func traefikAllowList(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, name string, cidrs []string) *unstructured.Unstructured {
	m := unstructuredChild(inst, prof, opts, traefikMiddlewareGVK, name, ComponentApp)
	m.Object["spec"] = map[string]any{"ipAllowList": map[string]any{"sourceRange": stringList(cidrs)}}
	return m
}

// unstructuredChild is a child of a kind the operator has no Go types for, with the
// metadata every child shares.
func unstructuredChild(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, gvk schema.GroupVersionKind, name, component string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	meta := objectMeta(inst, name, Labels(inst, prof, opts, component))
	u.SetNamespace(meta.Namespace)
	u.SetName(meta.Name)
	u.SetLabels(meta.Labels)
	u.SetOwnerReferences(meta.OwnerReferences)
	return u
}

func skeleton(inst *v1alpha1.HelpdeskInstance, gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(inst.Namespace)
	u.SetName(name)
	return u
}

func stringList(values []string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}
