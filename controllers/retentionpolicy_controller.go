package controllers

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
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

// RetentionPolicyReconciler reports whether the policy is executed: on every instance that
// references it a CronJob runs it (the instance controller creates them), and the last
// run on each succeeded. It reads each run's result from its Job's termination message
// into status.lastRun and status.instances, Events and metrics.
type RetentionPolicyReconciler struct {
	// Workers is how many objects are reconciled at once; 0 means one.
	Workers int
	client.Client
	// APIReader reads the pods of finished Jobs, uncached.
	APIReader client.Reader
	// Now is the clock; tests set it.
	Now func() time.Time
	// Recorder emits an event per finished run; nil emits none.
	Recorder events.EventRecorder
	// RetentionProfiles says what retention means for an app profile; nil uses the
	// profiles' own.
	RetentionProfiles retentionProfiles
}

// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=retentionpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (r *RetentionPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &v1alpha1.RetentionPolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); err != nil {
		if apierrors.IsNotFound(err) {
			forgetRetentionMetrics(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := policy.DeepCopy()

	sched, err := schedule.Parse(string(policy.Spec.Schedule), policy.Spec.TimeZone)
	if err != nil {
		markStalled(policy, v1alpha1.ReasonInvalidSpec, "spec: "+err.Error())
		policy.Status.NextRun = nil
		if patchErr := patchStatus(ctx, r.Client, before, policy); patchErr != nil {
			return ctrl.Result{}, patchErr
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	clearStalled(policy)

	now := r.Now()
	executions, err := r.observe(ctx, policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	pairs, err := backupPairsOfRetention(ctx, r.Client, policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBackupRetention(policy, pairs)
	setLegalHold(policy)
	status, reason, message := judgeRetention(policy, executions)
	setCondition(policy, v1alpha1.ConditionReady, status, reason, message)

	var requeue time.Duration
	policy.Status.NextRun = nil
	if anyCronJob(executions) {
		next := sched.Next(now)
		policy.Status.NextRun = &metav1.Time{Time: next}
		requeue = next.Sub(now)
	}
	return ctrl.Result{RequeueAfter: requeue}, patchStatus(ctx, r.Client, before, policy)
}

// setLegalHold says in status, while the hold is enabled, that nothing is changed.
func setLegalHold(policy *v1alpha1.RetentionPolicy) {
	hold := policy.Spec.LegalHold
	if hold == nil || !hold.Enabled {
		conditions := policy.GetConditions()
		removeCondition(&conditions, v1alpha1.ConditionLegalHold)
		policy.SetConditions(conditions)
		return
	}
	setCondition(policy, v1alpha1.ConditionLegalHold, metav1.ConditionTrue, v1alpha1.ReasonLegalHold,
		"A legal hold is in force ("+hold.Reason+"): retention runs delete and anonymize nothing and only report what they would; data-subject requests against the policy's instances wait; crypto-shredding of old backups is suspended")
}

// SetupWithManager watches the policy's instances, the CronJobs they run it with and those
// CronJobs' Jobs (whose pods are read once, uncached, when a Job finished), and the
// BackupPolicies of its instances (for BackupRetentionAligned).
func (r *RetentionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	labelled := builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetLabels()[resources.LabelRetentionPolicy] != "" }))
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.RetentionPolicy{}, specChanged).
		Watches(&batchv1.CronJob{}, summarizeLater(retentionObjectPolicy(c)), builder.OnlyMetadata, labelled).
		Watches(&batchv1.Job{}, summarizeLater(retentionObjectPolicy(c)), labelled).
		Watches(&v1alpha1.HelpdeskInstance{}, summarizeLater(referencedRetentionPolicy)).
		Watches(&v1alpha1.BackupPolicy{}, handler.EnqueueRequestsFromMapFunc(otherPolicies(c, "BackupPolicy", func(i *v1alpha1.HelpdeskInstance) *v1alpha1.LocalObjectReference {
			return i.Spec.RetentionPolicyRef
		})), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}

// retentionObjectPolicy maps a retention CronJob or Job to its policy. The label holds
// the policy's name, or a prefix and hash of a long one, so a long one is looked up.
func retentionObjectPolicy(c client.Client) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		value := obj.GetLabels()[resources.LabelRetentionPolicy]
		if len(value) < 63 {
			return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: value}}}
		}
		list := &v1alpha1.RetentionPolicyList{}
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing RetentionPolicies for a retention object", "object", client.ObjectKeyFromObject(obj))
			return nil
		}
		for _, p := range list.Items {
			if resources.RetentionPolicyLabel(p.Name) == value {
				return []ctrl.Request{{NamespacedName: client.ObjectKeyFromObject(&p)}}
			}
		}
		return nil
	}
}

// referencedRetentionPolicy maps an instance to the policy it references (on an update,
// the old and the new object are both mapped, so a dropped reference is seen too).
func referencedRetentionPolicy(_ context.Context, obj client.Object) []ctrl.Request {
	inst := obj.(*v1alpha1.HelpdeskInstance)
	if inst.Spec.RetentionPolicyRef == nil {
		return nil
	}
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: inst.Namespace, Name: inst.Spec.RetentionPolicyRef.Name}}}
}
