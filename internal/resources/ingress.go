package resources

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Annotations the Ingress may carry.
const (
	AnnotationCertManagerClusterIssuer = "cert-manager.io/cluster-issuer"
	AnnotationCertManagerIssuer        = "cert-manager.io/issuer"
	AnnotationNginxBodySize            = "nginx.ingress.kubernetes.io/proxy-body-size"
)

// Ingress routes the instance's hostname to its Service. With spec.tls it serves the
// certificate in spec.tls.secretName; with an issuer (and cert-manager enabled in the
// options) cert-manager issues that certificate.
func Ingress(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *networkingv1.Ingress {
	n := NamesFor(inst)
	annotations := map[string]string{}
	if opts.IngressBodySize != "" {
		annotations[AnnotationNginxBodySize] = opts.IngressBodySize
	}
	var tls []networkingv1.IngressTLS
	if t := inst.Spec.TLS; t != nil {
		tls = []networkingv1.IngressTLS{{Hosts: []string{inst.Spec.Hostname}, SecretName: t.SecretName}}
		if opts.CertManager && t.Issuer != nil {
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
	meta := objectMeta(inst, n.App, Labels(inst, prof, opts, ComponentApp))
	meta.Annotations = annotations

	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			IngressClassName: inst.Spec.Ingress.ClassName,
			TLS:              tls,
			Rules: []networkingv1.IngressRule{{
				Host: inst.Spec.Hostname,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: n.App,
							Port: networkingv1.ServiceBackendPort{Name: portName},
						}},
					}},
				}},
			}},
		},
	}
}
