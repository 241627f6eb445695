package resources

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
)

// TestAccessObjectsAreValidOnTheAPIServer applies the access objects of every exposure and
// gate to a real API server with the real Gateway API CRDs (their CEL rules included),
// Traefik's Middleware CRD and the minimal Envoy Gateway CRDs: each must be accepted
// with every field kept (a field the schema does not know would be pruned), a second
// apply must change nothing, and the gate's pod must pass the restricted Pod Security
// Standard.
func TestAccessObjectsAreValidOnTheAPIServer(t *testing.T) {
	_, c := kubeenv.StartForTest(t)
	ctx := context.Background()
	type scenario struct {
		name   string
		policy *v1alpha1.AccessPolicy
		opts   Options
	}
	var scenarios []scenario
	for _, x := range exposures {
		scenarios = append(scenarios, scenario{x.name, oidcPolicy(), exposureOptions(x.mode, x.edge)})
	}
	closed := oidcPolicy()
	closed.Spec.SSO, closed.Spec.PortalAllowedCIDRs = nil, nil // MFA without SSO: the agent route refuses everyone
	for _, x := range exposures {
		scenarios = append(scenarios, scenario{x.name + "-closed", closed, exposureOptions(x.mode, x.edge)})
	}
	scenarios = append(scenarios, scenario{"saml", samlPolicy(), exposureOptions(ExposureGateway, EdgeEnvoyGateway)},
		scenario{"ldap", ldapPolicy(), exposureOptions(ExposureIngress, EdgeTraefik)})

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ns := "access-" + sc.name
			if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
				"pod-security.kubernetes.io/enforce": "restricted",
			}}}); err != nil {
				t.Fatal(err)
			}
			inst := guarded(sc.policy)
			inst.Namespace, inst.UID = ns, ""
			if err := c.Create(ctx, inst); err != nil {
				t.Fatalf("creating the instance: %v", err)
			}
			objs, err := accessObjects(inst, sc.policy, sc.opts)
			if err != nil {
				t.Fatal(err)
			}
			first := map[string]*unstructured.Unstructured{}
			for _, obj := range objs {
				u := apply(ctx, t, c, obj)
				first[u.GetKind()+"/"+u.GetName()] = u
				want, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(u.GetAPIVersion(), "traefik.io") || strings.Contains(u.GetAPIVersion(), "envoyproxy.io") {
					if !equality.Semantic.DeepEqual(want["spec"], u.Object["spec"]) {
						t.Errorf("%s %s: the server kept %v of %v (a field the CRD does not know?)", u.GetKind(), u.GetName(), u.Object["spec"], want["spec"])
					}
				}
				var tmpl *corev1.PodTemplateSpec
				switch o := obj.(type) {
				case *appsv1.Deployment:
					tmpl = &o.Spec.Template
				case *batchv1.Job:
					tmpl = &o.Spec.Template
				}
				if tmpl != nil {
					pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
					pod.Name, pod.Namespace = strings.ToLower(u.GetKind()), ns
					if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
						t.Errorf("the %s pod is refused: %v", u.GetName(), err)
					}
				}
			}
			again, err := accessObjects(inst, sc.policy, sc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range again {
				u := apply(ctx, t, c, obj)
				if before := first[u.GetKind()+"/"+u.GetName()]; u.GetResourceVersion() != before.GetResourceVersion() {
					t.Errorf("%s %s: applying the same object again changed it", u.GetKind(), u.GetName())
				}
			}
		})
	}
}
