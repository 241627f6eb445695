package ssa

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// TestMetadataClientBudgetsEachResource: --kube-api-qps and --kube-api-burst are a budget
// per kind of object. With a burst of one and a rate that refills in minutes, an apply of
// a second kind still goes at once, while a second one of the same kind waits for its own
// budget (the client refuses to wait past the request's deadline).
func TestMetadataClientBudgetsEachResource(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{"name":"x","resourceVersion":"1"}}`))
	}))
	defer server.Close()
	c, err := NewMetadataClient(&rest.Config{Host: server.URL, QPS: 0.01, Burst: 1}, server.Client())
	if err != nil {
		t.Fatal(err)
	}
	apply := func(resource schema.GroupVersionResource) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		getter, err := c.Resource(resource)
		if err != nil {
			return err
		}
		_, err = getter.Namespace("ns").Patch(ctx, "x", types.ApplyPatchType, []byte(`{}`), metav1.PatchOptions{FieldManager: "test"})
		return err
	}
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	services := schema.GroupVersionResource{Version: "v1", Resource: "services"}
	if err := apply(deployments); err != nil {
		t.Fatalf("first Deployment apply: %v", err)
	}
	if err := apply(services); err != nil {
		t.Fatalf("a Service apply waited for the Deployments' budget: %v", err)
	}
	if err := apply(deployments); err == nil {
		t.Fatal("a second Deployment apply went past a spent budget: the client has no rate limit")
	}
}
