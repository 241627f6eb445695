package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/ssa"
)

// retentionProfiles returns what retention means for an application; tests replace it.
type retentionProfiles func(v1alpha1.AppProfile) (appprofile.Retention, error)

func (f retentionProfiles) get(app v1alpha1.AppProfile) (appprofile.Retention, error) {
	if f != nil {
		return f(app)
	}
	if known, ok := profileRetention.Load(app); ok {
		return known.(appprofile.Retention), nil
	}
	r, err := appprofile.RetentionFor(app)
	if err == nil {
		profileRetention.Store(app, r)
	}
	return r, err
}

// profileRetention remembers appprofile.RetentionFor per app profile: building it (SQL,
// file sets) cost the retention controller a fifth of the manager's CPU, once per
// instance per reconcile. What it holds is shared: read it, never change it.
var profileRetention sync.Map

// retentionRefusals says why the instance's app profile refuses rules of policy; nil when
// it runs them all.
func retentionRefusals(profiles retentionProfiles, inst *v1alpha1.HelpdeskInstance, policy *v1alpha1.RetentionPolicy) []string {
	app := inst.Spec.App.Profile
	if app == "" {
		app = v1alpha1.AppProfileHelpy
	}
	r, err := profiles.get(app)
	if err != nil {
		return []string{err.Error()}
	}
	return resources.RetentionRefusals(policy, r)
}

// reconcileRetention runs spec.retentionPolicyRef: one CronJob that applies the policy's
// rules inside the instance's database and attachments volume. Without a reference, or
// when the policy is gone, it is removed. A stalled policy (a schedule Kubernetes would
// refuse) leaves it as it is: the policy reports the problem. A policy with a rule the
// app profile refuses runs nothing on this instance, never the other rules alone, and
// the instance says so.
func (r *HelpdeskInstanceReconciler) reconcileRetention(ctx context.Context, scope *instanceScope) error {
	inst := scope.inst
	var desired *batchv1.CronJob
	if ref := inst.Spec.RetentionPolicyRef; ref != nil {
		policy := &v1alpha1.RetentionPolicy{}
		err := readPolicy(ctx, r.Client, client.ObjectKey{Namespace: inst.Namespace, Name: ref.Name}, policy)
		switch {
		case apierrors.IsNotFound(err):
			// reconcilePolicyReferences already reports the dangling reference.
		case err != nil:
			return fmt.Errorf("reading RetentionPolicy %s: %w", ref.Name, err)
		case meta.IsStatusConditionTrue(policy.Status.Conditions, v1alpha1.ConditionStalled):
			return nil
		default:
			if refused := retentionRefusals(r.RetentionProfiles, inst, policy); len(refused) > 0 {
				scope.report(v1alpha1.ReasonUnsupportedDataClass, fmt.Sprintf(
					"spec.retentionPolicyRef: RetentionPolicy %s has rules this instance's app profile refuses, so no retention runs on it until they are removed: %s",
					policy.Name, strings.Join(refused, "; ")))
			} else {
				desired = resources.RetentionCronJob(inst, scope.profile, r.Resources, policy)
			}
		}
	}
	if desired != nil {
		if _, err := r.Applier.Apply(ctx, desired); err != nil {
			scope.report(v1alpha1.ReasonApplyFailed, "The retention CronJob could not be applied, so no retention runs: "+apiReason(err))
			return err
		}
	}
	return r.deleteStaleRetention(ctx, inst, desired)
}

// deleteStaleRetention removes the instance's retention CronJobs other than keep.
func (r *HelpdeskInstanceReconciler) deleteStaleRetention(ctx context.Context, inst *v1alpha1.HelpdeskInstance, keep *batchv1.CronJob) error {
	selector := resources.InstanceSelector(inst)
	selector[resources.LabelComponent] = resources.ComponentRetention
	cronJobs := ssa.MetadataList(batchv1.SchemeGroupVersion.WithKind("CronJobList"))
	if err := r.List(ctx, cronJobs, client.InNamespace(inst.Namespace), ofInstance(inst), client.MatchingLabels(selector)); err != nil {
		return err
	}
	for _, cj := range ssa.MetadataItems(cronJobs) {
		if (keep != nil && cj.Name == keep.Name) || !metav1.IsControlledBy(cj, inst) {
			continue
		}
		if _, err := r.Applier.Delete(ctx, cj); err != nil {
			return err
		}
	}
	return nil
}
