package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/schedule"
)

// RetentionPolicyReconciler checks the policy's schedule strictly. This operator version
// does not run retention yet, and the status says so.
type RetentionPolicyReconciler struct {
	// Workers is how many objects are reconciled at once; 0 means one.
	Workers int
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

	_, err := schedule.Parse(string(policy.Spec.Schedule), policy.Spec.TimeZone)
	if err != nil {
		markStalled(policy, v1alpha1.ReasonInvalidSpec, "spec: "+err.Error())
		policy.Status.NextRun = nil
		if patchErr := patchStatus(ctx, r.Client, before, policy); patchErr != nil {
			return ctrl.Result{}, patchErr
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	clearStalled(policy)

	// Nothing runs retention yet: no next run, and Ready says so.
	policy.Status.NextRun = nil
	setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotEnforced,
		"The schedule is valid, but this operator version does not run retention yet: no data is deleted or anonymized")
	return ctrl.Result{}, patchStatus(ctx, r.Client, before, policy)
}

// SetupWithManager registers the controller.
func (r *RetentionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&v1alpha1.RetentionPolicy{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}
