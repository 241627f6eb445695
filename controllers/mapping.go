package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// referencingPolicies maps a Secret (or any object policies reference by name through
// secretNamesIndex) to the policies of that kind in its namespace that reference it.
func referencingPolicies(c client.Client, list client.ObjectList) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		found := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(ctx, found, client.InNamespace(obj.GetNamespace()), client.MatchingFields{secretNamesIndex: obj.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing the policies that reference an object", "object", client.ObjectKeyFromObject(obj))
			return nil
		}
		var requests []ctrl.Request
		_ = meta.EachListItem(found, func(item runtime.Object) error {
			o := item.(client.Object)
			requests = append(requests, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}})
			return nil
		})
		return requests
	}
}
