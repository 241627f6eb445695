package access

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

var (
	securityPolicyGVK = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "SecurityPolicy"}
	trafficPolicyGVK  = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "BackendTrafficPolicy"}
	middlewareGVK     = schema.GroupVersionKind{Group: "traefik.io", Version: "v1alpha1", Kind: "Middleware"}
)

func accessPolicy(ns string) *v1alpha1.AccessPolicy {
	return &v1alpha1.AccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agents"},
		Spec: v1alpha1.AccessPolicySpec{
			AgentAllowedCIDRs:  []string{"203.0.113.0/24", "198.51.100.16/28"},
			PortalAllowedCIDRs: []string{"192.0.2.0/24"},
			SSO: &v1alpha1.SSOSpec{
				OIDC: &v1alpha1.OIDCSpec{
					IssuerURL: "https://login.example.com", ClientID: "helpdesk",
					ClientSecretRef: v1alpha1.SecretKeyReference{Name: "oidc", Key: "client-secret"},
				},
				ProviderCIDRs: []string{"198.18.0.10/32"},
			},
		},
	}
}

func oidcSecret(ns string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "oidc"}, Data: map[string][]byte{"client-secret": []byte("s3cr3t")}}
}

func instance(ns, name string, mutate ...func(*v1alpha1.HelpdeskInstance)) *v1alpha1.HelpdeskInstance {
	inst := &v1alpha1.HelpdeskInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.HelpdeskInstanceSpec{
			Hostname:        name + "." + ns + ".example.com",
			AccessPolicyRef: &v1alpha1.LocalObjectReference{Name: "agents"},
		},
	}
	for _, m := range mutate {
		m(inst)
	}
	return inst
}

func markGateAvailable(t *testing.T, inst *v1alpha1.HelpdeskInstance) {
	t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.AccessNamesFor(inst).Gate}}
	eventually(t, wait, func() error { return get(d) })
	n := ptr.Deref(d.Spec.Replicas, 1)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
	if err := k8sClient.Status().Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func object(gvk schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func gone(obj client.Object) func() error {
	return func() error {
		if err := get(obj); !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s %s still exists (err %w)", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
		return nil
	}
}

// fieldIs waits until the object's field (a path into it) equals want.
func fieldIs(u *unstructured.Unstructured, want any, path ...string) func() error {
	return func() error {
		if err := get(u); err != nil {
			return err
		}
		got, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%s %s %v = %v, want %v", u.GetKind(), u.GetName(), path, got, want)
		}
		return nil
	}
}

// settle waits until the manager has made no write for two seconds.
func settle(t *testing.T, writes *writeCounter) {
	t.Helper()
	// Quiet for longer than a policy waits before it sums up its instances (5 s,
	// controllers.policySummaryDelay), so no write still on its way is counted later.
	const quiet = 8 * time.Second
	last, since := writes.count(), time.Now()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		if now := writes.count(); now != last {
			last, since = now, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
	t.Fatal("the manager kept writing")
}

func touch(t *testing.T, obj client.Object) {
	t.Helper()
	update(t, obj, func() { obj.SetAnnotations(map[string]string{"test/touched": time.Now().Format(time.RFC3339Nano)}) })
}

// TestEnvoyGatewayEnforcesTheListsWithSecurityPolicies: HTTPRoutes on the platform Gateway
// (or the instance's own), a default-deny SecurityPolicy with the clients' CIDRs per
// restricted route, the body limit as a BackendTrafficPolicy, the perimeter opened to
// Envoy's proxies only; a narrowed list is narrowed and a removed one deleted at once.
func TestEnvoyGatewayEnforcesTheListsWithSecurityPolicies(t *testing.T) {
	ns := newNamespace(t)
	writes, _ := startOperator(t, ns, "--exposure=gateway", "--gateway=edge/public", "--gateway-listener=https", "--gateway-implementation=envoy-gateway")
	mustCreate(t, oidcSecret(ns))
	policy := accessPolicy(ns)
	mustCreate(t, policy)
	one := instance(ns, "one")
	two := instance(ns, "two", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.Ingress.Gateway = &v1alpha1.GatewayReference{Name: "private"}
	})
	mustCreate(t, one)
	mustCreate(t, two)

	agent := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "one-agent"}}
	eventually(t, wait, func() error { return get(agent) })
	parent := agent.Spec.ParentRefs[0]
	if string(*parent.Namespace) != "edge" || parent.Name != "public" || string(*parent.SectionName) != "https" {
		t.Errorf("one-agent attaches to %+v, want edge/public listener https", parent)
	}
	var paths []string
	for _, m := range agent.Spec.Rules[0].Matches {
		paths = append(paths, *m.Path.Value)
	}
	if fmt.Sprint(paths) != "[/admin /api /_gate]" || string(agent.Spec.Rules[0].BackendRefs[0].Name) != "one-gate" {
		t.Errorf("agent route: paths %v to %v", paths, agent.Spec.Rules[0].BackendRefs)
	}
	other := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "two-portal"}}
	eventually(t, wait, func() error { return get(other) })
	if p := other.Spec.ParentRefs[0]; string(*p.Namespace) != "edge" || p.Name != "private" {
		t.Errorf("two's spec.ingress.gateway is ignored: %+v", p)
	}

	agentPolicy := object(securityPolicyGVK, ns, "one-agent")
	eventually(t, wait, func() error {
		if err := get(agentPolicy); err != nil {
			return err
		}
		rules, _, _ := unstructured.NestedSlice(agentPolicy.Object, "spec", "authorization", "rules")
		action, _, _ := unstructured.NestedString(agentPolicy.Object, "spec", "authorization", "defaultAction")
		if action != "Deny" || len(rules) != 1 || fmt.Sprint(rules[0].(map[string]any)["principal"]) != "map[clientCIDRs:[198.51.100.16/28 203.0.113.0/24]]" {
			return fmt.Errorf("agent SecurityPolicy: default %s, rules %v", action, rules)
		}
		return nil
	})
	portalPolicy := object(securityPolicyGVK, ns, "one-portal")
	eventually(t, wait, func() error { return get(portalPolicy) })
	limit := object(trafficPolicyGVK, ns, "one-body-limit")
	eventually(t, wait, fieldIs(limit, "10Mi", "spec", "requestBuffer", "limit"))

	// Only Envoy's proxies may reach the gate.
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "one-gate"}}
	eventually(t, wait, func() error { return get(np) })
	from := np.Spec.Ingress[0].From[0]
	if from.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "envoy-gateway-system" || from.PodSelector.MatchLabels["app.kubernetes.io/component"] != "proxy" {
		t.Errorf("the gate admits %+v, want Envoy Gateway's proxies", from)
	}

	for _, inst := range []*v1alpha1.HelpdeskInstance{one, two} {
		markGateAvailable(t, inst)
		eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))
	}
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))
	if len(policy.Status.Instances) != 2 || policy.Status.Instances[0].Exposure != "gateway/envoy-gateway" {
		t.Errorf("status.instances: %+v", policy.Status.Instances)
	}

	// Narrow the agents' list, remove the portal's: same reconcile, both instances.
	update(t, policy, func() {
		policy.Spec.AgentAllowedCIDRs = []string{"203.0.113.0/24"}
		policy.Spec.PortalAllowedCIDRs = nil
	})
	for _, name := range []string{"one", "two"} {
		p := object(securityPolicyGVK, ns, name+"-agent")
		eventually(t, wait, func() error {
			if err := get(p); err != nil {
				return err
			}
			rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "authorization", "rules")
			if got := fmt.Sprint(rules[0].(map[string]any)["principal"]); got != "map[clientCIDRs:[203.0.113.0/24]]" {
				return fmt.Errorf("%s admits %s after the narrowing", p.GetName(), got)
			}
			return nil
		})
		eventually(t, wait, gone(object(securityPolicyGVK, ns, name+"-portal")))
	}
	update(t, policy, func() { policy.Spec.AgentAllowedCIDRs = nil })
	eventually(t, wait, gone(object(securityPolicyGVK, ns, "one-agent")))
	eventually(t, wait, gone(object(securityPolicyGVK, ns, "two-agent")))
	if err := get(limit); err != nil {
		t.Errorf("the body limit went with the lists: %v", err)
	}
	list := &networkingv1.IngressList{}
	if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
		t.Errorf("Gateway API exposure made %d Ingresses (err %v)", len(list.Items), err)
	}

	// Events on the instance for every change of enforcement, in the API.
	eventually(t, wait, func() error {
		events := &eventsv1.EventList{}
		if err := k8sClient.List(context.Background(), events, client.InNamespace(ns)); err != nil {
			return err
		}
		var notes []string
		for _, e := range events.Items {
			if e.Regarding.Name == "one" && e.Reason == "AccessEnforced" {
				notes = append(notes, e.Note)
			}
		}
		if !strings.Contains(strings.Join(notes, "\n"), "allowList NotRequested") {
			return fmt.Errorf("no Event for the removed lists; AccessEnforced events: %q", notes)
		}
		return nil
	})

	settle(t, writes)
	before := writes.count()
	touch(t, one)
	touch(t, policy)
	settle(t, writes)
	if n := writes.count() - before; n != 0 {
		t.Errorf("reconciles with nothing to change wrote %d times", n)
	}
}

// TestTraefikMiddlewares: on Gateway API as ExtensionRef filters, on Ingresses through the
// router.middlewares annotation; a removed list deletes its Middleware.
func TestTraefikMiddlewares(t *testing.T) {
	for _, mode := range []string{"gateway", "ingress"} {
		t.Run(mode, func(t *testing.T) {
			ns := newNamespace(t)
			flags := []string{"--exposure=ingress", "--ingress-controller=traefik"}
			if mode == "gateway" {
				flags = []string{"--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=traefik"}
			}
			startOperator(t, ns, flags...)
			mustCreate(t, oidcSecret(ns))
			policy := accessPolicy(ns)
			mustCreate(t, policy)
			inst := instance(ns, "desk")
			mustCreate(t, inst)

			agentAllow := object(middlewareGVK, ns, "desk-agent-allow")
			eventually(t, wait, fieldIs(agentAllow, []any{"198.51.100.16/28", "203.0.113.0/24"}, "spec", "ipAllowList", "sourceRange"))
			eventually(t, wait, fieldIs(object(middlewareGVK, ns, "desk-portal-allow"), []any{"192.0.2.0/24"}, "spec", "ipAllowList", "sourceRange"))
			eventually(t, wait, fieldIs(object(middlewareGVK, ns, "desk-body-limit"), int64(10<<20), "spec", "buffering", "maxRequestBodyBytes"))

			uses := func(want ...string) func() error {
				return func() error {
					var got []string
					if mode == "gateway" {
						route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-agent"}}
						if err := get(route); err != nil {
							return err
						}
						for _, f := range route.Spec.Rules[0].Filters {
							if f.Type == gatewayv1.HTTPRouteFilterExtensionRef && f.ExtensionRef.Group == "traefik.io" && f.ExtensionRef.Kind == "Middleware" {
								got = append(got, string(f.ExtensionRef.Name))
							}
						}
					} else {
						ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-agent"}}
						if err := get(ing); err != nil {
							return err
						}
						for _, ref := range strings.Split(ing.Annotations[resources.AnnotationTraefikMiddlewares], ",") {
							if ref != "" {
								got = append(got, strings.TrimSuffix(strings.TrimPrefix(ref, ns+"-"), "@kubernetescrd"))
							}
						}
					}
					if (len(got) > 0 || len(want) > 0) && !reflect.DeepEqual(got, want) {
						return fmt.Errorf("the agent route uses Middlewares %v, want %v", got, want)
					}
					return nil
				}
			}
			eventually(t, wait, uses("desk-agent-allow", "desk-body-limit"))
			markGateAvailable(t, inst)
			eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))

			update(t, policy, func() { policy.Spec.AgentAllowedCIDRs, policy.Spec.PortalAllowedCIDRs = nil, nil })
			eventually(t, wait, uses("desk-body-limit"))
			eventually(t, wait, gone(agentAllow))
			eventually(t, wait, gone(object(middlewareGVK, ns, "desk-portal-allow")))
		})
	}
}

// TestUnsupportedExposureFailsClosed: an implementation the operator has no enforcement
// for never exposes what a list guards, and says so on the instance and the policy.
func TestUnsupportedExposureFailsClosed(t *testing.T) {
	t.Run("gateway", func(t *testing.T) {
		ns := newNamespace(t)
		startOperator(t, ns, "--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=other",
			"--ingress-namespace-selector=kubernetes.io/metadata.name=edge")
		mustCreate(t, oidcSecret(ns))
		policy := accessPolicy(ns)
		policy.Spec.PortalAllowedCIDRs = nil
		mustCreate(t, policy)
		inst := instance(ns, "desk")
		mustCreate(t, inst)
		eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionFalse, v1alpha1.ReasonAllowListUnsupported))
		if s := inst.Status.Access.AllowList; !strings.Contains(s.Message, "agent paths (/admin, /api) are not exposed") {
			t.Errorf("allowList: %+v", s)
		}
		// The portal is served; the agent paths match a rule without a backend, which
		// Gateway API answers with a 500, so "/" never catches them.
		agent := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-agent"}}
		eventually(t, wait, func() error { return get(agent) })
		if len(agent.Spec.Rules[0].BackendRefs) != 0 {
			t.Errorf("the closed agent route leads to %v", agent.Spec.Rules[0].BackendRefs)
		}
		eventually(t, wait, func() error {
			return get(&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-portal"}})
		})
		eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotEnforced))
		if msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "instance desk: allowList AllowListUnsupported") {
			t.Errorf("policy Ready: %s", msg)
		}
	})
	t.Run("ingress", func(t *testing.T) {
		ns := newNamespace(t)
		startOperator(t, ns, "--exposure=ingress", "--ingress-controller=other", "--ingress-namespace-selector=kubernetes.io/metadata.name=edge")
		mustCreate(t, oidcSecret(ns))
		policy := accessPolicy(ns)
		policy.Spec.PortalAllowedCIDRs = nil
		mustCreate(t, policy)
		inst := instance(ns, "desk")
		mustCreate(t, inst)
		eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionFalse, v1alpha1.ReasonAllowListUnsupported))
		if s := inst.Status.Access.AllowList; !strings.Contains(s.Message, "the portal is not exposed either") {
			t.Errorf("allowList: %+v", s)
		}
		time.Sleep(2 * time.Second)
		list := &networkingv1.IngressList{}
		if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
			t.Errorf("%d Ingresses although no Ingress here could keep the agent paths closed (err %v)", len(list.Items), err)
		}
		// Emptying the list opens both routes.
		update(t, policy, func() { policy.Spec.AgentAllowedCIDRs = nil })
		eventually(t, wait, func() error {
			return get(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-agent"}})
		})
	})
}

// TestSwitchingTheExposureRemovesTheOldRoutes: the operator restarted with Gateway API
// takes the instance's Ingresses away, so no route of the old exposure keeps serving.
func TestSwitchingTheExposureRemovesTheOldRoutes(t *testing.T) {
	ns := newNamespace(t)
	_, stop := startOperator(t, ns)
	inst := instance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) { i.Spec.AccessPolicyRef = nil })
	mustCreate(t, inst)
	portal := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-app"}}
	eventually(t, wait, func() error { return get(portal) })
	stop()
	startOperator(t, ns, "--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=envoy-gateway")
	eventually(t, wait, func() error {
		return get(&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-portal"}})
	})
	eventually(t, wait, gone(portal))
	eventually(t, wait, gone(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk-agent"}}))
}
