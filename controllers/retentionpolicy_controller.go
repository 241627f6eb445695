package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/schedule"
)

// RetentionPolicyReconciler checks the policy's schedule strictly and reports when
// retention runs next.
type RetentionPolicyReconciler struct {
	client.Client
	// Now is the clock; tests set it.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=retentionpolicies/status,verbs=get;update;patch

func (r *RetentionPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &v1alpha1.RetentionPolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); err != nil {
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

	var requeue time.Duration
	if hold := policy.Spec.LegalHold; hold != nil && hold.Enabled {
		policy.Status.NextRun = nil
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSuspended, "A legal hold suspends every deletion and anonymization until it is lifted")
	} else {
		now := r.Now()
		next := sched.Next(now)
		policy.Status.NextRun = &metav1.Time{Time: next}
		requeue = next.Sub(now)
		message := "The schedule is valid; runs delete or anonymize data past its age"
		if policy.Spec.DryRun {
			message = "The schedule is valid; runs are dry runs and only report what they would change"
		}
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, message)
	}
	// Requeue at the next run so that status.nextRun moves on: time-driven work.
	return ctrl.Result{RequeueAfter: requeue}, patchStatus(ctx, r.Client, before, policy)
}

// SetupWithManager registers the controller.
func (r *RetentionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&v1alpha1.RetentionPolicy{}).Complete(r)
}
