// Package ssa applies desired objects with server-side apply under one field manager, and
// skips the request when it could not change anything.
package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// How long the memory of an apply is trusted. Past it the object is applied again, which
// also bounds the memory of objects deleted meanwhile.
const recordTTL = 10 * time.Hour

// Applier applies objects as one field manager. A repeated apply of the same desired
// object is a no-op on the server, but still a write request and an audit entry; like
// Cluster API's SSA cache, the Applier remembers what it applied and the resourceVersion
// the server answered, and skips the request while both still match: then the object is
// exactly as it was left, and a hand edit (which moves the resourceVersion) is put back.
type Applier struct {
	client       client.Client
	metadata     *MetadataClient
	fieldManager string
	now          func() time.Time

	mu      sync.Mutex
	applied map[string]record
}

type record struct {
	desired         [sha256.Size]byte
	resourceVersion string
	uid             string
	generation      int64
	at              time.Time
}

// NewApplier applies as fieldManager. It reads through c (whose reads should come from the
// informer cache, so that the no-op check costs no request) and finds each kind's resource
// with c's REST mapper; it sends the applies through m, to which the API server answers
// with the object's metadata only: all the Applier keeps of the answer, where the whole
// object was a third of what an apply cost the manager and its encoding a share of the
// API server's work.
func NewApplier(c client.Client, m *MetadataClient, fieldManager string) *Applier {
	return &Applier{client: c, metadata: m, fieldManager: fieldManager, now: time.Now, applied: map[string]record{}}
}

// FieldManager is the name the Applier writes as.
func (a *Applier) FieldManager() string { return a.fieldManager }

// Apply makes the server's object match desired for every field desired sets, taking
// ownership from other managers (a hand edit of a managed field is reverted). desired
// must carry its apiVersion and kind. It reports whether a request was sent.
func (a *Applier) Apply(ctx context.Context, desired client.Object) (bool, error) {
	gvk := desired.GetObjectKind().GroupVersionKind()
	if gvk.Version == "" || gvk.Kind == "" {
		return false, fmt.Errorf("applying %T %s: the desired object has no apiVersion and kind", desired, desired.GetName())
	}
	// Most applies of a running operator change nothing: the no-op check comes first and
	// works on the typed object; the conversion for the request only when one is sent
	// (at a thousand instances the conversion was a fifth of everything the manager
	// allocated, and the garbage collector's work follows allocation).
	fingerprint, err := fingerprintOf(desired)
	if err != nil {
		return false, err
	}
	key := gvk.GroupVersion().String() + "/" + gvk.Kind + "/" + desired.GetNamespace() + "/" + desired.GetName()
	current, err := a.current(ctx, desired)
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	last, seen := a.applied[key]
	a.mu.Unlock()
	if seen && last.desired == fingerprint && a.now().Sub(last.at) < recordTTL && unchanged(last, current, desired) {
		return false, nil
	}

	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return false, fmt.Errorf("converting %T %s for apply: %w", desired, desired.GetName(), err)
	}
	obj := &unstructured.Unstructured{Object: content}
	// Status belongs to the object's controller, and a null creationTimestamp to no one.
	unstructured.RemoveNestedField(obj.Object, "status")
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	applied, err := a.send(ctx, gvk, obj)
	if err != nil {
		return true, fmt.Errorf("applying %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	a.mu.Lock()
	a.applied[key] = record{desired: fingerprint, resourceVersion: applied.ResourceVersion, uid: string(applied.UID), generation: applied.Generation, at: a.now()}
	a.mu.Unlock()
	return true, nil
}

// send applies obj with force (the operator owns every field it sets) and returns the
// object's metadata as the server answered.
func (a *Applier) send(ctx context.Context, gvk schema.GroupVersionKind, obj *unstructured.Unstructured) (*metav1.PartialObjectMetadata, error) {
	mapping, err := a.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("finding the resource of kind %s (is its CRD installed?): %w", gvk.Kind, err)
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	getter, err := a.metadata.Resource(mapping.Resource)
	if err != nil {
		return nil, err
	}
	var resource metadata.ResourceInterface = getter
	if mapping.Scope.Name() == apimeta.RESTScopeNameNamespace {
		resource = getter.Namespace(obj.GetNamespace())
	}
	return resource.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: a.fieldManager, Force: ptr.To(true)})
}

// generationKinds are the kinds whose metadata.generation moves with every change but to
// their status and metadata, and whose status another controller writes (the Deployment
// and Job controllers, CloudNativePG, ingress and gateway controllers). A status update
// moves the resourceVersion, not the generation: without this, every status update of a
// child would cost one more apply of it, in production as often as its status changes.
var generationKinds = map[string]bool{
	"apps/Deployment": true, "apps/StatefulSet": true, "batch/Job": true, "batch/CronJob": true,
	"policy/PodDisruptionBudget": true, "networking.k8s.io/Ingress": true, "networking.k8s.io/NetworkPolicy": true,
	"postgresql.cnpg.io/Cluster": true, "gateway.networking.k8s.io/HTTPRoute": true,
	"gateway.envoyproxy.io/SecurityPolicy": true, "gateway.envoyproxy.io/BackendTrafficPolicy": true,
}

// unchanged says whether current (nil when absent) is still the object last applied:
// the same resourceVersion, or, for generationKinds, the same object (UID) at the same
// generation with every label, annotation and owner reference desired sets still in place
// (other writers' own labels and annotations, like the Deployment controller's revision,
// do not count).
func unchanged(last record, current client.Object, desired client.Object) bool {
	switch {
	case current == nil:
		return false
	case current.GetResourceVersion() == last.resourceVersion:
		return true
	case !generationKinds[desired.GetObjectKind().GroupVersionKind().Group+"/"+desired.GetObjectKind().GroupVersionKind().Kind]:
		return false
	case last.generation == 0 || string(current.GetUID()) != last.uid || current.GetGeneration() != last.generation:
		return false
	}
	return holds(current.GetLabels(), desired.GetLabels()) && holds(current.GetAnnotations(), desired.GetAnnotations()) &&
		ownersHold(current.GetOwnerReferences(), desired.GetOwnerReferences())
}

// holds says whether every key of want has its value in got.
func holds(got, want map[string]string) bool {
	for k, v := range want {
		if have, ok := got[k]; !ok || have != v {
			return false
		}
	}
	return true
}

// ownersHold says whether every owner reference of want is in got.
func ownersHold(got, want []metav1.OwnerReference) bool {
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g metav1.OwnerReference) bool {
			return g.UID == w.UID && g.Kind == w.Kind && g.Name == w.Name && ptr.Deref(g.Controller, false) == ptr.Deref(w.Controller, false)
		}) {
			return false
		}
	}
	return true
}

// current reads the object as it is now (nil when absent), as metadata only for the
// kinds MetadataOnly names.
func (a *Applier) current(ctx context.Context, desired client.Object) (client.Object, error) {
	// An empty object of desired's type and kind (metadata only for some kinds): Get
	// fills it, so a copy of desired would be waste. The kind matters for unstructured and
	// metadata-only objects (PartialObjectMetadata, as from a metadata list).
	var current client.Object
	if gvk, ok := metadataKind(desired); ok {
		current = Metadata(gvk)
	} else {
		current = reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
		current.GetObjectKind().SetGroupVersionKind(desired.GetObjectKind().GroupVersionKind())
	}
	err := a.client.Get(ctx, client.ObjectKeyFromObject(desired), current)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %T %s/%s: %w", desired, desired.GetNamespace(), desired.GetName(), err)
	}
	return current, nil
}

// metadataKind names the kinds the operator reads, and caches, as metadata only: Secrets
// (it keeps no Secret data in memory), ConfigMaps and PersistentVolumeClaims (policies
// reference them by name), and the children whose spec and status no controller reads,
// only whether the object is still as it was applied (unchanged): Services,
// ServiceAccounts, NetworkPolicies (seven per instance, the largest part of the cache),
// PodDisruptionBudgets and CronJobs (the controllers list them by label to delete stale
// ones and read the Jobs they ran, never the CronJobs' own spec or status). One informer
// per kind: a typed read of one of these would start a second, full one.
func metadataKind(obj client.Object) (schema.GroupVersionKind, bool) {
	switch obj.(type) {
	case *corev1.Secret:
		return corev1.SchemeGroupVersion.WithKind("Secret"), true
	case *corev1.ConfigMap:
		return corev1.SchemeGroupVersion.WithKind("ConfigMap"), true
	case *corev1.PersistentVolumeClaim:
		return corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), true
	case *corev1.Service:
		return corev1.SchemeGroupVersion.WithKind("Service"), true
	case *corev1.ServiceAccount:
		return corev1.SchemeGroupVersion.WithKind("ServiceAccount"), true
	case *networkingv1.NetworkPolicy:
		return networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"), true
	case *policyv1.PodDisruptionBudget:
		return policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"), true
	case *batchv1.CronJob:
		return batchv1.SchemeGroupVersion.WithKind("CronJob"), true
	}
	return schema.GroupVersionKind{}, false
}

// MetadataOnly reports whether obj's kind is read and cached as metadata only; watch it
// with builder.OnlyMetadata and list it with MetadataList.
func MetadataOnly(obj client.Object) bool {
	_, ok := metadataKind(obj)
	return ok
}

// Metadata is an empty metadata-only object of kind gvk.
func Metadata(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(gvk)
	return meta
}

// MetadataItems are the items of a list MetadataList made and a List filled, each with
// its kind (the list's, less "List"): they come without one, and reading or deleting one
// needs it.
func MetadataItems(list *metav1.PartialObjectMetadataList) []*metav1.PartialObjectMetadata {
	gvk := list.GroupVersionKind()
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	items := make([]*metav1.PartialObjectMetadata, len(list.Items))
	for i := range list.Items {
		list.Items[i].SetGroupVersionKind(gvk)
		items[i] = &list.Items[i]
	}
	return items
}

// MetadataList is an empty metadata-only list of kind gvk (e.g. NetworkPolicyList).
func MetadataList(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadataList {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk)
	return list
}

// Delete removes obj if it exists; it reports whether a request was sent.
func (a *Applier) Delete(ctx context.Context, obj client.Object) (bool, error) {
	current, err := a.current(ctx, obj)
	if err != nil || current == nil {
		return false, err
	}
	if err := a.client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return true, fmt.Errorf("deleting %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return true, nil
}

// fingerprintOf is what the Applier remembers of a desired object: its JSON's hash, kept
// as bytes (one record per object the operator manages, tens of thousands at scale).
func fingerprintOf(desired client.Object) ([sha256.Size]byte, error) {
	// Encoded straight into the hash: json.Marshal's copy of every desired object was a
	// fourteenth of everything the manager allocated at a thousand instances.
	var sum [sha256.Size]byte
	hash := sha256.New()
	if err := json.NewEncoder(hash).Encode(desired); err != nil {
		return sum, fmt.Errorf("fingerprinting %T %s: %w", desired, desired.GetName(), err)
	}
	hash.Sum(sum[:0])
	return sum, nil
}
