package controllers

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// reconcileAppSettings writes the app settings the access policy decides (the upload
// extension allow-list, the captcha) into the app's database with a Job of the operator's
// binary, once per set of values, after the migration. When the Job has succeeded, the
// app pods roll (appliedSettings), since the app caches its settings per pod. Values the
// policy no longer asks for are set back to the app's defaults, but only where the
// operator wrote settings before; an instance whose policy never asked keeps its own.
func (r *HelpdeskInstanceReconciler) reconcileAppSettings(ctx context.Context, scope *instanceScope) error {
	inst, want := scope.inst, scope.access.plan.Settings
	jobs, err := r.settingsJobs(ctx, inst)
	if err != nil {
		return err
	}
	scope.access.settingsRan = true
	if want == nil || (!want.Requested && len(jobs) == 0) {
		return nil
	}
	if !scope.access.migrated {
		scope.access.settings = &problem{v1alpha1.ReasonSettingsPending, "waiting for the database migration before writing the app settings"}
		return nil
	}
	var refs []v1alpha1.SecretKeyReference
	for _, ref := range want.Secrets {
		refs = append(refs, ref)
	}
	versions, missing, err := r.gateSecretVersions(ctx, inst.Namespace, refs)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		scope.access.settings = &problem{v1alpha1.ReasonSecretMissing, missingReferencesMessage(inst.Namespace, missing) + "; the app settings wait for it"}
		return nil
	}
	desired := resources.SettingsJob(inst, scope.profile, r.Resources, *want, versions)
	var current *batchv1.Job
	for i := range jobs {
		if jobs[i].Name == desired.Name {
			current = &jobs[i]
		}
	}
	switch {
	case current == nil:
		// A Job's pod template is immutable: it is created once per set of values.
		if _, err := r.Applier.Apply(ctx, desired); err != nil {
			return err
		}
		scope.access.settings = &problem{v1alpha1.ReasonSettingsPending, fmt.Sprintf("Job %s writes the app settings", desired.Name)}
	case jobCondition(current, batchv1.JobComplete):
		// Written: earlier Jobs are history now.
		for i := range jobs {
			if jobs[i].Name != current.Name {
				if _, err := r.Applier.Delete(ctx, &jobs[i]); err != nil {
					return err
				}
			}
		}
	case jobCondition(current, batchv1.JobFailed):
		scope.access.settings = &problem{v1alpha1.ReasonSettingsFailed, fmt.Sprintf(
			"Job %s failed to write the app settings; read its logs (kubectl logs job/%s), fix the cause, then delete the Job to retry", current.Name, current.Name)}
	default:
		scope.access.settings = &problem{v1alpha1.ReasonSettingsPending, fmt.Sprintf("Job %s is writing the app settings", current.Name)}
	}
	return nil
}

// settingsJobs are the instance's settings Jobs.
func (r *HelpdeskInstanceReconciler) settingsJobs(ctx context.Context, inst *v1alpha1.HelpdeskInstance) ([]batchv1.Job, error) {
	list := &batchv1.JobList{}
	selector := resources.InstanceSelector(inst)
	selector[resources.LabelComponent] = resources.ComponentSettings
	if err := r.List(ctx, list, client.InNamespace(inst.Namespace), ofInstance(inst), client.MatchingLabels(selector)); err != nil {
		return nil, fmt.Errorf("listing the settings Jobs of %s: %w", inst.Name, err)
	}
	var out []batchv1.Job
	for _, j := range list.Items {
		if metav1.IsControlledBy(&j, inst) {
			out = append(out, j)
		}
	}
	return out, nil
}

// appliedSettings is the config hash input of the app settings last written: the hash of
// the newest settings Job that succeeded, so that the app pods roll once it has (they
// cache settings) and not before. None without settings Jobs.
func (r *HelpdeskInstanceReconciler) appliedSettings(ctx context.Context, inst *v1alpha1.HelpdeskInstance) (map[string]string, error) {
	jobs, err := r.settingsJobs(ctx, inst)
	if err != nil {
		return nil, err
	}
	var newest *batchv1.Job
	for i := range jobs {
		j := &jobs[i]
		if !jobCondition(j, batchv1.JobComplete) || j.Status.CompletionTime == nil {
			continue
		}
		if newest == nil || newest.Status.CompletionTime.Before(j.Status.CompletionTime) {
			newest = j
		}
	}
	if newest == nil {
		return nil, nil
	}
	return map[string]string{"operator-settings": newest.Annotations[resources.AnnotationSettingsHash]}, nil
}
