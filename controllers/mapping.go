package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
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

// policySummaryDelay is how long a policy waits, after one of its instances changed,
// before it sums them up again.
const policySummaryDelay = 5 * time.Second

// summarizeLater enqueues the policies mapFn names after policySummaryDelay, once however
// many events come meanwhile: a policy's status sums up all its instances, and a thousand
// instances coming up would otherwise have it re-read all of them after each change.
func summarizeLater(mapFn handler.MapFunc) handler.EventHandler {
	add := func(ctx context.Context, obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range mapFn(ctx, obj) {
			q.AddAfter(req, policySummaryDelay)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.ObjectOld, q)
			add(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
	}
}

// specChanged passes a policy's own events only when what it asks for changed (or its
// labels, annotations or deletion): its status is its own output, and a status write that
// woke it up again had a policy with a thousand instances re-sum them all and write
// again, back to back for as long as instances kept changing (hack/bench-scale: 371
// AccessPolicy status writes of up to 256 entries while 1000 instances came up). Its
// instances' changes reach it through summarizeLater. (The instance controller keeps its
// own status events: some of its phases act on what the previous reconcile recorded.)
var specChanged = builder.WithPredicates(ignoreOwnStatus)

var ignoreOwnStatus = predicate.Or(predicate.GenerationChangedPredicate{},
	predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{})
