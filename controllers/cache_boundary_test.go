package controllers

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// TestCacheHoldsOnlyWhatTheOperatorManages builds the manager's cache (CacheOptions) on the
// test API server, next to another workload in a tenant's namespace: that workload's
// Deployment never enters it, and Secrets, which the operator reads by metadata only
// because tenants name their own, are held without kubectl's last-applied copy of their
// data.
func TestCacheHoldsOnlyWhatTheOperatorManages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := newNamespace(t)
	managed := map[string]string{resources.LabelManagedBy: FieldManager}
	deployment := func(name string, labels map[string]string) *appsv1.Deployment {
		podLabels := map[string]string{"app": name}
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: podLabels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app"}}}}}}
	}
	mustCreate(t, deployment("another-workload", nil))
	mustCreate(t, deployment("ours", managed))
	const applied = `{"apiVersion":"v1","kind":"Secret","stringData":{"password":"kept-out-of-the-cache"}}`
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "a-tenants-credentials", Namespace: ns,
		Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: applied, "note": "kept"}},
		StringData: map[string]string{"password": "kept-out-of-the-cache"}})

	opts := CacheOptions(nil)
	opts.Scheme = testEnv.Scheme
	c, err := cache.New(testEnv.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not start")
	}

	var deployments appsv1.DeploymentList
	if err := c.List(ctx, &deployments, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deployments.Items {
		names = append(names, d.Name)
	}
	if !slices.Equal(names, []string{"ours"}) {
		t.Fatalf("Deployments in the cache: %v, want only the operator's", names)
	}
	err = c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "another-workload"}, &appsv1.Deployment{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("another workload's Deployment read from the cache: %v, want NotFound", err)
	}

	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a-tenants-credentials"}, secret); err != nil {
		t.Fatal(err)
	}
	if _, kept := secret.Annotations[corev1.LastAppliedConfigAnnotation]; kept || secret.Annotations["note"] != "kept" {
		t.Fatalf("a Secret's cached annotations: %v, want its own without kubectl's copy of its data", secret.Annotations)
	}
}
