// Package ssa applies desired objects with server-side apply under one field manager, and
// skips the request when it could not change anything.
package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
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
	fieldManager string
	now          func() time.Time

	mu      sync.Mutex
	applied map[string]record
}

type record struct {
	desired         string
	resourceVersion string
	at              time.Time
}

// NewApplier applies through c (whose reads should come from the informer cache, so
// that the no-op check costs no request) as fieldManager.
func NewApplier(c client.Client, fieldManager string) *Applier {
	return &Applier{client: c, fieldManager: fieldManager, now: time.Now, applied: map[string]record{}}
}

// FieldManager is the name the Applier writes as.
func (a *Applier) FieldManager() string { return a.fieldManager }

// Apply makes the server's object match desired for every field desired sets, taking
// ownership from other managers (a hand edit of a managed field is reverted). desired
// must carry its apiVersion and kind. It reports whether a request was sent.
func (a *Applier) Apply(ctx context.Context, desired client.Object) (bool, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return false, fmt.Errorf("converting %T %s for apply: %w", desired, desired.GetName(), err)
	}
	obj := &unstructured.Unstructured{Object: content}
	if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
		return false, fmt.Errorf("applying %T %s: the desired object has no apiVersion and kind", desired, desired.GetName())
	}
	// Status belongs to the object's controller, and a null creationTimestamp to no one.
	unstructured.RemoveNestedField(obj.Object, "status")
	unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	fingerprint, err := hash(obj.Object)
	if err != nil {
		return false, err
	}
	key := obj.GetAPIVersion() + "/" + obj.GetKind() + "/" + obj.GetNamespace() + "/" + obj.GetName()

	current, err := a.resourceVersion(ctx, desired)
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	last, seen := a.applied[key]
	a.mu.Unlock()
	if seen && current != "" && last.resourceVersion == current && last.desired == fingerprint && a.now().Sub(last.at) < recordTTL {
		return false, nil
	}

	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(a.fieldManager), client.ForceOwnership); err != nil {
		return true, fmt.Errorf("applying %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	a.mu.Lock()
	a.applied[key] = record{desired: fingerprint, resourceVersion: obj.GetResourceVersion(), at: a.now()}
	a.mu.Unlock()
	return true, nil
}

// resourceVersion reads the object's current resourceVersion ("" when absent). Secrets,
// ConfigMaps and PersistentVolumeClaims are read as metadata only: the operator keeps no
// Secret data in memory, and the policies' references to claims need only metadata too
// (one informer per kind).
func (a *Applier) resourceVersion(ctx context.Context, desired client.Object) (string, error) {
	current := desired.DeepCopyObject().(client.Object)
	switch desired.(type) {
	case *corev1.Secret:
		current = metadataOf("Secret")
	case *corev1.ConfigMap:
		current = metadataOf("ConfigMap")
	case *corev1.PersistentVolumeClaim:
		current = metadataOf("PersistentVolumeClaim")
	}
	err := a.client.Get(ctx, client.ObjectKeyFromObject(desired), current)
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("reading %T %s/%s: %w", desired, desired.GetNamespace(), desired.GetName(), err)
	}
	return current.GetResourceVersion(), nil
}

// Delete removes obj if it exists; it reports whether a request was sent.
func (a *Applier) Delete(ctx context.Context, obj client.Object) (bool, error) {
	rv, err := a.resourceVersion(ctx, obj)
	if err != nil || rv == "" {
		return false, err
	}
	if err := a.client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return true, fmt.Errorf("deleting %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return true, nil
}

func metadataOf(kind string) *metav1.PartialObjectMetadata {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return meta
}

func hash(content map[string]any) (string, error) {
	data, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
