package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// reconcileDelete handles the instance's Vault state per its deletion policy, then lets
// it go. While Vault cannot be reached the finalizer stays and the condition says why:
// removing it would leave keys and secrets behind with no record of them.
func (r *HelpdeskInstanceReconciler) reconcileDelete(ctx context.Context, inst *v1alpha1.HelpdeskInstance) error {
	if !controllerutil.ContainsFinalizer(inst, vaultFinalizer) {
		return nil
	}
	scope := &instanceScope{inst: inst}
	policy := inst.Spec.DeletionPolicy
	if policy == "" {
		policy = v1alpha1.DeletionPolicyRetain
	}
	if err := r.Vault.DeleteTenant(ctx, scope.tenant(), vault.DeletionPolicy(policy)); err != nil {
		before := inst.DeepCopy()
		setCondition(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionFalse, vault.Reason(err),
			fmt.Sprintf("Deleting the Vault state (deletionPolicy %s) failed; the instance is kept until it succeeds: %s", policy, vault.ConditionMessage(err)))
		if patchErr := patchStatus(ctx, r.Client, before, inst); patchErr != nil {
			return patchErr
		}
		return err
	}
	switch policy {
	case v1alpha1.DeletionPolicyShred:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, "KeyShredded", "Delete",
			"Deleted transit key %s and the app secrets: every backup of this instance is now unreadable", keyName(inst))
	case v1alpha1.DeletionPolicyDelete:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "SecretsDeleted", "Delete",
			"Deleted the app secrets and the Vault role and policy; transit key %s is kept so backups stay restorable", keyName(inst))
	default:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "AccessRevoked", "Delete",
			"Removed the Vault role and policy; transit key %s and the app secrets are retained", keyName(inst))
	}
	patch := client.MergeFrom(inst.DeepCopy())
	controllerutil.RemoveFinalizer(inst, vaultFinalizer)
	return client.IgnoreNotFound(r.Patch(ctx, inst, patch))
}

func keyName(inst *v1alpha1.HelpdeskInstance) string {
	if inst.Status.Encryption != nil && inst.Status.Encryption.KeyName != "" {
		return inst.Status.Encryption.KeyName
	}
	return "of the instance"
}

// recordReadyChange emits an Event when Ready changes status: events on change only.
func (r *HelpdeskInstanceReconciler) recordReadyChange(before, after *v1alpha1.HelpdeskInstance) {
	was := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionReady)
	now := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionReady)
	if now == nil || (was != nil && was.Status == now.Status) {
		return
	}
	if now.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, now.Reason, "Reconcile", "%s", now.Message)
		return
	}
	r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
}
