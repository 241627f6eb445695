package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// A policy's own status write must not wake its controller (it would re-sum all its
// instances and write again); what it asks for, its labels, annotations and deletion must.
func TestPolicyIgnoresItsOwnStatusWrites(t *testing.T) {
	base := &v1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 3, ResourceVersion: "10"}}
	edit := func(change func(*v1alpha1.AccessPolicy)) *v1alpha1.AccessPolicy {
		p := base.DeepCopy()
		p.ResourceVersion = "11"
		change(p)
		return p
	}
	cases := []struct {
		name string
		new  *v1alpha1.AccessPolicy
		want bool
	}{
		{"status written", edit(func(p *v1alpha1.AccessPolicy) {
			p.Status.Instances = []v1alpha1.AccessPolicyInstance{{Name: "desk"}}
			p.Status.ObservedGeneration = 3
		}), false},
		{"resync (same object)", base.DeepCopy(), false},
		{"spec changed", edit(func(p *v1alpha1.AccessPolicy) { p.Generation = 4 }), true},
		{"being deleted", edit(func(p *v1alpha1.AccessPolicy) { p.Generation, p.DeletionTimestamp = 4, &metav1.Time{} }), true},
		{"label changed", edit(func(p *v1alpha1.AccessPolicy) { p.Labels = map[string]string{"team": "a"} }), true},
		{"annotation changed", edit(func(p *v1alpha1.AccessPolicy) { p.Annotations = map[string]string{"note": "x"} }), true},
	}
	passes := ignoreOwnStatus
	for _, c := range cases {
		if got := passes.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: c.new}); got != c.want {
			t.Errorf("%s: the policy's controller is woken: %v, want %v", c.name, got, c.want)
		}
	}
	if !passes.Create(event.CreateEvent{Object: base}) {
		t.Error("a new policy does not reach its controller")
	}
}
