package resources

import (
	"reflect"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func TestTenantEgressBounds(t *testing.T) {
	bounds := EgressBounds{Denied: []string{"169.254.0.0/16", "fe80::/10", "10.96.0.0/12", "10.0.0.1/32"}}
	tests := []struct {
		cidr       string
		bounds     EgressBounds
		wantExcept []string
		refused    string
	}{
		{cidr: "0.0.0.0/0", bounds: bounds, wantExcept: []string{"169.254.0.0/16", "10.96.0.0/12", "10.0.0.1/32"}},
		{cidr: "10.0.0.0/8", bounds: bounds, wantExcept: []string{"10.96.0.0/12", "10.0.0.1/32"}},
		{cidr: "198.51.100.0/24", bounds: bounds},
		{cidr: "::/0", bounds: bounds, wantExcept: []string{"fe80::/10"}},
		{cidr: "169.254.169.254/32", bounds: bounds, refused: "lies in 169.254.0.0/16"},
		{cidr: "169.254.0.0/16", bounds: bounds, refused: "lies in 169.254.0.0/16"},
		{cidr: "10.96.0.10/32", bounds: bounds, refused: "lies in 10.96.0.0/12"},
		{cidr: "10.0.0.1/32", bounds: bounds, refused: "lies in 10.0.0.1/32"},
		// Host bits are masked before the comparison, so they cannot smuggle a range past it.
		{cidr: "169.254.169.254/16", bounds: bounds, refused: "lies in 169.254.0.0/16"},
		{cidr: "198.51.100.7/32", bounds: EgressBounds{Allowed: []string{"198.51.100.0/24"}}},
		{cidr: "0.0.0.0/0", bounds: EgressBounds{Allowed: []string{"198.51.100.0/24"}}, refused: "outside the ranges"},
		{cidr: "203.0.113.0/24", bounds: EgressBounds{Allowed: []string{"198.51.100.0/24"}}, refused: "outside the ranges"},
	}
	for _, tt := range tests {
		peer, err := tt.bounds.peer(tt.cidr)
		if tt.refused != "" {
			if err == nil || !strings.Contains(err.Error(), tt.refused) {
				t.Errorf("%s: %v, want refused (%s)", tt.cidr, err, tt.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.cidr, err)
			continue
		}
		if !reflect.DeepEqual(peer.IPBlock.Except, tt.wantExcept) {
			t.Errorf("%s: except %v, want %v", tt.cidr, peer.IPBlock.Except, tt.wantExcept)
		}
	}
}

// TestRefusedEgressNeverOpens: a refused CIDR is left out of the app's policy, the others
// stay, and the problems name the field.
func TestRefusedEgressNeverOpens(t *testing.T) {
	prof := helpyProfile(t)
	opts := testOptions()
	opts.TenantEgress = EgressBounds{Denied: DefaultDeniedEgress}
	inst := minimalInstance()
	inst.Spec.Network.SMTP = &v1alpha1.SMTPEgress{CIDR: "169.254.169.254/32", Port: 80}
	inst.Spec.Network.AdditionalEgress = []v1alpha1.EgressRule{
		{CIDR: "0.0.0.0/0", Ports: []int32{443}},
		{CIDR: "169.254.0.0/16", Ports: []int32{80}},
	}
	var policy *networkingv1.NetworkPolicy
	for _, p := range NetworkPolicies(inst, prof, opts, AccessPlan{}) {
		if p.Name == NamesFor(inst).PolicyApp {
			policy = p
		}
	}
	var blocks []string
	for _, rule := range policy.Spec.Egress {
		for _, to := range rule.To {
			if to.IPBlock != nil {
				blocks = append(blocks, to.IPBlock.CIDR+" except "+strings.Join(to.IPBlock.Except, ","))
			}
		}
	}
	if !reflect.DeepEqual(blocks, []string{"0.0.0.0/0 except 169.254.0.0/16"}) {
		t.Errorf("app egress ipBlocks %v, want only 0.0.0.0/0 with link-local cut out", blocks)
	}
	problems := EgressProblems(inst, opts)
	if len(problems) != 2 || !strings.HasPrefix(problems[0], "spec.network.smtp.cidr") || !strings.HasPrefix(problems[1], "spec.network.additionalEgress[1].cidr") {
		t.Errorf("problems %q", problems)
	}
}

func TestHostnameProblem(t *testing.T) {
	opts := testOptions()
	inst := minimalInstance()
	if p := HostnameProblem(inst, opts); p != "" {
		t.Errorf("no suffixes configured: %q", p)
	}
	opts.AllowedHostnameSuffixes = []string{".tenants.example.com"}
	for host, ok := range map[string]bool{
		"desk.tenants.example.com": true, "a.b.tenants.example.com": true,
		"tenants.example.com": false, "evil-tenants.example.com": false, "desk.tenants.example.com.evil.net": false, "admin.example.com": false,
	} {
		inst.Spec.Hostname = host
		if got := HostnameProblem(inst, opts) == ""; got != ok {
			t.Errorf("hostname %s allowed = %t, want %t", host, got, ok)
		}
	}
}
