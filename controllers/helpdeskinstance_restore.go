package controllers

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
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
		return true, nil
	case v1alpha1.RestorePhaseFailed:
		failed()
		return false, nil
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
		return true, nil
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
		return false, nil
	default:
		restoring(v1alpha1.RestorePhaseRunning, fmt.Sprintf("Restore Job %s is restoring backup %s", name, st.BackupID))
		return false, nil
	}
}

// startRestore creates the restore Job (and, for an S3 destination, its egress) once the
// database and the source policy are there.
func (r *HelpdeskInstanceReconciler) startRestore(ctx context.Context, scope *instanceScope, restoring func(v1alpha1.RestorePhase, string)) error {
	inst, src := scope.inst, scope.inst.Spec.RestoreFrom
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

// restoreSucceeded reports whether spec.restoreFrom's backup is in place.
func restoreSucceeded(inst *v1alpha1.HelpdeskInstance) bool {
	return inst.Status.Restore != nil && inst.Status.Restore.Phase == v1alpha1.RestorePhaseSucceeded
}
