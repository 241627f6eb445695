package resources

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
)

// TestServerSideApplyIsValidAndIdempotent applies every built object to a real API
// server (with the CloudNativePG CRD) the way the controller does: server-side apply with
// one field manager. The server must accept each object, and applying the same objects
// again must change nothing, or the controller would write on every reconcile.
func TestServerSideApplyIsValidAndIdempotent(t *testing.T) {
	_, c := kubeenv.StartForTest(t)
	ctx := context.Background()
	opts := testOptions()

	for _, mk := range []func() *v1alpha1.HelpdeskInstance{minimalInstance, haInstance, vaultAgentInstance} {
		inst := mk()
		t.Run(inst.Name, func(t *testing.T) {
			// Pods of the namespace must meet the restricted Pod Security Standard.
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: inst.Namespace, Labels: map[string]string{
				"pod-security.kubernetes.io/enforce": "restricted",
			}}}
			if err := c.Create(ctx, ns); err != nil {
				t.Fatal(err)
			}
			// The instance itself must pass the CRD's validation, and its UID makes the
			// owner references real.
			inst.UID = ""
			if err := c.Create(ctx, inst); err != nil {
				t.Fatalf("creating the instance: %v", err)
			}
			prof := helpyProfile(t)
			for name, tmpl := range map[string]corev1.PodTemplateSpec{
				"app":       Deployment(inst, prof, opts, "h").Spec.Template,
				"migration": MigrationJob(inst, prof, opts).Spec.Template,
			} {
				pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
				pod.Name, pod.Namespace = name, inst.Namespace
				if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
					t.Errorf("%s pod: %v", name, err)
				}
			}

			objs := buildAll(t, inst, opts)
			first := map[string]*unstructured.Unstructured{}
			for _, obj := range objs {
				u := apply(ctx, t, c, obj)
				first[u.GetKind()+"/"+u.GetName()] = u
			}
			for _, obj := range buildAll(t, inst, opts) {
				u := apply(ctx, t, c, obj)
				key := u.GetKind() + "/" + u.GetName()
				before := first[key]
				if u.GetKind() == "PersistentVolumeClaim" {
					// The API server writes a PersistentVolumeClaim on every apply, even an
					// identical one (a server quirk, like kubernetes/kubernetes#121404); only
					// its content can be compared. The controller should skip applying an
					// unchanged claim.
					if !equality.Semantic.DeepEqual(before.Object["spec"], u.Object["spec"]) ||
						!equality.Semantic.DeepEqual(before.GetLabels(), u.GetLabels()) {
						t.Errorf("%s: applying the same object again changed its content", key)
					}
					continue
				}
				if u.GetResourceVersion() != before.GetResourceVersion() {
					t.Errorf("%s: applying the same object again changed it (resourceVersion %s -> %s)", key, before.GetResourceVersion(), u.GetResourceVersion())
				}
			}
		})
	}
}

func apply(ctx context.Context, t *testing.T, c client.Client, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	// Applied exactly as built, status and all: the server ignores status on the main
	// resource, so the controller need not strip it.
	u := &unstructured.Unstructured{Object: m}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(testOptions().ManagedBy), client.ForceOwnership); err != nil {
		t.Fatalf("applying %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return u
}
