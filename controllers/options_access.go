package controllers

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// accessFlags choose how instances are exposed and guarded on this cluster.
type accessFlags struct {
	exposure, ingressController, ingressClass       string
	gateway, gatewayListener, gatewayImplementation string
	edgeNamespaces, edgePods, gateImage, gateEgress string
}

func (a *accessFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&a.exposure, "exposure", string(resources.ExposureIngress),
		"How instances are exposed: ingress (Ingresses, for --ingress-controller) or gateway (Gateway API HTTPRoutes attached to --gateway, for --gateway-implementation).")
	fs.StringVar(&a.ingressController, "ingress-controller", string(resources.EdgeIngressNginx),
		"With --exposure=ingress, the controller whose annotations the Ingresses carry: ingress-nginx, traefik, or other (no annotations: allow-lists and body limits are not enforced, and what they guard is not exposed).")
	fs.StringVar(&a.ingressClass, "ingress-class", "", "IngressClass of instances that set no spec.ingress.className; empty uses the cluster's default class.")
	fs.StringVar(&a.gateway, "gateway", "", "With --exposure=gateway, the Gateway (<namespace>/<name>) routes attach to unless an instance sets spec.ingress.gateway.")
	fs.StringVar(&a.gatewayListener, "gateway-listener", "", "With --exposure=gateway, the listener (sectionName) of --gateway routes attach to; empty attaches to every listener that accepts them.")
	fs.StringVar(&a.gatewayImplementation, "gateway-implementation", "",
		"With --exposure=gateway (required then): envoy-gateway, traefik, or other (core Gateway API only: allow-lists and body limits are not enforced, and what they guard is not exposed).")
	fs.StringVar(&a.edgeNamespaces, "ingress-namespace-selector", "",
		"Label selector of the namespaces the edge runs in (the ingress controller, or the Gateway's proxies); only its pods may reach the helpdesks (or their access gates). Empty uses the implementation's default namespace: ingress-nginx, traefik, envoy-gateway-system.")
	fs.StringVar(&a.edgePods, "ingress-pod-selector", "",
		"Label selector of the edge's pods in those namespaces. Empty uses the implementation's default labels when --ingress-namespace-selector is empty too, else every pod there.")
	fs.StringVar(&a.gateImage, "gate-image", "", "Image of the access gate (`helpdesk-operator gate`) of instances with SSO; empty uses --operator-image.")
	fs.StringVar(&a.gateEgress, "gate-egress-cidrs", "",
		"Comma-separated CIDRs of identity providers every access gate may reach (on its provider URL's port), besides the policies' spec.sso.providerCIDRs.")
}

// complete fills the exposure, edge and gate options; errors name the flag to fix.
func (a *accessFlags) complete(r *resources.Options) error {
	var errs []error
	x := resources.ExposureOptions{Mode: resources.ExposureMode(a.exposure), IngressClassName: a.ingressClass}
	switch x.Mode {
	case resources.ExposureIngress:
		x.Edge = resources.Edge(a.ingressController)
	case resources.ExposureGateway:
		x.Edge = resources.Edge(a.gatewayImplementation)
		if a.gatewayImplementation == "" {
			errs = append(errs, errors.New("--gateway-implementation is required with --exposure=gateway: envoy-gateway, traefik or other"))
		}
		ns, name, ok := strings.Cut(a.gateway, "/")
		if !ok {
			errs = append(errs, fmt.Errorf("--gateway %q: must be <namespace>/<name> of the platform's Gateway", a.gateway))
		}
		x.Gateway = resources.GatewayRef{Namespace: ns, Name: name, SectionName: a.gatewayListener}
	}
	r.Exposure = x
	exposureErr := x.Validate()
	if len(errs) == 0 && exposureErr != nil {
		errs = append(errs, exposureErr)
	}

	selector := func(flagName, value string) *metav1.LabelSelector {
		if value == "" {
			return nil
		}
		s, err := metav1.ParseToLabelSelector(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: %w", flagName, value, err))
		}
		return s
	}
	if a.edgeNamespaces == "" {
		r.IngressController = resources.EdgeDefaults(x)
		if r.IngressController.NamespaceSelector == nil && exposureErr == nil {
			errs = append(errs, fmt.Errorf("--ingress-namespace-selector is required with the %s exposure: the operator does not know where its pods run", x))
		}
	} else {
		r.IngressController = resources.PeerSelector{NamespaceSelector: selector("ingress-namespace-selector", a.edgeNamespaces)}
	}
	if a.edgePods != "" {
		r.IngressController.PodSelector = selector("ingress-pod-selector", a.edgePods)
	}
	r.Gate = resources.GateOptions{Image: a.gateImage, EgressCIDRs: splitList(a.gateEgress)}
	return errors.Join(errs...)
}
