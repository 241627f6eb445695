package controllers

import (
	"context"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// cacheLikeReader hands out its objects as the informer cache does with
// UnsafeDisableDeepCopy: a shallow copy sharing every slice, map and pointer.
type cacheLikeReader struct{ objects map[string]client.Object }

func (c cacheLikeReader) Get(_ context.Context, key client.ObjectKey, out client.Object, _ ...client.GetOption) error {
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(c.objects[key.Name]).Elem())
	return nil
}

func (c cacheLikeReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	panic("not used")
}

// TestReadPolicyCopiesAllButTheInstanceList: what readPolicy returns is the policy without
// its status's instance list, and changing it leaves the cache's object as it was.
func TestReadPolicyCopiesAllButTheInstanceList(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"team": "a"}, Generation: 2}
	}
	conditions := func() []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Enforced"}}
	}
	access := &v1alpha1.AccessPolicy{ObjectMeta: meta("access"), Spec: v1alpha1.AccessPolicySpec{AgentAllowedCIDRs: []string{"10.0.0.0/8"}},
		Status: v1alpha1.AccessPolicyStatus{Conditions: conditions(), ObservedGeneration: 2, SSOProvider: "oidc",
			Instances: []v1alpha1.AccessPolicyInstance{{Name: "desk"}}}}
	retention := &v1alpha1.RetentionPolicy{ObjectMeta: meta("retention"), Spec: v1alpha1.RetentionPolicySpec{Schedule: "0 3 * * *"},
		Status: v1alpha1.RetentionPolicyStatus{Conditions: conditions(), ObservedGeneration: 2, NextRun: &metav1.Time{},
			LastRun: &v1alpha1.RetentionRunStatus{}, Instances: []v1alpha1.RetentionInstanceStatus{{Name: "desk"}}}}
	backup := &v1alpha1.BackupPolicy{ObjectMeta: meta("backup"), Spec: v1alpha1.BackupPolicySpec{Schedule: "0 1 * * *"},
		Status: v1alpha1.BackupPolicyStatus{Conditions: conditions(), RecentBackups: []v1alpha1.BackupRecord{{ID: "b1"}}}}
	cached := map[string]client.Object{"access": access, "retention": retention, "backup": backup}
	before := map[string]client.Object{}
	for name, obj := range cached {
		before[name] = obj.DeepCopyObject().(client.Object)
	}
	reader := cacheLikeReader{objects: cached}
	ctx := context.Background()

	gotAccess, gotRetention, gotBackup := &v1alpha1.AccessPolicy{}, &v1alpha1.RetentionPolicy{}, &v1alpha1.BackupPolicy{}
	for name, obj := range map[string]client.Object{"access": gotAccess, "retention": gotRetention, "backup": gotBackup} {
		if err := readPolicy(ctx, reader, client.ObjectKey{Namespace: "ns", Name: name}, obj); err != nil {
			t.Fatal(err)
		}
	}
	wantAccess := before["access"].(*v1alpha1.AccessPolicy).DeepCopy()
	wantAccess.Status.Instances = nil
	wantRetention := before["retention"].(*v1alpha1.RetentionPolicy).DeepCopy()
	wantRetention.Status.Instances = nil
	for name, pair := range map[string][2]any{"access": {gotAccess, wantAccess}, "retention": {gotRetention, wantRetention}, "backup": {gotBackup, before["backup"]}} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s read as %+v, want %+v", name, pair[0], pair[1])
		}
	}

	// Every slice, map and pointer of the copies is their own.
	gotAccess.Labels["team"] = "b"
	gotAccess.Spec.AgentAllowedCIDRs[0] = "0.0.0.0/0"
	gotAccess.Status.Conditions[0].Status = metav1.ConditionFalse
	gotRetention.Status.LastRun.Message = "changed"
	gotRetention.Status.Conditions[0].Reason = "Changed"
	gotBackup.Status.RecentBackups[0].ID = "changed"
	for name, obj := range cached {
		if !reflect.DeepEqual(obj, before[name]) {
			t.Errorf("changing the copy of %s changed the cached object", name)
		}
	}
}

// TestReadPolicyKnowsEveryStatusField: a new status field of AccessPolicy or
// RetentionPolicy must be looked at here: readPolicy keeps all but the instance list, and
// this test names the fields it has been checked with.
func TestReadPolicyKnowsEveryStatusField(t *testing.T) {
	for typ, known := range map[reflect.Type][]string{
		reflect.TypeFor[v1alpha1.AccessPolicyStatus]():    {"Instances", "Conditions", "ObservedGeneration", "SSOProvider"},
		reflect.TypeFor[v1alpha1.RetentionPolicyStatus](): {"Conditions", "ObservedGeneration", "NextRun", "LastRun", "Instances"},
	} {
		var fields []string
		for i := range typ.NumField() {
			fields = append(fields, typ.Field(i).Name)
		}
		if !reflect.DeepEqual(fields, known) {
			t.Errorf("%s has fields %v, this test knows %v: check readPolicy keeps what instances read", typ, fields, known)
		}
	}
}
