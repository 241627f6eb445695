package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// portName names the app's port on the container and the Service; the Ingress and the
// probes refer to it by name.
const portName = "http"

// servicePort is the Service's port; the NetworkPolicy opens the container port, which
// is what policies see.
const servicePort = 80

// Service exposes the app inside the cluster for the Ingress.
func Service(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(inst, NamesFor(inst).App, Labels(inst, prof, opts, ComponentApp)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(inst, RoleApp),
			Ports: []corev1.ServicePort{{
				Name:       portName,
				Protocol:   corev1.ProtocolTCP,
				Port:       servicePort,
				TargetPort: intstr.FromString(portName),
			}},
		},
	}
}
