package controllers

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/ssa"
)

// reconcileBackups runs the backups of spec.backupPolicyRef: the backup CronJob, the
// drill CronJob when the policy rehearses restores, and the NetworkPolicy that lets
// their pods reach an S3 destination. Without a reference, or when the policy is gone,
// they are removed. A stalled policy (a schedule Kubernetes would refuse) leaves them as
// they are: the policy reports the problem, and the last good schedule keeps running.
// Problems of the policy are reported on the policy, not on the instance.
func (r *HelpdeskInstanceReconciler) reconcileBackups(ctx context.Context, scope *instanceScope) error {
	inst := scope.inst
	var desired []client.Object
	if ref := inst.Spec.BackupPolicyRef; ref != nil {
		policy := &v1alpha1.BackupPolicy{}
		err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: ref.Name}, policy)
		switch {
		case apierrors.IsNotFound(err):
			// reconcilePolicyReferences already reports the dangling reference.
		case err != nil:
			return fmt.Errorf("reading BackupPolicy %s: %w", ref.Name, err)
		case meta.IsStatusConditionTrue(policy.Status.Conditions, v1alpha1.ConditionStalled):
			return nil
		default:
			desired = append(desired, resources.BackupCronJob(inst, scope.profile, r.Resources, policy))
			if drill := resources.DrillCronJob(inst, scope.profile, r.Resources, policy); drill != nil {
				desired = append(desired, drill)
			}
			if np := resources.BackupNetworkPolicy(inst, scope.profile, r.Resources, policy); np != nil {
				desired = append(desired, np)
			}
		}
	}
	keep := map[string]bool{}
	for _, obj := range desired {
		if _, err := r.Applier.Apply(ctx, obj); err != nil {
			return err
		}
		keep[obj.GetObjectKind().GroupVersionKind().Kind+"/"+obj.GetName()] = true
	}
	return r.deleteStaleBackupObjects(ctx, inst, keep)
}

// deleteStaleBackupObjects removes the instance's backup CronJobs and egress policies
// that keep does not name. It only touches objects the instance controls.
func (r *HelpdeskInstanceReconciler) deleteStaleBackupObjects(ctx context.Context, inst *v1alpha1.HelpdeskInstance, keep map[string]bool) error {
	// One selector per List: a second label option would replace the first.
	selector := resources.InstanceSelector(inst)
	selector[resources.LabelComponent] = resources.ComponentBackup
	cronJobs := ssa.MetadataList(batchv1.SchemeGroupVersion.WithKind("CronJobList"))
	if err := r.List(ctx, cronJobs, client.InNamespace(inst.Namespace), ofInstance(inst), client.MatchingLabels(selector)); err != nil {
		return err
	}
	stale := map[string]client.Object{}
	for _, cronJob := range ssa.MetadataItems(cronJobs) {
		stale["CronJob/"+cronJob.Name] = cronJob
	}
	// The restore's egress policy belongs to the restore phase.
	notRestore, err := labels.Parse(fmt.Sprintf("%s=%s,%s,%s!=%s", resources.LabelHelpdeskInstance, resources.InstanceLabel(inst),
		resources.LabelBackupPolicy, resources.LabelBackupRun, resources.BackupRunRestore))
	if err != nil {
		return err
	}
	policies := ssa.MetadataList(networkingv1.SchemeGroupVersion.WithKind("NetworkPolicyList"))
	if err := r.List(ctx, policies, client.InNamespace(inst.Namespace), ofInstance(inst), client.MatchingLabelsSelector{Selector: notRestore}); err != nil {
		return err
	}
	for _, policy := range ssa.MetadataItems(policies) {
		stale["NetworkPolicy/"+policy.Name] = policy
	}
	for key, obj := range stale {
		if keep[key] || !metav1.IsControlledBy(obj, inst) {
			continue
		}
		if _, err := r.Applier.Delete(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}
