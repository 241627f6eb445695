package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// reconcileDelete handles the instance's Vault state per its deletion policy, then lets
// it go. Vault only removes what the instance owns (its ownership record names its UID).
// While Vault cannot be reached the finalizer stays, the deletion is retried with backoff,
// and the condition says why and what an administrator can do: annotate the instance with
// helpdesk.privatedesk.io/skip-vault-cleanup (the value says why) to finish without Vault
// cleanup; an Event then lists what stays in Vault.
func (r *HelpdeskInstanceReconciler) reconcileDelete(ctx context.Context, inst *v1alpha1.HelpdeskInstance) error {
	if !controllerutil.ContainsFinalizer(inst, vaultFinalizer) {
		return nil
	}
	scope := &instanceScope{inst: inst}
	policy := inst.Spec.DeletionPolicy
	if policy == "" {
		policy = v1alpha1.DeletionPolicyRetain
	}
	res, err := r.Vault.DeleteTenant(ctx, scope.tenant(), vault.DeletionPolicy(policy))
	switch {
	case err != nil && inst.Annotations[v1alpha1.AnnotationSkipVaultCleanup] != "":
		r.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, v1alpha1.ReasonVaultCleanupSkipped, "Delete",
			"Finished the deletion without Vault cleanup (deletionPolicy %s), as annotation %s asks (%q); Vault said: %s. Left in Vault: %s",
			policy, v1alpha1.AnnotationSkipVaultCleanup, inst.Annotations[v1alpha1.AnnotationSkipVaultCleanup],
			vault.ConditionMessage(err), strings.Join(r.Vault.Leftovers(inst.Namespace, inst.Name), ", "))
		ctrl.LoggerFrom(ctx).Info("finished a deletion without Vault cleanup, as annotated", "deletionPolicy", policy)
	case err != nil:
		before := inst.DeepCopy()
		setCondition(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionFalse, vault.Reason(err), fmt.Sprintf(
			"Deleting the Vault state (deletionPolicy %s) failed; the deletion is retried with backoff: %s. To finish the deletion without Vault cleanup, an administrator annotates the instance with %s=<reason>",
			policy, vault.ConditionMessage(err), v1alpha1.AnnotationSkipVaultCleanup))
		if patchErr := patchStatus(ctx, r.Client, before, inst); patchErr != nil {
			return patchErr
		}
		return err
	case !res.Owned:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "NoVaultState", "Delete",
			"The instance owned no state in Vault (its names hold none, or what an earlier instance of this name retained); nothing was removed from Vault")
	case policy == v1alpha1.DeletionPolicyShred:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, "KeyShredded", "Delete",
			"Deleted transit key %s and the app secrets: every backup of this instance is now unreadable", keyName(inst))
	case policy == v1alpha1.DeletionPolicyDelete:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "SecretsDeleted", "Delete",
			"Deleted the app secrets and the Vault roles; transit key %s is kept so backups stay restorable", keyName(inst))
	default:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "AccessRevoked", "Delete",
			"Removed the Vault roles; transit key %s and the app secrets are retained", keyName(inst))
	}
	r.VaultStates.forget(inst.UID)
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
