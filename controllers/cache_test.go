package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestTrimForCache: the cache keeps what the controllers read (metadata but managedFields,
// status, a Deployment's replicas) and drops pod templates.
func TestTrimForCache(t *testing.T) {
	template := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "helpy"}}}}
	objectMeta := metav1.ObjectMeta{Name: "x", Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"c": "d"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: FieldManager}}}
	d := &appsv1.Deployment{ObjectMeta: *objectMeta.DeepCopy(), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Template: template},
		Status: appsv1.DeploymentStatus{AvailableReplicas: 2}}
	j := &batchv1.Job{ObjectMeta: *objectMeta.DeepCopy(), Spec: batchv1.JobSpec{Template: template}, Status: batchv1.JobStatus{Succeeded: 1}}
	cj := &batchv1.CronJob{ObjectMeta: *objectMeta.DeepCopy(), Spec: batchv1.CronJobSpec{Schedule: "0 2 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}}}
	s := &corev1.Service{ObjectMeta: *objectMeta.DeepCopy(), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, obj := range []any{d, j, cj, s} {
		if _, err := trimForCache(obj); err != nil {
			t.Fatal(err)
		}
	}
	for name, m := range map[string]metav1.ObjectMeta{"Deployment": d.ObjectMeta, "Job": j.ObjectMeta, "CronJob": cj.ObjectMeta, "Service": s.ObjectMeta} {
		if m.ManagedFields != nil || m.Labels["a"] != "b" || m.Annotations["c"] != "d" {
			t.Errorf("%s metadata after trimming: %+v", name, m)
		}
	}
	if len(d.Spec.Template.Spec.Containers) != 0 || len(j.Spec.Template.Spec.Containers) != 0 || len(cj.Spec.JobTemplate.Spec.Template.Spec.Containers) != 0 {
		t.Error("a pod template is still cached")
	}
	if *d.Spec.Replicas != 2 || d.Status.AvailableReplicas != 2 || j.Status.Succeeded != 1 || cj.Spec.Schedule == "" || len(s.Spec.Ports) != 1 {
		t.Error("trimming dropped what the controllers read")
	}
}
