package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// conditioned is one of our kinds: an object with conditions and an observed generation.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	SetObservedGeneration(int64)
}

// setCondition records a condition for the object's current generation. The transition
// time only moves when the status does, so an unchanged verdict writes nothing.
func setCondition(obj conditioned, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions := obj.GetConditions()
	meta.SetStatusCondition(&conditions, metav1.Condition{
		Type:               conditionType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conditions)
}

// markStalled says the controller cannot go on until the spec changes.
func markStalled(obj conditioned, reason, message string) {
	setCondition(obj, v1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	setCondition(obj, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
}

// clearStalled removes Stalled: by convention it is only present while true.
func clearStalled(obj conditioned) {
	conditions := obj.GetConditions()
	meta.RemoveStatusCondition(&conditions, v1alpha1.ConditionStalled)
	obj.SetConditions(conditions)
}

// patchStatus writes obj's status when it differs from before, as a merge patch with an
// optimistic lock so that a concurrent writer makes us re-read instead of overwriting.
func patchStatus(ctx context.Context, c client.Client, before, obj conditioned) error {
	obj.SetObservedGeneration(obj.GetGeneration())
	if equality.Semantic.DeepEqual(before, obj) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("updating the status of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return nil
}
