package controllers

import (
	"strings"
	"testing"
	"unsafe"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// TestTrimForCache: the cache keeps what the controllers read (metadata but managedFields
// and kubectl's last-applied copy, status, a Deployment's replicas, a Cluster's readiness)
// and drops pod templates, selectors and a Cluster's spec.
func TestTrimForCache(t *testing.T) {
	template := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "helpy"}}}}
	objectMeta := metav1.ObjectMeta{Name: "x", Labels: map[string]string{"a": "b"},
		Annotations:   map[string]string{"c": "d", corev1.LastAppliedConfigAnnotation: `{"data":{"password":"czNjcjN0"}}`},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: FieldManager}}}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
	d := &appsv1.Deployment{ObjectMeta: *objectMeta.DeepCopy(), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Template: template, Selector: selector},
		Status: appsv1.DeploymentStatus{AvailableReplicas: 2, Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable}}}}
	j := &batchv1.Job{ObjectMeta: *objectMeta.DeepCopy(), Spec: batchv1.JobSpec{Template: template, Selector: selector},
		Status: batchv1.JobStatus{Succeeded: 1, Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete}}}}
	ready := metav1.Condition{Type: string(cnpgv1.ConditionClusterReady), Status: metav1.ConditionTrue}
	cluster := &cnpgv1.Cluster{ObjectMeta: *objectMeta.DeepCopy(), Spec: cnpgv1.ClusterSpec{Instances: 3, ImageName: "postgres:15"},
		Status: cnpgv1.ClusterStatus{Conditions: []metav1.Condition{ready}, ReadyInstances: 3, Phase: "Cluster in healthy state", Instances: 3,
			InstanceNames: []string{"db-1", "db-2", "db-3"}}}
	s := &corev1.Service{ObjectMeta: *objectMeta.DeepCopy(), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, obj := range []any{d, j, s, cluster} {
		if _, err := trimForCache(obj); err != nil {
			t.Fatal(err)
		}
	}
	for name, m := range map[string]metav1.ObjectMeta{"Deployment": d.ObjectMeta, "Job": j.ObjectMeta, "Service": s.ObjectMeta, "Cluster": cluster.ObjectMeta} {
		if m.ManagedFields != nil || m.Labels["a"] != "b" || m.Annotations["c"] != "d" || len(m.Annotations) != 1 {
			t.Errorf("%s metadata after trimming: %+v", name, m)
		}
	}
	if len(d.Spec.Template.Spec.Containers) != 0 || len(j.Spec.Template.Spec.Containers) != 0 {
		t.Error("a pod template is still cached")
	}
	if d.Spec.Selector != nil || j.Spec.Selector != nil || d.Status.Conditions != nil {
		t.Error("a selector or a Deployment's conditions are still cached")
	}
	if cluster.Spec.Instances != 0 || cluster.Spec.ImageName != "" || cluster.Status.Instances != 0 || cluster.Status.InstanceNames != nil {
		t.Errorf("a Cluster's spec or unread status is still cached: %+v %+v", cluster.Spec, cluster.Status)
	}
	if *d.Spec.Replicas != 2 || d.Status.AvailableReplicas != 2 || j.Status.Succeeded != 1 || len(j.Status.Conditions) != 1 ||
		len(s.Spec.Ports) != 1 || cluster.Status.ReadyInstances != 3 || cluster.Status.Phase == "" || !meta.IsStatusConditionTrue(cluster.Status.Conditions, ready.Type) {
		t.Error("trimming dropped what the controllers read")
	}
}

// TestTrimForCacheSharesMetadataStrings: two objects decoded apart hold one copy of the
// metadata strings they repeat, and only of those: their names and UIDs stay their own.
func TestTrimForCacheSharesMetadataStrings(t *testing.T) {
	decoded := func(name string) *corev1.Service {
		// Strings built at run time, as a decoder makes them, each with its own storage.
		own := func(s string) string { return strings.Clone(s) }
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: own(name), Namespace: own("tenant-a"), UID: types.UID(own(name + "-uid")),
			Labels:          map[string]string{own(resources.LabelManagedBy): own(FieldManager), own(resources.LabelHelpdeskInstance): own("desk")},
			Annotations:     map[string]string{own("note"): own("kept")},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: own("helpdesk.privatedesk.io/v1alpha1"), Kind: own("HelpdeskInstance"), Name: own("desk"), UID: types.UID(own("uid-desk"))}},
			Finalizers:      []string{own("helpdesk.privatedesk.io/finalizer")}}}
	}
	a, b := decoded("desk-app"), decoded("desk-gate")
	for _, obj := range []any{a, b} {
		if _, err := trimForCache(obj); err != nil {
			t.Fatal(err)
		}
	}
	same := func(what, x, y string) {
		t.Helper()
		if x != y || unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: %q and %q are not one shared string", what, x, y)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	for k, v := range a.Labels {
		same("label value "+k, v, b.Labels[k])
		for k2 := range b.Labels {
			if k2 == k {
				same("label key", k, k2)
			}
		}
	}
	same("annotation", a.Annotations["note"], b.Annotations["note"])
	oa, ob := a.OwnerReferences[0], b.OwnerReferences[0]
	same("owner apiVersion", oa.APIVersion, ob.APIVersion)
	same("owner kind", oa.Kind, ob.Kind)
	same("owner name", oa.Name, ob.Name)
	same("owner UID", string(oa.UID), string(ob.UID))
	same("finalizer", a.Finalizers[0], b.Finalizers[0])
	if a.Name != "desk-app" || b.Name != "desk-gate" || a.UID != "desk-app-uid" || len(a.Labels) != 2 || a.Labels[resources.LabelHelpdeskInstance] != "desk" {
		t.Errorf("sharing changed the metadata: %+v", a.ObjectMeta)
	}
}

// TestStringTableIsBounded: the table starts again empty past its bound and never drops
// what it already handed out.
func TestStringTableIsBounded(t *testing.T) {
	table := newStringTable(3)
	first := table.share(strings.Clone("a"))
	for _, s := range []string{"b", "c", "d", "e"} {
		table.share(s)
	}
	if len(table.strings) > 3 {
		t.Fatalf("the table holds %d strings, over its bound of 3", len(table.strings))
	}
	if first != "a" || table.share(strings.Repeat("x", sharedStringMaxLen+1)) == "" {
		t.Error("a string handed out changed, or a long one was lost")
	}
	if len(table.strings) > 3 {
		t.Errorf("a long string entered the table")
	}
}
