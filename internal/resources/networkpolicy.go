package resources

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Database ports CloudNativePG uses.
const (
	PostgresPort        = 5432
	InstanceManagerPort = 8000
)

// NetworkPolicies isolate the instance: one denies all traffic to and from every pod of
// the instance (app, database, Jobs), the others each allow one concern's flows. Policies
// add up, so a flow is allowed only if one of them names it:
//
//   - <name>-dns: every pod to the cluster DNS, port 53 UDP and TCP;
//   - <name>-app: the edge (ingress controller or gateway) to the app port, or, when an
//     access gate runs, the gate alone; the app to its own database (5432), the SMTP
//     relay, spec.network.additionalEgress and, with Vault Agent delivery, Vault;
//   - <name>-gate (only with a gate): the edge to the gate; the gate to the app and to its
//     identity provider's CIDRs;
//   - <name>-jobs: the instance's Jobs to its own database (5432) and Vault;
//   - <name>-db: the app and the Jobs to 5432; the CloudNativePG operator to the instance
//     manager (8000); the database pods to each other (5432, 8000); the database pods to
//     the Kubernetes API server.
//
// Every pod peer carries the instance label and has no namespace selector, so it only
// matches pods of this instance in this namespace; other namespaces are only ever
// reached through the operator's configured selectors. A pod that can set labels in the
// namespace can still claim to be part of an instance: namespaces, not labels, separate
// tenants.
func NetworkPolicies(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, access AccessPlan) []*networkingv1.NetworkPolicy {
	policies := []*networkingv1.NetworkPolicy{
		defaultDenyPolicy(inst, prof, opts),
		dnsPolicy(inst, prof, opts),
		appPolicy(inst, prof, opts, access),
		jobsPolicy(inst, prof, opts),
		databasePolicy(inst, prof, opts),
	}
	if access.Gated {
		policies = append(policies, gatePolicy(inst, prof, opts, access))
	}
	return policies
}

func networkPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, name string, selector map[string]string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(inst, name, Labels(inst, prof, opts, ComponentNetwork)),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selector},
			PolicyTypes: types,
		},
	}
}

func defaultDenyPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *networkingv1.NetworkPolicy {
	return networkPolicy(inst, prof, opts, NamesFor(inst).PolicyDefaultDeny, InstanceSelector(inst),
		networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)
}

func dnsPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *networkingv1.NetworkPolicy {
	p := networkPolicy(inst, prof, opts, NamesFor(inst).PolicyDNS, InstanceSelector(inst), networkingv1.PolicyTypeEgress)
	var to []networkingv1.NetworkPolicyPeer
	if opts.DNS.set() {
		to = append(to, namespacePeer(opts.DNS.PeerSelector))
	}
	to = append(to, cidrPeers(opts.DNS.CIDRs)...)
	if len(to) > 0 {
		p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To:    to,
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, opts.DNS.Port), port(corev1.ProtocolTCP, opts.DNS.Port)},
		}}
	}
	return p
}

func appPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, access AccessPlan) *networkingv1.NetworkPolicy {
	p := networkPolicy(inst, prof, opts, NamesFor(inst).PolicyApp, SelectorLabels(inst, RoleApp),
		networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)
	switch {
	case access.Gated:
		// Past the gate only: the edge can no longer skip it.
		p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{podPeer(SelectorLabels(inst, RoleGate))},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, prof.Port)},
		}}
	case opts.IngressController.set():
		p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{namespacePeer(opts.IngressController)},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, prof.Port)},
		}}
	}
	p.Spec.Egress = append(p.Spec.Egress, toOwnDatabase(inst))
	// With Secret delivery the app never talks to Vault; only the Vault Agent does.
	if usesVaultAgent(inst) {
		p.Spec.Egress = append(p.Spec.Egress, toVault(opts)...)
	}
	// Tenant CIDRs pass the operator's bounds: denied ranges are excepted, refused CIDRs
	// left out (EgressProblems reports them).
	if smtp := inst.Spec.Network.SMTP; smtp != nil {
		smtpPort := smtp.Port
		if smtpPort == 0 {
			smtpPort = 587
		}
		if to := tenantPeers(opts.TenantEgress, []string{smtp.CIDR}); len(to) > 0 {
			p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
				To:    to,
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, smtpPort)},
			})
		}
	}
	for _, e := range inst.Spec.Network.AdditionalEgress {
		to := tenantPeers(opts.TenantEgress, []string{e.CIDR})
		if len(to) == 0 {
			continue
		}
		var ports []networkingv1.NetworkPolicyPort
		for _, pt := range e.Ports {
			ports = append(ports, port(corev1.ProtocolTCP, pt))
		}
		p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: to, Ports: ports})
	}
	return p
}

func jobsPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *networkingv1.NetworkPolicy {
	p := networkPolicy(inst, prof, opts, NamesFor(inst).PolicyJobs, SelectorLabels(inst, RoleJob), networkingv1.PolicyTypeEgress)
	p.Spec.Egress = append([]networkingv1.NetworkPolicyEgressRule{toOwnDatabase(inst)}, toVault(opts)...)
	return p
}

func databasePolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *networkingv1.NetworkPolicy {
	p := networkPolicy(inst, prof, opts, NamesFor(inst).PolicyDatabase, databasePodSelector(inst),
		networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)
	replication := []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, PostgresPort), port(corev1.ProtocolTCP, InstanceManagerPort)}

	p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{
			podPeer(SelectorLabels(inst, RoleApp)),
			podPeer(SelectorLabels(inst, RoleJob)),
		},
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, PostgresPort)},
	}}
	if opts.CloudNativePGOperator.set() {
		p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{namespacePeer(opts.CloudNativePGOperator)},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, InstanceManagerPort)},
		})
	}
	p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
		From:  []networkingv1.NetworkPolicyPeer{podPeer(databasePodSelector(inst))},
		Ports: replication,
	})

	p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To:    []networkingv1.NetworkPolicyPeer{podPeer(databasePodSelector(inst))},
		Ports: replication,
	}}
	if len(opts.APIServer.CIDRs) > 0 {
		p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To:    cidrPeers(opts.APIServer.CIDRs),
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, opts.APIServer.Port)},
		})
	}
	return p
}

func toOwnDatabase(inst *v1alpha1.HelpdeskInstance) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{
		To:    []networkingv1.NetworkPolicyPeer{podPeer(databasePodSelector(inst))},
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, PostgresPort)},
	}
}

func toVault(opts Options) []networkingv1.NetworkPolicyEgressRule {
	var to []networkingv1.NetworkPolicyPeer
	if opts.Vault.Peer.set() {
		to = append(to, namespacePeer(opts.Vault.Peer))
	}
	to = append(to, cidrPeers(opts.Vault.CIDRs)...)
	if len(to) == 0 {
		return nil
	}
	return []networkingv1.NetworkPolicyEgressRule{{
		To:    to,
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, opts.Vault.Port)},
	}}
}

// podPeer selects pods of the policy's own namespace; callers pass selectors that carry
// the instance label.
func podPeer(selector map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: copyMap(selector)}}
}

func namespacePeer(s PeerSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: s.NamespaceSelector.DeepCopy(),
		PodSelector:       s.PodSelector.DeepCopy(),
	}
}

func cidrPeers(cidrs []string) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, c := range cidrs {
		out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	return out
}

func port(proto corev1.Protocol, p int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(proto), Port: ptr.To(intstr.FromInt32(p))}
}
