package controllers

import (
	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// CacheOptions keep the manager's informers to what it manages: every kind the operator
// creates is cached only with the operator's managed-by label, so its memory follows the
// number of helpdesks, not the size of the cluster, and it never holds other workloads'
// objects. The kinds ssa.MetadataOnly names (Secrets, ConfigMaps, PersistentVolumeClaims,
// Services, ServiceAccounts, NetworkPolicies, PodDisruptionBudgets, CronJobs) are cached as
// metadata only: no Secret data, and no spec no controller reads. With watchNamespaces set, everything is
// limited to those namespaces (the operator then needs Roles only there). optional are
// the kinds of other projects whose CRDs are installed (InstalledOptionalKinds:
// CloudNativePG's Cluster, the exposure kinds), cached the same way. What is cached is
// trimmed to what the controllers read (trimForCache).
func CacheOptions(watchNamespaces []string, optional ...client.Object) cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{resources.LabelManagedBy: FieldManager})}
	opts := cache.Options{ByObject: map[client.Object]cache.ByObject{}, DefaultTransform: trimForCache}
	for _, obj := range []client.Object{
		&appsv1.Deployment{}, &batchv1.Job{}, &batchv1.CronJob{}, &corev1.Service{},
		&corev1.ServiceAccount{}, &corev1.ConfigMap{}, &networkingv1.Ingress{}, &networkingv1.NetworkPolicy{},
		&policyv1.PodDisruptionBudget{},
	} {
		opts.ByObject[obj] = managed
	}
	for _, obj := range optional {
		opts.ByObject[obj] = managed
	}
	if len(watchNamespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range watchNamespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// ClientOptions make the manager's client read unstructured objects from informers too:
// the exposure kinds without Go types (Traefik's and Envoy Gateway's) are then read from
// their informers like every other child; uncached, every reconcile read each of them from
// the API server.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{Unstructured: true}}
}

// InstalledExposureKinds are empty objects of the exposure kinds (HTTPRoute, Traefik's
// Middleware, Envoy Gateway's policies) whose CRDs the cluster has, for CacheOptions: a
// cache entry for a kind the API server does not know would keep the manager from starting.
func InstalledExposureKinds(mapper meta.RESTMapper) []client.Object {
	return installedExposureKinds(mapper).objects()
}

// trimForCache drops from an object, before it is cached, what no controller reads: every
// object's managedFields and kubectl's last-applied-configuration annotation (on a Secret
// applied with kubectl it holds the data, which the metadata-only Secret cache would
// otherwise keep), the pod templates and selectors of Deployments and Jobs and a
// Deployment's conditions (the controllers read their status, metadata and a Deployment's
// replicas; what the pods run is in the desired objects they apply), and all of a
// CloudNativePG Cluster but its metadata and the status the database phase reads.
// The metadata strings objects repeat are shared (cacheStrings). Read anything else of
// these kinds with the API reader, never from the cache.
func trimForCache(in any) (any, error) {
	if obj, err := meta.Accessor(in); err == nil {
		if obj.GetManagedFields() != nil {
			obj.SetManagedFields(nil)
		}
		if annotations := obj.GetAnnotations(); annotations != nil {
			delete(annotations, corev1.LastAppliedConfigAnnotation)
		}
	}
	if accessor, ok := in.(metav1.ObjectMetaAccessor); ok {
		if objectMeta, ok := accessor.GetObjectMeta().(*metav1.ObjectMeta); ok {
			cacheStrings.shareMetadata(objectMeta)
		}
	}
	switch obj := in.(type) {
	case *appsv1.Deployment:
		obj.Spec.Template = corev1.PodTemplateSpec{}
		obj.Spec.Selector = nil
		obj.Status.Conditions = nil
	case *batchv1.Job:
		obj.Spec.Template = corev1.PodTemplateSpec{}
		obj.Spec.Selector = nil
	case *cnpgv1.Cluster:
		obj.Spec = cnpgv1.ClusterSpec{}
		obj.Status = cnpgv1.ClusterStatus{Conditions: obj.Status.Conditions, ReadyInstances: obj.Status.ReadyInstances, Phase: obj.Status.Phase}
	}
	return in, nil
}
