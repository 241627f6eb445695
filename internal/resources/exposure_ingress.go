package resources

import (
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Annotations of the ingress controllers the operator knows.
const (
	// AnnotationNginxAllowList restricts an ingress-nginx Ingress to client CIDRs (403
	// for others); the client address is what ingress-nginx sees, or takes from the
	// PROXY protocol or trusted forwarded headers when configured so.
	AnnotationNginxAllowList = "nginx.ingress.kubernetes.io/whitelist-source-range"
	// AnnotationTraefikMiddlewares lists the Traefik Middlewares of an Ingress's routers.
	AnnotationTraefikMiddlewares = "traefik.ingress.kubernetes.io/router.middlewares"
	// AnnotationTraefikRouterTLS makes Traefik serve an Ingress's routers over TLS only: its
	// Ingress provider takes the certificates of spec.tls but, without this, routes the host
	// on plain HTTP entry points and answers 404 on TLS ones that do not force TLS.
	AnnotationTraefikRouterTLS = "traefik.ingress.kubernetes.io/router.tls"
)

// refuseEveryClient is an allow-list no client matches: a TCP connection never comes from
// the unspecified addresses. A closed route carries it.
var refuseEveryClient = []string{"0.0.0.0/32", "::/128"}

// GatePathPrefix is where the access gate serves its own pages (sign-in callbacks, the
// login form, sign-out); it is routed with the agent paths.
const GatePathPrefix = "/_gate"

// ingressEdge exposes through Ingresses, with the annotation set of one controller.
type ingressEdge struct{ impl Edge }

func (e ingressEdge) allowList() bool { return e.impl == EdgeIngressNginx || e.impl == EdgeTraefik }
func (e ingressEdge) closes() bool    { return e.allowList() }
func (e ingressEdge) bodyLimit() bool { return e.allowList() }

func (e ingressEdge) mechanism() string {
	switch e.impl {
	case EdgeIngressNginx:
		return "ingress-nginx annotations " + AnnotationNginxAllowList + " and " + AnnotationNginxBodySize
	case EdgeTraefik:
		return "Traefik Middlewares ipAllowList and buffering on the Ingresses"
	}
	return "nothing"
}

// objects: the portal Ingress (named like the app, as before there was an agent route)
// and the agent Ingress, for one host; with Traefik also their Middlewares.
func (e ingressEdge) objects(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan) []client.Object {
	n, a := NamesFor(inst), AccessNamesFor(inst)
	var out []client.Object
	certManager := true
	if plan.Portal == RouteOpen {
		out = append(out, e.ingress(inst, prof, opts, plan, n.App, []string{"/"}, plan.PortalCIDRs, a.PortalAllowList, certManager))
		certManager = false
	}
	if plan.Agent != RouteAbsent {
		cidrs := plan.AgentCIDRs
		if plan.Agent == RouteClosed {
			cidrs = refuseEveryClient
		}
		out = append(out, e.ingress(inst, prof, opts, plan, a.AgentRoute, agentPaths(prof, plan), cidrs, a.AgentAllowList, certManager))
	}
	if e.impl == EdgeTraefik {
		out = append(out, traefikMiddlewares(inst, prof, opts, plan)...)
	}
	return out
}

func (e ingressEdge) ingress(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan, name string, paths, cidrs []string, allowListName string, certManager bool) *networkingv1.Ingress {
	annotations := map[string]string{}
	switch e.impl {
	case EdgeIngressNginx:
		if len(cidrs) > 0 {
			annotations[AnnotationNginxAllowList] = strings.Join(cidrs, ",")
		}
		switch {
		case plan.BodyLimitBytes > 0:
			annotations[AnnotationNginxBodySize] = strconv.FormatInt(plan.BodyLimitBytes, 10)
		case !plan.Referenced && opts.IngressBodySize != "":
			annotations[AnnotationNginxBodySize] = opts.IngressBodySize
		}
	case EdgeTraefik:
		var refs []string
		if len(cidrs) > 0 {
			refs = append(refs, inst.Namespace+"-"+allowListName+"@kubernetescrd")
		}
		if plan.BodyLimitBytes > 0 {
			refs = append(refs, inst.Namespace+"-"+AccessNamesFor(inst).BodyLimit+"@kubernetescrd")
		}
		if len(refs) > 0 {
			annotations[AnnotationTraefikMiddlewares] = strings.Join(refs, ",")
		}
	}
	var tls []networkingv1.IngressTLS
	if t := inst.Spec.TLS; t != nil {
		tls = []networkingv1.IngressTLS{{Hosts: []string{inst.Spec.Hostname}, SecretName: t.SecretName}}
		if e.impl == EdgeTraefik {
			annotations[AnnotationTraefikRouterTLS] = "true"
		}
		// One Ingress asks cert-manager, or it would make two Certificates for one Secret.
		if certManager && opts.CertManager && t.Issuer != nil {
			key := AnnotationCertManagerClusterIssuer
			if t.Issuer.Kind == "Issuer" {
				key = AnnotationCertManagerIssuer
			}
			annotations[key] = t.Issuer.Name
		}
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	meta := objectMeta(inst, name, Labels(inst, prof, opts, ComponentApp))
	meta.Annotations = annotations
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: backendService(inst, plan),
		Port: networkingv1.ServiceBackendPort{Name: portName},
	}}
	var httpPaths []networkingv1.HTTPIngressPath
	for _, p := range paths {
		httpPaths = append(httpPaths, networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend})
	}
	className := inst.Spec.Ingress.ClassName
	if className == nil && opts.Exposure.IngressClassName != "" {
		className = ptr.To(opts.Exposure.IngressClassName)
	}
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			IngressClassName: className,
			TLS:              tls,
			Rules: []networkingv1.IngressRule{{
				Host:             inst.Spec.Hostname,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: httpPaths}},
			}},
		},
	}
}

// backendService is the Service every route leads to: the gate when one runs, else the app.
func backendService(inst *v1alpha1.HelpdeskInstance, plan AccessPlan) string {
	if plan.Gated {
		return AccessNamesFor(inst).Gate
	}
	return NamesFor(inst).App
}

// agentPaths are the profile's agent paths and, with a gate, the gate's own.
func agentPaths(prof appprofile.Profile, plan AccessPlan) []string {
	paths := append([]string(nil), prof.AgentPathPrefixes...)
	if plan.Gated {
		paths = append(paths, GatePathPrefix)
	}
	return paths
}

func ingressSkeleton(inst *v1alpha1.HelpdeskInstance, name string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: name},
	}
}
