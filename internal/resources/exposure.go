package resources

import (
	"errors"
	"fmt"
	"regexp"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// ExposureMode is how the operator exposes instances: Ingresses or Gateway API HTTPRoutes.
type ExposureMode string

// Exposure modes (the operator's --exposure flag).
const (
	ExposureIngress ExposureMode = "ingress"
	ExposureGateway ExposureMode = "gateway"
)

// Edge names the implementation behind the exposure, which decides what the edge can
// enforce: which annotations an Ingress gets, which policies or filters a route gets.
type Edge string

// Edge implementations (--ingress-controller for Ingresses, --gateway-implementation for
// Gateway API).
const (
	EdgeIngressNginx Edge = "ingress-nginx"
	EdgeTraefik      Edge = "traefik"
	EdgeEnvoyGateway Edge = "envoy-gateway"
	// EdgeOther is any other implementation: routes carry no implementation-specific
	// settings, so nothing that needs them (allow-lists, body limits) is enforced.
	EdgeOther Edge = "other"
)

// ExposureOptions say how instances are exposed on this cluster.
type ExposureOptions struct {
	Mode ExposureMode
	// Edge is the ingress controller (Mode ingress) or the Gateway API implementation
	// (Mode gateway).
	Edge Edge
	// IngressClassName is used when an instance sets no spec.ingress.className; empty
	// leaves the class to the cluster's default.
	IngressClassName string
	// Gateway is the Gateway routes attach to when an instance names none.
	Gateway GatewayRef
}

// GatewayRef names a Gateway and optionally one of its listeners.
type GatewayRef struct {
	Namespace, Name, SectionName string
}

// DefaultExposure is today's behaviour: Ingresses for ingress-nginx.
func DefaultExposure() ExposureOptions {
	return ExposureOptions{Mode: ExposureIngress, Edge: EdgeIngressNginx}
}

// String is how status and events name the exposure, e.g. gateway/envoy-gateway.
func (e ExposureOptions) String() string { return string(e.Mode) + "/" + string(e.Edge) }

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Validate reports an exposure that cannot work; Options.Validate includes it.
func (e ExposureOptions) Validate() error {
	var errs []error
	switch e.Mode {
	case ExposureIngress:
		switch e.Edge {
		case EdgeIngressNginx, EdgeTraefik, EdgeOther:
		default:
			errs = append(errs, fmt.Errorf("ingress controller %q: must be %s, %s or %s", e.Edge, EdgeIngressNginx, EdgeTraefik, EdgeOther))
		}
		if e.IngressClassName != "" && !dnsSubdomain.MatchString(e.IngressClassName) {
			errs = append(errs, fmt.Errorf("ingress class %q is not an object name", e.IngressClassName))
		}
	case ExposureGateway:
		switch e.Edge {
		case EdgeEnvoyGateway, EdgeTraefik, EdgeOther:
		default:
			errs = append(errs, fmt.Errorf("gateway implementation %q: must be %s, %s or %s", e.Edge, EdgeEnvoyGateway, EdgeTraefik, EdgeOther))
		}
		if !dnsLabel.MatchString(e.Gateway.Namespace) || !dnsSubdomain.MatchString(e.Gateway.Name) {
			errs = append(errs, fmt.Errorf("gateway %q/%q: the Gateway to attach routes to is required as <namespace>/<name> (--gateway)", e.Gateway.Namespace, e.Gateway.Name))
		}
		if e.Gateway.SectionName != "" && !dnsSubdomain.MatchString(e.Gateway.SectionName) {
			errs = append(errs, fmt.Errorf("gateway listener %q is not a listener name", e.Gateway.SectionName))
		}
	default:
		errs = append(errs, fmt.Errorf("exposure %q: must be %s or %s", e.Mode, ExposureIngress, ExposureGateway))
	}
	return errors.Join(errs...)
}

// edge is what one implementation can enforce, and how it builds the instance's routes.
// One implementation per file: exposure_ingress.go, exposure_gateway.go.
type edge interface {
	// allowList says whether the implementation can restrict a route to client CIDRs.
	allowList() bool
	// closes says whether it can keep a route's paths closed while "/" is served (a route
	// that refuses every client), so that the portal route never catches them.
	closes() bool
	// bodyLimit says whether the implementation can limit request bodies.
	bodyLimit() bool
	// mechanism names what enforces allow-lists and body limits, for status messages.
	mechanism() string
	// objects are the routes and their implementation objects for plan.
	objects(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan) []client.Object
}

func edgeFor(opts Options) edge {
	if opts.Exposure.Mode == ExposureGateway {
		return gatewayEdge{impl: opts.Exposure.Edge}
	}
	return ingressEdge{impl: opts.Exposure.Edge}
}

// Exposure builds the objects that expose inst as plan says: the portal route ("/") and
// the agent route (the profile's agent paths, and the gate's own under /_gate), each with
// the allow-list and body limit the implementation enforces, plus the implementation's
// own objects (Traefik Middlewares, Envoy Gateway policies). A closed agent route (its
// paths must not be reachable, but the portal is) refuses every client, since "/" would
// otherwise catch its paths. Nothing is built when the instance may not be exposed.
func Exposure(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan) []client.Object {
	if !plan.Exposed {
		return nil
	}
	return edgeFor(opts).objects(inst, prof, opts, plan)
}

// ExposureCandidates are skeletons (kind, namespace, name) of every object any exposure
// may build for inst, on every implementation, so the controller can delete those it
// no longer wants: after a narrowing, a mode change, or when the instance may not be
// exposed. Kinds whose CRDs are not installed are skipped by the controller.
func ExposureCandidates(inst *v1alpha1.HelpdeskInstance) []client.Object {
	n, a := NamesFor(inst), AccessNamesFor(inst)
	out := []client.Object{
		ingressSkeleton(inst, n.App), ingressSkeleton(inst, a.AgentRoute),
		httpRouteSkeleton(inst, a.PortalRoute), httpRouteSkeleton(inst, a.AgentRoute),
	}
	for _, name := range []string{a.AgentAllowList, a.PortalAllowList, a.BodyLimit} {
		out = append(out, skeleton(inst, traefikMiddlewareGVK, name))
	}
	for _, name := range []string{a.AgentRoute, a.PortalRoute} {
		out = append(out, skeleton(inst, envoySecurityPolicyGVK, name))
	}
	return append(out, skeleton(inst, envoyBackendTrafficPolicyGVK, a.BodyLimit))
}

// EdgeDefaults are the edge's pods as each implementation's default installation labels
// and places them (ingress-nginx's and Traefik's Helm charts, Envoy Gateway's proxies in
// envoy-gateway-system); the operator's --ingress-namespace-selector and
// --ingress-pod-selector override them. EdgeOther has none: the operator must be told.
func EdgeDefaults(e ExposureOptions) PeerSelector {
	pods := func(kv ...string) *metav1.LabelSelector {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return &metav1.LabelSelector{MatchLabels: m}
	}
	switch e.Edge {
	case EdgeIngressNginx:
		return PeerSelector{NamespaceSelector: namespaceNamed("ingress-nginx"),
			PodSelector: pods("app.kubernetes.io/name", "ingress-nginx", "app.kubernetes.io/component", "controller")}
	case EdgeTraefik:
		return PeerSelector{NamespaceSelector: namespaceNamed("traefik"), PodSelector: pods("app.kubernetes.io/name", "traefik")}
	case EdgeEnvoyGateway:
		return PeerSelector{NamespaceSelector: namespaceNamed("envoy-gateway-system"),
			PodSelector: pods("app.kubernetes.io/managed-by", "envoy-gateway", "app.kubernetes.io/component", "proxy")}
	}
	return PeerSelector{}
}
