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

func TestAccessEventOnlyForPartsInForceLeavingItOrAProblem(t *testing.T) {
	part := func(state v1alpha1.AccessPartState, reason string) v1alpha1.AccessPartStatus {
		return v1alpha1.AccessPartStatus{State: state, Reason: reason}
	}
	enforced, notRequested := part(v1alpha1.AccessPartEnforced, ""), part(v1alpha1.AccessPartNotRequested, "")
	pending := part(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSettingsPending)
	access := func(uploads, bot, session v1alpha1.AccessPartStatus) *v1alpha1.AccessStatus {
		return &v1alpha1.AccessStatus{PolicyName: "agents", Exposure: "ingress/ingress-nginx", AccessEnforcement: v1alpha1.AccessEnforcement{
			AllowList: enforced, SSO: enforced, MFA: notRequested, Session: session, Uploads: uploads, BotProtection: bot,
		}}
	}
	settingsUp := access(enforced, enforced, enforced)
	for _, tc := range []struct {
		name          string
		before, after *v1alpha1.AccessStatus
		want          string // "" for no Event
	}{
		{"a new instance's settings are being written", nil, access(pending, pending, enforced), ""},
		{"its settings written", access(pending, pending, enforced), settingsUp, corev1.EventTypeNormal},
		{"in force from the first report", nil, settingsUp, corev1.EventTypeNormal},
		{"nothing changed", settingsUp, settingsUp, ""},
		{"new values being written leave Enforced", settingsUp, access(pending, enforced, enforced), corev1.EventTypeWarning},
		{"a missing Secret on the way up", access(pending, pending, enforced), access(part(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSecretMissing), pending, enforced), corev1.EventTypeWarning},
		{"the settings Job failed", access(pending, pending, enforced), access(part(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSettingsFailed), pending, enforced), corev1.EventTypeWarning},
		{"a part the exposure cannot enforce, from the start", nil, access(pending, pending, part(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSessionNeedsSSO)), corev1.EventTypeWarning},
		{"settings written beside a part never enforced", access(pending, pending, part(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSessionNeedsSSO)),
			access(enforced, enforced, part(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSessionNeedsSSO)), corev1.EventTypeNormal},
		{"back to being written after a problem", access(part(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSecretMissing), pending, enforced), access(pending, pending, enforced), ""},
		{"a part no longer asked for", settingsUp, access(notRequested, enforced, enforced), corev1.EventTypeNormal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, changes, ok := accessEvent(tc.before, tc.after)
			if !ok {
				got = ""
			}
			if got != tc.want {
				t.Fatalf("accessEvent = %q %s %v, want %q", got, reason, changes, tc.want)
			}
			if ok && len(changes) == 0 {
				t.Errorf("an Event that lists no change")
			}
		})
	}
}
