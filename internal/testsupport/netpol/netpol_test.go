package netpol

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The evaluator's own semantics, case by case from the NetworkPolicy API documentation.
func TestEvaluatorFollowsTheAPI(t *testing.T) {
	web := &Pod{Namespace: "a", Name: "web", Labels: map[string]string{"app": "web"}, IP: "10.0.0.1", Ports: map[string]int32{"http": 8080}}
	db := &Pod{Namespace: "a", Name: "db", Labels: map[string]string{"app": "db"}, IP: "10.0.0.2"}
	other := &Pod{Namespace: "b", Name: "x", Labels: map[string]string{"app": "web"}, IP: "10.0.1.1"}
	namespaces := map[string]map[string]string{"a": {"kubernetes.io/metadata.name": "a"}, "b": {"kubernetes.io/metadata.name": "b", "edge": "true"}}
	tcp := ptr.To(corev1.ProtocolTCP)

	open := Cluster{Namespaces: namespaces}
	if !open.Allowed(PodEndpoint(web), PodEndpoint(db), corev1.ProtocolTCP, 5432) {
		t.Error("without policies everything is allowed")
	}
	deny := Cluster{Namespaces: namespaces, Policies: []networkingv1.NetworkPolicy{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "deny"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}},
	}}}
	if deny.Allowed(PodEndpoint(web), PodEndpoint(db), corev1.ProtocolTCP, 5432) || deny.Allowed(PodEndpoint(other), PodEndpoint(web), corev1.ProtocolTCP, 8080) {
		t.Error("an empty selector with both types denies everything in its namespace")
	}
	if !deny.Allowed(PodEndpoint(other), External("1.1.1.1"), corev1.ProtocolTCP, 443) {
		t.Error("a policy of namespace a does not apply to namespace b")
	}
	allow := deny
	allow.Policies = append(allow.Policies, networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"edge": "true"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromString("http"))}},
			}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.128/25"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(443)), EndPort: ptr.To[int32](444)}},
			}},
		},
	})
	for _, c := range []struct {
		src, dst Endpoint
		proto    corev1.Protocol
		port     int32
		want     bool
	}{
		{PodEndpoint(other), PodEndpoint(web), corev1.ProtocolTCP, 8080, true},  // named port resolved on the destination
		{PodEndpoint(other), PodEndpoint(web), corev1.ProtocolTCP, 8081, false}, // another port
		{PodEndpoint(other), PodEndpoint(web), corev1.ProtocolUDP, 8080, false}, // another protocol
		{PodEndpoint(db), PodEndpoint(web), corev1.ProtocolTCP, 8080, false},    // namespace a lacks the label
		{PodEndpoint(web), External("192.0.2.5"), corev1.ProtocolTCP, 444, true},
		{PodEndpoint(web), External("192.0.2.200"), corev1.ProtocolTCP, 443, false}, // excepted
		{PodEndpoint(web), External("192.0.2.5"), corev1.ProtocolTCP, 445, false},   // past endPort
		{PodEndpoint(web), PodEndpoint(db), corev1.ProtocolTCP, 5432, false},        // db denies ingress
	} {
		if got := allow.Allowed(c.src, c.dst, c.proto, c.port); got != c.want {
			t.Errorf("%s -> %s %s/%d: allowed %v, want %v", c.src, c.dst, c.proto, c.port, got, c.want)
		}
	}
}
