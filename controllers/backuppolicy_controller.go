package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/schedule"
)

// BackupPolicyReconciler checks the policy's schedules strictly and that its destination's
// Secrets and volume exist, and reports when the next backup is due.
type BackupPolicyReconciler struct {
	client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	// Now is the clock; tests set it.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=backuppolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=backuppolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch

func (r *BackupPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &v1alpha1.BackupPolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := policy.DeepCopy()

	backups, err := parseBackupSchedules(policy)
	if err != nil {
		markStalled(policy, v1alpha1.ReasonInvalidSpec, err.Error())
		policy.Status.NextRun = nil
		if patchErr := patchStatus(ctx, r.Client, before, policy); patchErr != nil {
			return ctrl.Result{}, patchErr
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	clearStalled(policy)

	reason, problems, err := r.destinationProblems(ctx, policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	var requeue time.Duration
	switch {
	case len(problems) > 0:
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, missingReferencesMessage(policy.Namespace, problems))
	case policy.Spec.Suspend:
		policy.Status.NextRun = nil
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSuspended, "Backups and drills are suspended; existing backups are kept")
	default:
		now := r.Now()
		next := backups.Next(now)
		policy.Status.NextRun = &metav1.Time{Time: next}
		requeue = next.Sub(now)
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "The schedules are valid and the destination's Secrets and volume are present")
	}
	return ctrl.Result{RequeueAfter: requeue}, patchStatus(ctx, r.Client, before, policy)
}

// parseBackupSchedules parses the backup schedule and, when set, the drill schedule.
func parseBackupSchedules(policy *v1alpha1.BackupPolicy) (schedule.Schedule, error) {
	backups, err := schedule.Parse(string(policy.Spec.Schedule), policy.Spec.TimeZone)
	if err != nil {
		return schedule.Schedule{}, fmt.Errorf("spec.schedule: %w", err)
	}
	if drill := policy.Spec.RestoreDrill; drill != nil {
		if _, err := schedule.Parse(string(drill.Schedule), policy.Spec.TimeZone); err != nil {
			return schedule.Schedule{}, fmt.Errorf("spec.restoreDrill.schedule: %w", err)
		}
	}
	return backups, nil
}

// destinationProblems describes what the destination references but is missing, with
// the condition reason that fits.
func (r *BackupPolicyReconciler) destinationProblems(ctx context.Context, policy *v1alpha1.BackupPolicy) (string, []string, error) {
	if pvc := policy.Spec.Destination.PersistentVolumeClaim; pvc != nil {
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: policy.Namespace, Name: pvc.ClaimName}, &corev1.PersistentVolumeClaim{})
		switch {
		case apierrors.IsNotFound(err):
			return v1alpha1.ReasonReferenceNotFound, []string{fmt.Sprintf("PersistentVolumeClaim %q does not exist", pvc.ClaimName)}, nil
		case err != nil:
			return "", nil, fmt.Errorf("reading PersistentVolumeClaim %s/%s: %w", policy.Namespace, pvc.ClaimName, err)
		}
		return "", nil, nil
	}
	missing, err := missingSecretKeys(ctx, r.APIReader, policy.Namespace, backupPolicySecretRefs(policy))
	return v1alpha1.ReasonSecretMissing, missing, err
}

// backupPolicySecretRefs lists every Secret key the policy's destination points at.
func backupPolicySecretRefs(policy *v1alpha1.BackupPolicy) []v1alpha1.SecretKeyReference {
	s3 := policy.Spec.Destination.S3
	if s3 == nil {
		return nil
	}
	refs := []v1alpha1.SecretKeyReference{
		{Name: s3.Credentials.SecretName, Key: s3.Credentials.AccessKeyIDKey},
		{Name: s3.Credentials.SecretName, Key: s3.Credentials.SecretAccessKeyKey},
	}
	if s3.CASecretRef != nil {
		refs = append(refs, *s3.CASecretRef)
	}
	return refs
}

// backupPolicyReferencedNames are the Secrets and the volume a policy depends on.
func backupPolicyReferencedNames(obj client.Object) []string {
	policy := obj.(*v1alpha1.BackupPolicy)
	names := secretNames(backupPolicySecretRefs(policy))
	if pvc := policy.Spec.Destination.PersistentVolumeClaim; pvc != nil {
		names = append(names, pvc.ClaimName)
	}
	return names
}

// SetupWithManager registers the controller; Secrets and volumes are watched by metadata only.
func (r *BackupPolicyReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.BackupPolicy{}, secretNamesIndex, backupPolicyReferencedNames); err != nil {
		return err
	}
	toPolicies := handler.EnqueueRequestsFromMapFunc(referencingPolicies(mgr.GetClient(), &v1alpha1.BackupPolicyList{}))
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BackupPolicy{}).
		Watches(&corev1.Secret{}, toPolicies, builder.OnlyMetadata).
		Watches(&corev1.PersistentVolumeClaim{}, toPolicies, builder.OnlyMetadata).
		Complete(r)
}
