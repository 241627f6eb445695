package resources

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func TestIngressTLSAndIssuer(t *testing.T) {
	prof := helpyProfile(t)
	cases := []struct {
		desc        string
		tls         *v1alpha1.TLSSpec
		certManager bool
		wantKey     string
	}{
		{"plain HTTP", nil, true, ""},
		{"own certificate", &v1alpha1.TLSSpec{SecretName: "c"}, true, ""},
		{"cluster issuer", &v1alpha1.TLSSpec{SecretName: "c", Issuer: &v1alpha1.CertManagerIssuerReference{Name: "le", Kind: "ClusterIssuer"}}, true, AnnotationCertManagerClusterIssuer},
		{"issuer kind defaulted", &v1alpha1.TLSSpec{SecretName: "c", Issuer: &v1alpha1.CertManagerIssuerReference{Name: "le"}}, true, AnnotationCertManagerClusterIssuer},
		{"namespaced issuer", &v1alpha1.TLSSpec{SecretName: "c", Issuer: &v1alpha1.CertManagerIssuerReference{Name: "le", Kind: "Issuer"}}, true, AnnotationCertManagerIssuer},
		{"cert-manager disabled", &v1alpha1.TLSSpec{SecretName: "c", Issuer: &v1alpha1.CertManagerIssuerReference{Name: "le", Kind: "Issuer"}}, false, ""},
	}
	for _, c := range cases {
		inst := minimalInstance()
		inst.Spec.TLS = c.tls
		opts := testOptions()
		opts.CertManager = c.certManager
		built := Exposure(inst, prof, opts, PlanAccess(inst, nil, prof, opts))
		if len(built) != 2 {
			t.Fatalf("%s: want the portal and the agent Ingress, got %d objects", c.desc, len(built))
		}
		ing, agent := built[0].(*networkingv1.Ingress), built[1].(*networkingv1.Ingress)
		for _, k := range []string{AnnotationCertManagerClusterIssuer, AnnotationCertManagerIssuer} {
			if _, has := agent.Annotations[k]; has {
				t.Errorf("%s: the agent Ingress asks cert-manager too (two Certificates for one Secret)", c.desc)
			}
		}
		if (c.tls == nil) != (len(agent.Spec.TLS) == 0) {
			t.Errorf("%s: agent TLS %+v", c.desc, agent.Spec.TLS)
		}
		for _, k := range []string{AnnotationCertManagerClusterIssuer, AnnotationCertManagerIssuer} {
			_, has := ing.Annotations[k]
			if has != (k == c.wantKey) {
				t.Errorf("%s: annotation %s present = %v", c.desc, k, has)
			}
		}
		if c.wantKey != "" && ing.Annotations[c.wantKey] != "le" {
			t.Errorf("%s: issuer name %q", c.desc, ing.Annotations[c.wantKey])
		}
		if (c.tls == nil) != (len(ing.Spec.TLS) == 0) {
			t.Errorf("%s: TLS %+v", c.desc, ing.Spec.TLS)
		}
		if c.tls != nil && (ing.Spec.TLS[0].SecretName != "c" || ing.Spec.TLS[0].Hosts[0] != inst.Spec.Hostname) {
			t.Errorf("%s: TLS %+v", c.desc, ing.Spec.TLS)
		}
		if ing.Spec.Rules[0].Host != inst.Spec.Hostname || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != NamesFor(inst).App {
			t.Errorf("%s: rule %+v", c.desc, ing.Spec.Rules)
		}
	}
}

func TestSiteURLFollowsTLS(t *testing.T) {
	inst := minimalInstance()
	if got := SiteURL(inst); got != "http://support.tenant-a.example.com" {
		t.Errorf("without TLS: %q", got)
	}
	inst.Spec.TLS = &v1alpha1.TLSSpec{SecretName: "c"}
	if got := SiteURL(inst); got != "https://support.tenant-a.example.com" {
		t.Errorf("with TLS: %q", got)
	}
}
