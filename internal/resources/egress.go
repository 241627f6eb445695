package resources

import (
	"fmt"
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// EgressBounds limit the egress tenants may ask for in a spec (SMTP relay, additional
// egress, S3 egress CIDRs). A pod-level NetworkPolicy is the only wall between a tenant's
// pods and the cloud's metadata service, the API server or other tenants' NodePorts, so a
// tenant's 0.0.0.0/0 must not open them.
type EgressBounds struct {
	// Allowed, when set, are the only ranges a tenant CIDR may fall in.
	Allowed []string
	// Denied ranges are cut out of every tenant rule (ipBlock.except); a tenant CIDR that
	// lies inside one is refused. By default link-local (cloud metadata); the operator adds
	// the API server and the cluster's own ranges (--cluster-cidrs).
	Denied []string
}

// DefaultDeniedEgress keeps tenants off link-local addresses: cloud metadata services
// (169.254.169.254) hand out node credentials.
var DefaultDeniedEgress = []string{"169.254.0.0/16", "fe80::/10"}

// peer is the ipBlock for a tenant CIDR, with every denied range inside it excepted, or an
// error saying why the CIDR is refused.
func (b EgressBounds) peer(cidr string) (networkingv1.NetworkPolicyPeer, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return networkingv1.NetworkPolicyPeer{}, fmt.Errorf("%q is not a CIDR", cidr)
	}
	p = p.Masked()
	if len(b.Allowed) > 0 && !anyContains(b.Allowed, p) {
		return networkingv1.NetworkPolicyPeer{}, fmt.Errorf("%s is outside the ranges the operator allows tenants (%v)", cidr, b.Allowed)
	}
	block := &networkingv1.IPBlock{CIDR: p.String()}
	for _, d := range b.Denied {
		denied, err := netip.ParsePrefix(d)
		if err != nil || denied.Addr().Is4() != p.Addr().Is4() {
			continue
		}
		denied = denied.Masked()
		switch {
		case denied.Bits() <= p.Bits() && denied.Contains(p.Addr()):
			return networkingv1.NetworkPolicyPeer{}, fmt.Errorf("%s lies in %s, which the operator keeps tenants away from (link-local or the cluster's own addresses)", cidr, denied)
		case p.Bits() < denied.Bits() && p.Contains(denied.Addr()):
			block.Except = append(block.Except, denied.String())
		}
	}
	return networkingv1.NetworkPolicyPeer{IPBlock: block}, nil
}

func anyContains(ranges []string, p netip.Prefix) bool {
	for _, r := range ranges {
		outer, err := netip.ParsePrefix(r)
		if err == nil && outer.Addr().Is4() == p.Addr().Is4() && outer.Bits() <= p.Bits() && outer.Masked().Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// tenantPeers are the peers of the CIDRs that pass the bounds; the others are left out
// (what is refused never opens a door) and described by EgressProblems.
func tenantPeers(b EgressBounds, cidrs []string) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, c := range cidrs {
		if peer, err := b.peer(c); err == nil {
			out = append(out, peer)
		}
	}
	return out
}

// EgressProblems describes the instance's egress CIDRs the bounds refuse.
func EgressProblems(inst *v1alpha1.HelpdeskInstance, opts Options) []string {
	var out []string
	if smtp := inst.Spec.Network.SMTP; smtp != nil {
		if _, err := opts.TenantEgress.peer(smtp.CIDR); err != nil {
			out = append(out, "spec.network.smtp.cidr: "+err.Error())
		}
	}
	for i, e := range inst.Spec.Network.AdditionalEgress {
		if _, err := opts.TenantEgress.peer(e.CIDR); err != nil {
			out = append(out, fmt.Sprintf("spec.network.additionalEgress[%d].cidr: %s", i, err))
		}
	}
	return out
}

// BackupEgressProblems describes the policy's S3 egress CIDRs the bounds refuse.
func BackupEgressProblems(policy *v1alpha1.BackupPolicy, opts Options) []string {
	var out []string
	for i, c := range BackupEgressCIDRs(policy.Spec.Destination.S3) {
		if _, err := opts.TenantEgress.peer(c); err != nil {
			out = append(out, fmt.Sprintf("spec.destination.s3.egressCIDRs[%d]: %s", i, err))
		}
	}
	return out
}

// HostnameProblem says why the instance may not use its hostname under the operator's
// allowed suffixes, or "" when it may.
func HostnameProblem(inst *v1alpha1.HelpdeskInstance, opts Options) string {
	if len(opts.AllowedHostnameSuffixes) == 0 {
		return ""
	}
	for _, suffix := range opts.AllowedHostnameSuffixes {
		if len(inst.Spec.Hostname) > len(suffix) && strings.HasSuffix(inst.Spec.Hostname, suffix) {
			return ""
		}
	}
	return fmt.Sprintf("spec.hostname %q must end in one of %v, the domains the operator serves tenants on", inst.Spec.Hostname, opts.AllowedHostnameSuffixes)
}
