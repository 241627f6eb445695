package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/schedule"
)

// BackupPolicyReconciler checks the policy's schedules strictly and that its destination's
// Secrets and volume exist, and reports when the next backup is due.
type BackupPolicyReconciler struct {
	// Workers is how many objects are reconciled at once; 0 means one.
	Workers int
	client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	// Now is the clock; tests set it.
	Now func() time.Time
	// Recorder emits an event when a backup or drill fails; nil emits none.
	Recorder events.EventRecorder
	// Resources holds the operator's bounds on tenant egress.
	Resources resources.Options
}

// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=backuppolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=backuppolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (r *BackupPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &v1alpha1.BackupPolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); err != nil {
		if apierrors.IsNotFound(err) {
			forgetBackupMetrics(req.Namespace, req.Name)
		}
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
	now := r.Now()
	health, err := r.reconcileBackupStatus(ctx, policy, backups, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	pairs, err := retentionPairsOfBackup(ctx, r.Client, policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBackupRetention(policy, pairs)
	if !health.IsZero() {
		requeue = health.Sub(now)
	}
	switch {
	case len(problems) > 0:
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, missingReferencesMessage(policy.Namespace, problems))
	case s3WithoutEgress(policy):
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNoEgress,
			"spec.destination.s3.endpoint is a host name and spec.destination.s3.egressCIDRs is empty: NetworkPolicies cannot name hosts, so the backup pods cannot reach the object store; list its addresses in egressCIDRs")
	case len(resources.BackupEgressProblems(policy, r.Resources)) > 0:
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonEgressNotAllowed,
			strings.Join(resources.BackupEgressProblems(policy, r.Resources), "; ")+"; the backup pods get no route there")
	case policy.Spec.Suspend:
		policy.Status.NextRun = nil
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSuspended, "Backups and drills are suspended; existing backups are kept")
	default:
		next := backups.Next(now)
		policy.Status.NextRun = &metav1.Time{Time: next}
		if d := next.Sub(now); requeue == 0 || d < requeue {
			requeue = d
		}
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
	missing, err := missingSecretKeys(ctx, newSecretKeys(nil, r.APIReader), policy.Namespace, backupPolicySecretRefs(policy))
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
	c := mgr.GetClient()
	// Jobs are cached anyway (the instance controller owns them). Their pods are not
	// watched: a Job is only finished once its pods terminated, so the Job's event is
	// when the termination messages can be read, once, uncached.
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BackupPolicy{}, specChanged).
		Watches(&corev1.Secret{}, toPolicies, builder.OnlyMetadata).
		Watches(&corev1.PersistentVolumeClaim{}, toPolicies, builder.OnlyMetadata).
		Watches(&batchv1.Job{}, summarizeLater(backupJobPolicy(c)),
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetLabels()[resources.LabelBackupPolicy] != "" }))).
		Watches(&v1alpha1.HelpdeskInstance{}, summarizeLater(referencedBackupPolicy)).
		Watches(&v1alpha1.RetentionPolicy{}, handler.EnqueueRequestsFromMapFunc(otherPolicies(c, "RetentionPolicy", func(i *v1alpha1.HelpdeskInstance) *v1alpha1.LocalObjectReference {
			return i.Spec.BackupPolicyRef
		})), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}

// reconcileBackupStatus fills the backup records and BackupHealthy, updates the metrics
// and emits events for new failures. It returns when BackupHealthy could next flip by
// time alone (zero: only a new run can flip it).
func (r *BackupPolicyReconciler) reconcileBackupStatus(ctx context.Context, policy *v1alpha1.BackupPolicy, backups schedule.Schedule, now time.Time) (time.Time, error) {
	obs, err := r.observeRuns(ctx, policy)
	if err != nil {
		return time.Time{}, err
	}
	instances, err := r.referencingInstances(ctx, policy)
	if err != nil {
		return time.Time{}, err
	}
	byInstance := backupsByInstance(&policy.Status)
	health := judgeBackupHealth(instances, byInstance, backups, now)
	setCondition(policy, v1alpha1.ConditionBackupHealthy, health.status, health.reason, health.message)
	updateBackupMetrics(policy, instances, obs, byInstance)
	r.recordRunEvents(policy, obs)
	return health.recheck, nil
}

// s3WithoutEgress reports an S3 destination no NetworkPolicy can open.
func s3WithoutEgress(policy *v1alpha1.BackupPolicy) bool {
	return policy.Spec.Destination.S3 != nil && len(resources.BackupEgressCIDRs(policy.Spec.Destination.S3)) == 0
}

// backupJobPolicy maps a backup, drill or restore Job to its policy. The label holds the
// policy's name, or a prefix and hash of a long one, so a long one is looked up.
func backupJobPolicy(c client.Client) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		value := obj.GetLabels()[resources.LabelBackupPolicy]
		if len(value) < 63 {
			return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: value}}}
		}
		list := &v1alpha1.BackupPolicyList{}
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing BackupPolicies for a backup Job", "job", client.ObjectKeyFromObject(obj))
			return nil
		}
		for _, p := range list.Items {
			if resources.BackupPolicyLabel(p.Name) == value {
				return []ctrl.Request{{NamespacedName: client.ObjectKeyFromObject(&p)}}
			}
		}
		return nil
	}
}

// referencedBackupPolicy maps an instance to the policy it references: who is backed up
// decides BackupHealthy.
func referencedBackupPolicy(_ context.Context, obj client.Object) []ctrl.Request {
	inst := obj.(*v1alpha1.HelpdeskInstance)
	if inst.Spec.BackupPolicyRef == nil {
		return nil
	}
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: inst.Namespace, Name: inst.Spec.BackupPolicyRef.Name}}}
}
