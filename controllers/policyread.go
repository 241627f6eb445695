package controllers

import (
	"context"
	"reflect"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// readPolicy reads a policy an instance names into obj: a copy the caller owns, but
// without the status's list of instances (AccessPolicy's and RetentionPolicy's), which an
// instance never reads. A policy all of a namespace's instances share lists hundreds of
// them, and copying that list out of the cache on every instance reconcile was a tenth of
// everything the manager allocated at a thousand instances. Other kinds are copied whole.
func readPolicy(ctx context.Context, c client.Reader, key client.ObjectKey, obj client.Object) error {
	// The cache's own object: nothing of it may be changed, only copied.
	if err := c.Get(ctx, key, obj, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	switch policy := obj.(type) {
	case *v1alpha1.AccessPolicy:
		status := policy.Status
		status.Instances = nil
		*policy = v1alpha1.AccessPolicy{TypeMeta: policy.TypeMeta, ObjectMeta: *policy.ObjectMeta.DeepCopy(), Spec: *policy.Spec.DeepCopy(), Status: *status.DeepCopy()}
	case *v1alpha1.RetentionPolicy:
		status := policy.Status
		status.Instances = nil
		*policy = v1alpha1.RetentionPolicy{TypeMeta: policy.TypeMeta, ObjectMeta: *policy.ObjectMeta.DeepCopy(), Spec: *policy.Spec.DeepCopy(), Status: *status.DeepCopy()}
	default:
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(obj.DeepCopyObject()).Elem())
	}
	return nil
}
