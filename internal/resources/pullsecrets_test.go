package resources

import (
	"reflect"
	"strings"
	"testing"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestImagePullSecretsReachEveryPod: with --image-pull-secrets, every pod an instance runs
// (app, its seed containers' pod, migration, settings, gate, backup, drill, restore) and
// its CloudNativePG cluster pull with exactly those Secrets; without, none names any.
func TestImagePullSecretsReachEveryPod(t *testing.T) {
	prof := helpyProfile(t)
	build := func(opts Options) []runtime.Object {
		objs := buildAll(t, minimalInstance(), opts)
		objs = append(objs,
			BackupCronJob(minimalInstance(), prof, opts, s3Policy()),
			DrillCronJob(minimalInstance(), prof, opts, s3Policy()),
			RestoreJob(restoringInstance(), prof, opts, s3Policy()))
		policy := oidcPolicy()
		policy.Spec.Uploads.AllowedExtensions = []string{"pdf"}
		access, err := accessObjects(guarded(policy), policy, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range access {
			objs = append(objs, obj)
		}
		return objs
	}
	want := []corev1.LocalObjectReference{{Name: "registry-credentials"}, {Name: "mirror"}}
	opts := backupOptions()
	opts.ImagePullSecrets = []string{"registry-credentials", "mirror"}
	pods, clusters := 0, 0
	kinds := map[string]bool{}
	for _, obj := range build(opts) {
		spec, name := podSpecOf(obj)
		if c, ok := obj.(*cnpgv1.Cluster); ok {
			clusters++
			if len(c.Spec.ImagePullSecrets) != 2 || c.Spec.ImagePullSecrets[0].Name != "registry-credentials" || c.Spec.ImagePullSecrets[1].Name != "mirror" {
				t.Errorf("Cluster %s: imagePullSecrets %v, want %v", c.Name, c.Spec.ImagePullSecrets, want)
			}
		}
		if spec == nil {
			continue
		}
		pods++
		kinds[name] = true
		if !reflect.DeepEqual(spec.ImagePullSecrets, want) {
			t.Errorf("%s: imagePullSecrets %v, want %v", name, spec.ImagePullSecrets, want)
		}
	}
	for _, want := range []string{"Deployment support-app", "Deployment support-gate", "Job support-migrate-", "Job support-settings-",
		"Job support-restore", "CronJob support-backup", "CronJob support-drill"} {
		found := false
		for name := range kinds {
			found = found || strings.HasPrefix(name, want)
		}
		if !found {
			t.Errorf("no %s among the pod templates checked (%v): the fixtures lost one", want, kinds)
		}
	}
	if clusters != 1 || pods != len(kinds) {
		t.Errorf("checked %d clusters and %d pod templates", clusters, pods)
	}
	for _, obj := range build(backupOptions()) {
		if spec, name := podSpecOf(obj); spec != nil && spec.ImagePullSecrets != nil {
			t.Errorf("%s names pull secrets %v without --image-pull-secrets", name, spec.ImagePullSecrets)
		}
		if c, ok := obj.(*cnpgv1.Cluster); ok && c.Spec.ImagePullSecrets != nil {
			t.Errorf("Cluster names pull secrets %v without --image-pull-secrets", c.Spec.ImagePullSecrets)
		}
	}

	bad := testOptions()
	bad.ImagePullSecrets = []string{"Not A Name"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "image pull secret") {
		t.Errorf("an invalid Secret name: %v", err)
	}
}

// podSpecOf is the pod template of a Deployment, Job or CronJob, with a name for messages.
func podSpecOf(obj runtime.Object) (*corev1.PodSpec, string) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec, "Deployment " + o.Name
	case *batchv1.Job:
		return &o.Spec.Template.Spec, "Job " + o.Name
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, "CronJob " + o.Name
	}
	return nil, ""
}
