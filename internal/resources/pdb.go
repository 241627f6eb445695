package resources

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// PodDisruptionBudget lets node drains take one app pod at a time. It returns nil for
// fewer than two replicas: a budget for a single pod would block every drain.
func PodDisruptionBudget(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *policyv1.PodDisruptionBudget {
	if appReplicas(inst) < 2 {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(inst, NamesFor(inst).App, Labels(inst, prof, opts, ComponentApp)),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(inst, RoleApp)},
		},
	}
}
