package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// ServiceAccount is the identity of the app and the instance's Jobs; the instance's
// Vault Kubernetes auth role is bound to it. Tokens are not mounted by default: only
// pods that log in to Vault themselves ask for one in their pod spec.
func ServiceAccount(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   objectMeta(inst, NamesFor(inst).App, Labels(inst, prof, opts, ComponentApp)),
		AutomountServiceAccountToken: ptr.To(false),
	}
}
