package controllers

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func TestReadyEventOnlyForComingUpGoingDownOrAProblem(t *testing.T) {
	ready := func(status metav1.ConditionStatus, reason string) *metav1.Condition {
		return &metav1.Condition{Type: v1alpha1.ConditionReady, Status: status, Reason: reason}
	}
	up := ready(metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	for _, tc := range []struct {
		name     string
		was, now *metav1.Condition
		want     string // "" for no Event
	}{
		{"a new instance starts its way up", nil, ready(metav1.ConditionFalse, v1alpha1.ReasonClusterProvisioning), ""},
		{"one step of the way up to the next", ready(metav1.ConditionFalse, v1alpha1.ReasonClusterProvisioning), ready(metav1.ConditionFalse, v1alpha1.ReasonMigrating), ""},
		{"the gate still starting", ready(metav1.ConditionFalse, v1alpha1.ReasonDeploymentProgressing), ready(metav1.ConditionFalse, v1alpha1.ReasonGateNotAvailable), ""},
		{"up", ready(metav1.ConditionFalse, v1alpha1.ReasonDeploymentProgressing), up, corev1.EventTypeNormal},
		{"up at once", nil, up, corev1.EventTypeNormal},
		{"still up", up, up, ""},
		{"down, even for a rollout", up, ready(metav1.ConditionFalse, v1alpha1.ReasonDeploymentProgressing), corev1.EventTypeWarning},
		{"a problem on the way up", ready(metav1.ConditionFalse, v1alpha1.ReasonMigrating), ready(metav1.ConditionFalse, v1alpha1.ReasonMigrationFailed), corev1.EventTypeWarning},
		{"a problem from the start", nil, ready(metav1.ConditionFalse, v1alpha1.ReasonPolicyNotFound), corev1.EventTypeWarning},
		{"the same problem again", ready(metav1.ConditionFalse, v1alpha1.ReasonMigrationFailed), ready(metav1.ConditionFalse, v1alpha1.ReasonMigrationFailed), ""},
		{"another problem", ready(metav1.ConditionFalse, v1alpha1.ReasonMigrationFailed), ready(metav1.ConditionFalse, "VaultUnavailable"), corev1.EventTypeWarning},
		{"back on the way up after a problem", ready(metav1.ConditionFalse, v1alpha1.ReasonMigrationFailed), ready(metav1.ConditionFalse, v1alpha1.ReasonMigrating), ""},
		{"no Ready yet", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := readyEvent(tc.was, tc.now)
			if !ok {
				got = ""
			}
			if got != tc.want {
				t.Errorf("readyEvent = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReadyEventsTellProblemsFromProgress brings an instance up through a failed migration:
// the way up records no Warning, the failure does, and coming up a Normal Event.
func TestReadyEventsTellProblemsFromProgress(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(newNamespace(t), "events")
	mustCreate(t, inst)
	markDatabaseReady(t, inst)
	failing := finishMigration(t, inst, false)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonMigrationFailed))
	eventually(t, wait, eventIs(inst, corev1.EventTypeWarning, v1alpha1.ReasonMigrationFailed))

	// Retry as the message says: delete the Job.
	if err := k8sClient.Delete(ctx, failing, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	if replaced := completeMigration(t, inst); replaced.UID == failing.UID {
		t.Fatal("the failed migration Job was not replaced")
	}
	markDeploymentAvailable(t, inst, 1)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
	eventually(t, wait, eventIs(inst, corev1.EventTypeNormal, v1alpha1.ReasonReconciled))

	warnings := 0
	for _, e := range recorder.of(inst.Namespace, inst.Name) {
		if e.eventType != corev1.EventTypeWarning {
			continue
		}
		warnings++
		if readyProgressReasons[e.reason] || e.reason != v1alpha1.ReasonMigrationFailed {
			t.Errorf("Warning event %s (%s) on an instance that only made its way up and failed its migration once", e.reason, e.message)
		}
	}
	if warnings != 1 {
		t.Errorf("%d Warning events, want exactly the failed migration's", warnings)
	}
}

// eventIs waits for an Event of the given type and reason on obj.
func eventIs(obj client.Object, eventType, reason string) func() error {
	return func() error {
		events := recorder.of(obj.GetNamespace(), obj.GetName())
		for _, e := range events {
			if e.eventType == eventType && e.reason == reason {
				return nil
			}
		}
		return fmt.Errorf("no %s %s event among %+v", eventType, reason, events)
	}
}
