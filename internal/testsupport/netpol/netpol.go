// Package netpol evaluates Kubernetes NetworkPolicies the way the API defines them, so that
// tests can ask "may this pod open a connection to that one on this port?" instead of
// comparing policy text. It covers what the operator's policies use: pod and namespace
// selectors, ipBlocks with exceptions, numbered and named ports, endPort, both policy
// types, and the rule that a pod selected by no policy of a direction is open in it.
package netpol

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Pod is a pod as policies see it. Ports maps named container ports to numbers.
type Pod struct {
	Namespace string
	Name      string
	Labels    map[string]string
	IP        string
	Ports     map[string]int32
}

// Endpoint is one side of a connection: a pod, or an address outside the cluster.
type Endpoint struct {
	Pod *Pod
	IP  string
}

// PodEndpoint and External make endpoints.
func PodEndpoint(p *Pod) Endpoint { return Endpoint{Pod: p, IP: p.IP} }
func External(ip string) Endpoint { return Endpoint{IP: ip} }

func (e Endpoint) String() string {
	if e.Pod != nil {
		return e.Pod.Namespace + "/" + e.Pod.Name
	}
	return e.IP
}

// Cluster is the namespaces (name to labels) and every NetworkPolicy.
type Cluster struct {
	Namespaces map[string]map[string]string
	Policies   []networkingv1.NetworkPolicy
}

// Allowed reports whether src may open a connection to dst on proto/port: src's egress
// policies must allow it (or none select src for egress), and dst's ingress policies too.
func (c Cluster) Allowed(src, dst Endpoint, proto corev1.Protocol, port int32) bool {
	if src.Pod != nil && !c.allowedBy(src.Pod, networkingv1.PolicyTypeEgress, dst, proto, port) {
		return false
	}
	if dst.Pod != nil && !c.allowedBy(dst.Pod, networkingv1.PolicyTypeIngress, src, proto, port) {
		return false
	}
	return true
}

// EgressAllowed reports whether src's own policies let it open the connection, whatever
// dst's policies say: what a pod may reach when the destination does not protect itself.
func (c Cluster) EgressAllowed(src, dst Endpoint, proto corev1.Protocol, port int32) bool {
	return src.Pod == nil || c.allowedBy(src.Pod, networkingv1.PolicyTypeEgress, dst, proto, port)
}

// allowedBy: the policies of pod's namespace that select it for direction; with none, it
// is open; otherwise one of their rules must name peer and port.
func (c Cluster) allowedBy(pod *Pod, direction networkingv1.PolicyType, peer Endpoint, proto corev1.Protocol, port int32) bool {
	selected := false
	for i := range c.Policies {
		p := &c.Policies[i]
		if p.Namespace != pod.Namespace || !matches(&p.Spec.PodSelector, pod.Labels) || !hasType(p, direction) {
			continue
		}
		selected = true
		if direction == networkingv1.PolicyTypeIngress {
			for _, r := range p.Spec.Ingress {
				if c.ruleAllows(p.Namespace, r.From, r.Ports, peer, pod, proto, port) {
					return true
				}
			}
		} else {
			for _, r := range p.Spec.Egress {
				if c.ruleAllows(p.Namespace, r.To, r.Ports, peer, peer.Pod, proto, port) {
					return true
				}
			}
		}
	}
	return !selected
}

// hasType follows the API's defaulting: Ingress always, Egress when there are egress rules,
// unless policyTypes says otherwise.
func hasType(p *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, pt := range p.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

// ruleAllows: no peers means every peer, no ports every port. portOwner is the pod whose
// named ports a named port refers to (the destination).
func (c Cluster) ruleAllows(policyNS string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, peer Endpoint, portOwner *Pod, proto corev1.Protocol, port int32) bool {
	if !portsAllow(ports, portOwner, proto, port) {
		return false
	}
	if len(peers) == 0 {
		return true
	}
	for _, pp := range peers {
		if c.peerMatches(policyNS, pp, peer) {
			return true
		}
	}
	return false
}

func (c Cluster) peerMatches(policyNS string, pp networkingv1.NetworkPolicyPeer, e Endpoint) bool {
	if pp.IPBlock != nil {
		return inBlock(pp.IPBlock, e.IP)
	}
	if e.Pod == nil {
		return false
	}
	if pp.NamespaceSelector == nil {
		return e.Pod.Namespace == policyNS && pp.PodSelector != nil && matches(pp.PodSelector, e.Pod.Labels)
	}
	nsLabels, ok := c.Namespaces[e.Pod.Namespace]
	if !ok || !matches(pp.NamespaceSelector, nsLabels) {
		return false
	}
	return pp.PodSelector == nil || matches(pp.PodSelector, e.Pod.Labels)
}

func portsAllow(ports []networkingv1.NetworkPolicyPort, owner *Pod, proto corev1.Protocol, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		want := corev1.ProtocolTCP
		if p.Protocol != nil {
			want = *p.Protocol
		}
		if want != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		number := p.Port.IntVal
		if p.Port.Type != 0 { // a named port
			if owner == nil {
				continue
			}
			n, ok := owner.Ports[p.Port.StrVal]
			if !ok {
				continue
			}
			number = n
		}
		end := number
		if p.EndPort != nil {
			end = *p.EndPort
		}
		if port >= number && port <= end {
			return true
		}
	}
	return false
}

func inBlock(b *networkingv1.IPBlock, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !cidr.Contains(addr) {
		return false
	}
	for _, e := range b.Except {
		if ex, err := netip.ParsePrefix(e); err == nil && ex.Contains(addr) {
			return false
		}
	}
	return true
}

func matches(s *metav1.LabelSelector, l map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return false // an invalid selector selects nothing
	}
	return sel.Matches(labels.Set(l))
}
