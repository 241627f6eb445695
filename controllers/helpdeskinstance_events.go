package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// readyProgressReasons are the reasons Ready is False for while an instance makes its way
// up (or back up): each step waits for the one before it, and nothing is wrong yet.
var readyProgressReasons = map[string]bool{
	v1alpha1.ReasonProgressing:           true,
	v1alpha1.ReasonClusterProvisioning:   true,
	v1alpha1.ReasonWaitingForDatabase:    true,
	v1alpha1.ReasonRestoring:             true,
	v1alpha1.ReasonMigrating:             true,
	v1alpha1.ReasonWaitingForSettings:    true,
	v1alpha1.ReasonDeploymentProgressing: true,
	v1alpha1.ReasonGateNotAvailable:      true,
}

// recordReadyChange emits an Event when Ready changes: Normal when the instance comes up,
// Warning when it goes down, and Warning when it stops on a problem (a reason that is not
// progress) on its way up or down. A new instance's way up is no warning: alerts on
// Warning events would otherwise fire for every tenant created, and a failure after the
// first progress step (a failed migration, Vault unreachable) would go unannounced, Ready
// having been False all along.
func (r *HelpdeskInstanceReconciler) recordReadyChange(before, after *v1alpha1.HelpdeskInstance) {
	was := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionReady)
	now := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionReady)
	if eventType, ok := readyEvent(was, now); ok {
		r.Recorder.Eventf(after, nil, eventType, now.Reason, "Reconcile", "%s", eventMessage(now.Message))
	}
}

// readyEvent says which Event, if any, the move of Ready from was to now calls for.
func readyEvent(was, now *metav1.Condition) (eventType string, ok bool) {
	switch {
	case now == nil:
		return "", false
	case now.Status == metav1.ConditionTrue:
		return corev1.EventTypeNormal, was == nil || was.Status != metav1.ConditionTrue
	case was != nil && was.Status == metav1.ConditionTrue:
		return corev1.EventTypeWarning, true
	case readyProgressReasons[now.Reason]:
		return "", false
	default:
		return corev1.EventTypeWarning, was == nil || was.Reason != now.Reason
	}
}
