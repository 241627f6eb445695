package controllers

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// reconcileRestore fills a new instance from spec.restoreFrom before anything else
// touches its database: once the database is ready it runs the restore Job, and it
// reports true only when the Job has succeeded, so the migration (and the app) wait for
// the restored data. Without restoreFrom it reports true at once.
//
// status.restore remembers the outcome: a Succeeded restore is never run again (the
// database is no longer empty, and the engine would refuse), and a Failed one is final
// because restoreFrom is immutable; the engine leaves the target empty, so deleting the
// instance and creating it again retries cleanly.
func (r *HelpdeskInstanceReconciler) reconcileRestore(ctx context.Context, scope *instanceScope, appReady func(metav1.ConditionStatus, string, string)) (bool, error) {
	inst := scope.inst
	src := inst.Spec.RestoreFrom
	if src == nil {
		return true, nil
	}
	st := inst.Status.Restore
	if st == nil {
		st = &v1alpha1.RestoreStatus{BackupID: src.BackupID, Phase: v1alpha1.RestorePhasePending}
		if st.BackupID == "" {
			st.BackupID = "latest"
		}
		inst.Status.Restore = st
	}
	restoring := func(phase v1alpha1.RestorePhase, message string) {
		st.Phase, st.Message = phase, message
		appReady(metav1.ConditionFalse, v1alpha1.ReasonRestoring, message)
	}
	failed := func() {
		appReady(metav1.ConditionFalse, v1alpha1.ReasonRestoreFailed, fmt.Sprintf(
			"The restore of backup %s failed: %s. spec.restoreFrom is immutable and the database was left empty: delete the instance and create it again to retry",
			st.BackupID, st.Message))
	}

	switch st.Phase {
	case v1alpha1.RestorePhaseSucceeded:
		return true, r.deleteRestoreEgress(ctx, inst)
	case v1alpha1.RestorePhaseFailed:
		failed()
		return false, r.deleteRestoreEgress(ctx, inst)
	}

	name := resources.BackupNamesFor(inst).RestoreJob
	job := &batchv1.Job{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: name}, job)
	switch {
	case apierrors.IsNotFound(err):
		return false, r.startRestore(ctx, scope, restoring)
	case err != nil:
		return false, err
	case !metav1.IsControlledBy(job, inst):
		restoring(v1alpha1.RestorePhasePending, fmt.Sprintf("Job %s exists and does not belong to the instance; remove it to let the restore start", name))
		return false, nil
	}

	switch {
	case jobCondition(job, batchv1.JobComplete):
		result, err := readRunResult(ctx, r.APIReader, job)
		if err != nil {
			return false, err
		}
		if result.ID != "" {
			st.BackupID = result.ID
		}
		st.Phase, st.Message = v1alpha1.RestorePhaseSucceeded, "The backup was restored; the migration runs next"
		return true, r.deleteRestoreEgress(ctx, inst)
	case jobCondition(job, batchv1.JobFailed):
		result, err := readRunResult(ctx, r.APIReader, job)
		if err != nil {
			return false, err
		}
		st.Phase, st.Message = v1alpha1.RestorePhaseFailed, result.Error
		if st.Message == "" {
			st.Message = fmt.Sprintf("Job %s failed without a result; read its logs (kubectl logs job/%s)", name, name)
		}
		failed()
		if r.Recorder != nil {
			r.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, v1alpha1.ReasonRestoreFailed, "Restore", "Restore of backup %s failed: %s", st.BackupID, st.Message)
		}
		return false, r.deleteRestoreEgress(ctx, inst)
	default:
		restoring(v1alpha1.RestorePhaseRunning, fmt.Sprintf("Restore Job %s is restoring backup %s", name, st.BackupID))
		return false, nil
	}
}

// startRestore creates the restore Job (and, for an S3 destination, its egress) once the
// database and the source policy are there.
func (r *HelpdeskInstanceReconciler) startRestore(ctx context.Context, scope *instanceScope, restoring func(v1alpha1.RestorePhase, string)) error {
	inst, src := scope.inst, scope.inst.Spec.RestoreFrom
	if scope.restoreSourceMissing != "" {
		st := inst.Status.Restore
		st.Phase, st.Message = v1alpha1.RestorePhasePending, scope.restoreSourceMissing
		setCondition(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonRestoreSourceNotFound, scope.restoreSourceMissing)
		return nil
	}
	if !scope.databaseReady {
		restoring(v1alpha1.RestorePhasePending, "Waiting for the database before restoring into it (see DatabaseReady)")
		return nil
	}
	policy := &v1alpha1.BackupPolicy{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: src.BackupPolicyName}, policy)
	switch {
	case apierrors.IsNotFound(err):
		restoring(v1alpha1.RestorePhasePending, fmt.Sprintf("spec.restoreFrom names BackupPolicy %q, which does not exist", src.BackupPolicyName))
		return nil
	case err != nil:
		return fmt.Errorf("reading BackupPolicy %s: %w", src.BackupPolicyName, err)
	}
	if np := resources.RestoreNetworkPolicy(inst, scope.profile, r.Resources, policy); np != nil {
		if _, err := r.Applier.Apply(ctx, np); err != nil {
			return err
		}
	}
	// Like the migration Job, it is created once and then only read.
	job := resources.RestoreJob(inst, scope.profile, r.Resources, policy)
	if _, err := r.Applier.Apply(ctx, job); err != nil {
		restoring(v1alpha1.RestorePhasePending, "The restore Job could not be created: "+apiReason(err))
		return err
	}
	restoring(v1alpha1.RestorePhaseRunning, fmt.Sprintf("Restore Job %s is restoring backup %s", job.Name, scope.inst.Status.Restore.BackupID))
	return nil
}

// restoreOver reports whether spec.restoreFrom's restore has ended, well or not: no grant
// on another instance's key outlives it.
func restoreOver(inst *v1alpha1.HelpdeskInstance) bool {
	st := inst.Status.Restore
	return st != nil && (st.Phase == v1alpha1.RestorePhaseSucceeded || st.Phase == v1alpha1.RestorePhaseFailed)
}

// restoresItself: spec.restoreFrom names the instance's own (earlier) backups.
func restoresItself(inst *v1alpha1.HelpdeskInstance) bool {
	src := inst.Spec.RestoreFrom
	return src != nil && (src.InstanceName == "" || src.InstanceName == inst.Name)
}

// reconcileRestoreSource resolves spec.restoreFrom.instanceName, never by joining strings:
// to an instance of the namespace, or to a key this operator recorded as retained for a
// deleted one. Only then, and only until the restore has ended, does the restore
// ServiceAccount name it, which is what lets the restore decrypt with that key; Vault pins
// the grant to this namespace whatever the name says.
func (r *HelpdeskInstanceReconciler) reconcileRestoreSource(ctx context.Context, scope *instanceScope) error {
	inst := scope.inst
	src := inst.Spec.RestoreFrom
	if src == nil || restoresItself(inst) || restoreOver(inst) {
		return nil
	}
	name := src.InstanceName
	if err := vault.ValidateTenant(inst.Namespace, name); err != nil {
		scope.restoreSourceMissing = "spec.restoreFrom.instanceName: " + err.Error()
		return nil
	}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: name}, &v1alpha1.HelpdeskInstance{})
	switch {
	case err == nil:
		scope.restoreSource = name
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading HelpdeskInstance %s, the restore source: %w", name, err)
	}
	retained, err := r.Vault.RetainedKey(ctx, inst.Namespace, name)
	if err != nil {
		setCondition(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, vault.Reason(err),
			"Cannot look up the restore source's key in Vault: "+vault.ConditionMessage(err))
		return err
	}
	if retained {
		scope.restoreSource = name
		return nil
	}
	scope.restoreSourceMissing = fmt.Sprintf("spec.restoreFrom.instanceName %q names no HelpdeskInstance of namespace %s and no key the operator kept for a deleted one; the restore waits", name, inst.Namespace)
	return nil
}

// deleteRestoreEgress removes the restore's way out to its destination once it has ended.
func (r *HelpdeskInstanceReconciler) deleteRestoreEgress(ctx context.Context, inst *v1alpha1.HelpdeskInstance) error {
	_, err := r.Applier.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{
		Namespace: inst.Namespace, Name: resources.BackupNamesFor(inst).RestoreEgressPolicy}})
	return err
}
