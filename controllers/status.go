package controllers

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

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

// listedItems is how many items a condition or Event message names before it only counts
// the rest: a policy's messages about its instances stay short at any number of them
// (the API server refuses a condition message over 32 KiB and an Event's over 1 KiB).
const listedItems = 5

// joinSome joins the first listedItems items with sep and counts the others.
func joinSome(items []string, sep string) string {
	if len(items) <= listedItems {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s%sand %d more", strings.Join(items[:listedItems], sep), sep, len(items)-listedItems)
}

// eventMessage cuts a message to what an Event may carry (1024 characters).
func eventMessage(message string) string {
	const limit = 1024
	if len(message) <= limit {
		return message
	}
	cut := limit - len(" …")
	for cut > 0 && !utf8.RuneStart(message[cut]) {
		cut--
	}
	return message[:cut] + " …"
}
