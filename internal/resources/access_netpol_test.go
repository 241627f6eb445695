package resources

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/netpol"
)

// perimeter is a small cluster: instance A (gated by the OIDC policy) and B (no policy) in
// one namespace, C (gated) in another, the edge, DNS, Vault, the identity provider, and a
// stray pod in A's namespace that carries no instance label.
type perimeter struct {
	cluster          netpol.Cluster
	a, b, c          map[string]*netpol.Pod
	edge, dns, stray *netpol.Pod
	// foreign is a pod in a namespace without any NetworkPolicy: only the source's own
	// egress rules keep it out of reach.
	foreign             *netpol.Pod
	idp, gateCIDR, evil netpol.Endpoint
}

func newPerimeter(t *testing.T, opts Options) perimeter {
	t.Helper()
	prof := helpyProfile(t)
	policy := oidcPolicy()
	a := guarded(policy)
	b := minimalInstance()
	b.Name = "other"
	c := guarded(policy)
	c.Namespace = "tenant-c"
	p := perimeter{
		cluster: netpol.Cluster{Namespaces: map[string]map[string]string{
			"tenant-a":      {corev1.LabelMetadataName: "tenant-a"},
			"tenant-c":      {corev1.LabelMetadataName: "tenant-c"},
			"ingress-nginx": {corev1.LabelMetadataName: "ingress-nginx"},
			"kube-system":   {corev1.LabelMetadataName: "kube-system"},
			"vault":         {corev1.LabelMetadataName: "vault"},
			"unmanaged":     {corev1.LabelMetadataName: "unmanaged"},
		}},
		edge:     &netpol.Pod{Namespace: "ingress-nginx", Name: "controller", Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}, IP: "10.1.0.2"},
		dns:      &netpol.Pod{Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}, IP: "10.1.0.3"},
		foreign:  &netpol.Pod{Namespace: "unmanaged", Name: "anything", Labels: map[string]string{"app": "web"}, IP: "10.1.0.9"},
		stray:    &netpol.Pod{Namespace: "tenant-a", Name: "stray", Labels: map[string]string{"app": "debug"}, IP: "10.1.0.4"},
		idp:      netpol.External("198.18.0.10"),
		gateCIDR: netpol.External("198.18.1.7"),
		evil:     netpol.External("203.0.113.99"),
	}
	ip := 10
	pods := func(inst *v1alpha1.HelpdeskInstance, policy *v1alpha1.AccessPolicy) map[string]*netpol.Pod {
		out := map[string]*netpol.Pod{}
		for name, l := range instancePods(t, inst) {
			ip++
			out[name] = &netpol.Pod{Namespace: inst.Namespace, Name: inst.Name + "-" + name, Labels: l, IP: fmt.Sprintf("10.2.0.%d", ip)}
		}
		plan := PlanAccess(inst, policy, prof, opts)
		if plan.Gated {
			ip++
			d := GateDeployment(inst, prof, opts, policy, "h")
			out["gate"] = &netpol.Pod{Namespace: inst.Namespace, Name: inst.Name + "-gate", Labels: d.Spec.Template.Labels, IP: fmt.Sprintf("10.2.0.%d", ip)}
		}
		for _, np := range NetworkPolicies(inst, prof, opts, plan) {
			p.cluster.Policies = append(p.cluster.Policies, *np)
		}
		return out
	}
	p.a, p.b, p.c = pods(a, policy), pods(b, nil), pods(c, policy)
	return p
}

func expect(t *testing.T, c netpol.Cluster, src, dst netpol.Endpoint, port int32, want bool) {
	t.Helper()
	if got := c.Allowed(src, dst, corev1.ProtocolTCP, port); got != want {
		t.Errorf("%s -> %s TCP/%d: allowed %v, want %v", src, dst, port, got, want)
	}
}

// ports every component listens on (app, gate, database, instance manager, DNS, Vault).
var perimeterPorts = []int32{3000, 8080, PostgresPort, InstanceManagerPort, 53, 8200, 443}

func TestInstanceOneCannotReachInstanceTwo(t *testing.T) {
	p := newPerimeter(t, testOptions())
	for _, pair := range [][2]map[string]*netpol.Pod{{p.a, p.b}, {p.b, p.a}, {p.a, p.c}, {p.c, p.a}} {
		for _, src := range pair[0] {
			for _, dst := range pair[1] {
				for _, port := range perimeterPorts {
					expect(t, p.cluster, netpol.PodEndpoint(src), netpol.PodEndpoint(dst), port, false)
				}
			}
		}
	}
	// A pod without an instance label in the same namespace reaches nothing of A either.
	for _, dst := range p.a {
		for _, port := range perimeterPorts {
			expect(t, p.cluster, netpol.PodEndpoint(p.stray), netpol.PodEndpoint(dst), port, false)
		}
	}
}

func TestTheGateReachesOnlyItsIdentityProviderAndTheApp(t *testing.T) {
	p := newPerimeter(t, exposureOptions(ExposureIngress, EdgeIngressNginx))
	gate := netpol.PodEndpoint(p.a["gate"])
	expect(t, p.cluster, gate, netpol.PodEndpoint(p.a["app"]), 3000, true)
	expect(t, p.cluster, gate, p.idp, 443, true)      // spec.sso.providerCIDRs, on the issuer's port
	expect(t, p.cluster, gate, p.gateCIDR, 443, true) // the operator's --gate-egress-cidrs
	expect(t, p.cluster, gate, netpol.PodEndpoint(p.dns), 53, true)
	expect(t, p.cluster, gate, p.idp, 80, false)
	expect(t, p.cluster, gate, p.evil, 443, false)
	expect(t, p.cluster, gate, netpol.External("127.0.0.1"), 8200, false) // Vault
	for _, name := range []string{"db", "job"} {
		for _, port := range perimeterPorts {
			expect(t, p.cluster, gate, netpol.PodEndpoint(p.a[name]), port, false)
		}
	}
	for _, other := range []map[string]*netpol.Pod{p.b, p.c} {
		for _, dst := range other {
			for _, port := range perimeterPorts {
				expect(t, p.cluster, gate, netpol.PodEndpoint(dst), port, false)
			}
		}
	}
	// No other pod of the instance may reach the identity provider, and no pod of it a pod
	// that does not protect itself, whatever the port.
	for name, pod := range p.a {
		if name != "gate" {
			expect(t, p.cluster, netpol.PodEndpoint(pod), p.idp, 443, false)
		}
		for _, port := range perimeterPorts {
			if p.cluster.EgressAllowed(netpol.PodEndpoint(pod), netpol.PodEndpoint(p.foreign), corev1.ProtocolTCP, port) {
				t.Errorf("%s may reach an unprotected pod of another namespace on %d", pod.Name, port)
			}
		}
	}
	// The gate's own rules, whatever the destinations allow: the app port of its app only.
	for name, dst := range p.a {
		for _, port := range perimeterPorts {
			want := name == "app" && port == 3000
			if got := p.cluster.EgressAllowed(gate, netpol.PodEndpoint(dst), corev1.ProtocolTCP, port); got != want {
				t.Errorf("the gate's egress to its %s pod on %d: %v, want %v", name, port, got, want)
			}
		}
	}
	for _, other := range []map[string]*netpol.Pod{p.b, p.c} {
		for _, dst := range other {
			if p.cluster.EgressAllowed(gate, netpol.PodEndpoint(dst), corev1.ProtocolTCP, 3000) {
				t.Errorf("the gate's egress admits %s", dst.Name)
			}
		}
	}
}

func TestOnlyTheEdgeReachesTheGateAndTheGateAloneTheApp(t *testing.T) {
	p := newPerimeter(t, testOptions())
	gate, app := netpol.PodEndpoint(p.a["gate"]), netpol.PodEndpoint(p.a["app"])
	expect(t, p.cluster, netpol.PodEndpoint(p.edge), gate, 8080, true)
	expect(t, p.cluster, netpol.PodEndpoint(p.edge), gate, 3000, false)
	// With a gate the edge cannot skip it; without one (B) it reaches the app.
	expect(t, p.cluster, netpol.PodEndpoint(p.edge), app, 3000, false)
	expect(t, p.cluster, netpol.PodEndpoint(p.edge), netpol.PodEndpoint(p.b["app"]), 3000, true)
	for _, src := range []*netpol.Pod{p.a["app"], p.a["db"], p.a["job"], p.stray, p.b["app"], p.c["gate"], p.dns} {
		expect(t, p.cluster, netpol.PodEndpoint(src), gate, 8080, false)
	}
	expect(t, p.cluster, p.evil, gate, 8080, false)
	expect(t, p.cluster, p.evil, app, 3000, false)
}

// TestEdgeSelectorFollowsTheExposure: the pods that may reach the app (or gate) are those
// of the configured edge, not a fixed ingress-nginx namespace.
func TestEdgeSelectorFollowsTheExposure(t *testing.T) {
	opts := exposureOptions(ExposureGateway, EdgeEnvoyGateway)
	opts.IngressController = EdgeDefaults(opts.Exposure)
	p := newPerimeter(t, opts)
	p.cluster.Namespaces["envoy-gateway-system"] = map[string]string{corev1.LabelMetadataName: "envoy-gateway-system"}
	envoy := &netpol.Pod{Namespace: "envoy-gateway-system", Name: "envoy-public", IP: "10.3.0.2", Labels: map[string]string{
		"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway",
	}}
	controller := &netpol.Pod{Namespace: "envoy-gateway-system", Name: "envoy-gateway", IP: "10.3.0.3", Labels: map[string]string{
		"app.kubernetes.io/name": "envoy-gateway", "control-plane": "envoy-gateway",
	}}
	expect(t, p.cluster, netpol.PodEndpoint(envoy), netpol.PodEndpoint(p.a["gate"]), 8080, true)
	expect(t, p.cluster, netpol.PodEndpoint(envoy), netpol.PodEndpoint(p.b["app"]), 3000, true)
	expect(t, p.cluster, netpol.PodEndpoint(controller), netpol.PodEndpoint(p.a["gate"]), 8080, false)
	expect(t, p.cluster, netpol.PodEndpoint(p.edge), netpol.PodEndpoint(p.b["app"]), 3000, false) // ingress-nginx is no edge here
}
