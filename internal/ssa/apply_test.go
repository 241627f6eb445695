package ssa

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestUnchanged: a status update by another controller (resourceVersion moves, generation
// does not) is no reason to apply again; a change to the spec, to what the operator
// labels, annotates or owns, or a new object of the same name is.
func TestUnchanged(t *testing.T) {
	owner := metav1.OwnerReference{APIVersion: "helpdesk.privatedesk.io/v1alpha1", Kind: "HelpdeskInstance", Name: "desk", UID: "owner-uid", Controller: ptr.To(true)}
	meta := func(rv string, generation int64, labels, annotations map[string]string, owners ...metav1.OwnerReference) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "ns", Name: "app", UID: "uid", ResourceVersion: rv, Generation: generation,
			Labels: labels, Annotations: annotations, OwnerReferences: owners}
	}
	ours := map[string]string{"app.kubernetes.io/managed-by": "helpdesk-operator"}
	hash := map[string]string{"helpdesk.privatedesk.io/config-hash": "abc"}
	deployment := func(m metav1.ObjectMeta) client.Object {
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: m}
	}
	service := func(m metav1.ObjectMeta) client.Object {
		return &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: m}
	}
	last := record{resourceVersion: "10", uid: "uid", generation: 3}
	for _, tc := range []struct {
		name    string
		desired client.Object
		current client.Object
		want    bool
	}{
		{"absent", deployment(meta("", 0, ours, hash, owner)), nil, false},
		{"as applied", deployment(meta("", 0, ours, hash, owner)), deployment(meta("10", 3, ours, hash, owner)), true},
		{"status update", deployment(meta("", 0, ours, hash, owner)), deployment(meta("11", 3, ours, hash, owner)), true},
		{"status update and the Deployment controller's annotation", deployment(meta("", 0, ours, hash, owner)),
			deployment(meta("12", 3, ours, map[string]string{"helpdesk.privatedesk.io/config-hash": "abc", "deployment.kubernetes.io/revision": "2"}, owner)), true},
		{"spec edited", deployment(meta("", 0, ours, hash, owner)), deployment(meta("12", 4, ours, hash, owner)), false},
		{"our label edited", deployment(meta("", 0, ours, hash, owner)),
			deployment(meta("12", 3, map[string]string{"app.kubernetes.io/managed-by": "someone"}, hash, owner)), false},
		{"our annotation removed", deployment(meta("", 0, ours, hash, owner)), deployment(meta("12", 3, ours, nil, owner)), false},
		{"owner reference removed", deployment(meta("", 0, ours, hash, owner)), deployment(meta("12", 3, ours, hash)), false},
		{"recreated by someone else", deployment(meta("", 0, ours, hash, owner)), func() client.Object {
			m := meta("12", 3, ours, hash, owner)
			m.UID = "other"
			return deployment(m)
		}(), false},
		// A Service's generation does not follow its spec: only its resourceVersion counts.
		{"service changed", service(meta("", 0, ours, nil, owner)), service(meta("11", 3, ours, nil, owner)), false},
		{"service as applied", service(meta("", 0, ours, nil, owner)), service(meta("10", 3, ours, nil, owner)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tc.desired)
			if err != nil {
				t.Fatal(err)
			}
			if got := unchanged(last, tc.current, &unstructured.Unstructured{Object: content}); got != tc.want {
				t.Errorf("unchanged = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMetadataItems: each item gets the list's kind without "List", and is the list's own.
func TestMetadataItems(t *testing.T) {
	list := MetadataList(corev1.SchemeGroupVersion.WithKind("ServiceList"))
	list.Items = []metav1.PartialObjectMetadata{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}}
	items := MetadataItems(list)
	if len(items) != 2 || items[1] != &list.Items[1] {
		t.Fatalf("items %v are not the list's", items)
	}
	for _, item := range items {
		if gvk := item.GroupVersionKind(); gvk != corev1.SchemeGroupVersion.WithKind("Service") {
			t.Errorf("%s has kind %v, want v1 Service", item.Name, gvk)
		}
	}
}
