package controllers

import (
	"flag"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

func TestAccessFlags(t *testing.T) {
	parse := func(args ...string) (resources.Options, error) {
		var a accessFlags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		a.bind(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		o := resources.DefaultOptions()
		err := a.complete(&o)
		if err == nil {
			err = o.Exposure.Validate()
		}
		return o, err
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
		edgeNS  string
		edgePod string
	}{
		// Today's default: Ingresses for ingress-nginx, its controller pods only.
		{args: nil, edgeNS: "ingress-nginx", edgePod: "ingress-nginx"},
		{args: []string{"--ingress-controller=traefik"}, edgeNS: "traefik", edgePod: "traefik"},
		{args: []string{"--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=envoy-gateway"}, edgeNS: "envoy-gateway-system"},
		{args: []string{"--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=traefik", "--ingress-namespace-selector=team=edge", "--ingress-pod-selector=app=proxy"}, edgeNS: "", edgePod: ""},
		{args: []string{"--exposure=gateway", "--gateway-implementation=envoy-gateway"}, wantErr: "--gateway"},
		{args: []string{"--exposure=gateway", "--gateway=edge/public"}, wantErr: "--gateway-implementation is required"},
		{args: []string{"--exposure=ingress", "--ingress-controller=other"}, wantErr: "--ingress-namespace-selector is required"},
		{args: []string{"--exposure=ingress", "--ingress-controller=haproxy"}, wantErr: `ingress controller "haproxy"`},
		{args: []string{"--exposure=mesh"}, wantErr: `exposure "mesh"`},
		{args: []string{"--exposure=gateway", "--gateway=edge/Public!", "--gateway-implementation=traefik"}, wantErr: "gateway"},
		{args: []string{"--gate-egress-cidrs=login.example.com"}, wantErr: ""},
	} {
		o, err := parse(tc.args...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if tc.edgeNS != "" && o.IngressController.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != tc.edgeNS {
			t.Errorf("%v: edge namespaces %v", tc.args, o.IngressController.NamespaceSelector)
		}
		if tc.edgePod != "" && o.IngressController.PodSelector.MatchLabels["app.kubernetes.io/name"] != tc.edgePod {
			t.Errorf("%v: edge pods %v", tc.args, o.IngressController.PodSelector)
		}
	}
	// A gate egress CIDR that is no CIDR is refused by the options' validation.
	o, _ := parse("--gate-egress-cidrs=login.example.com")
	o.OperatorImage, o.APIServer.CIDRs, o.Vault.CIDRs = "img", []string{"10.0.0.1/32"}, []string{"10.0.0.2/32"}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "gate egress") {
		t.Errorf("a host name as gate egress: %v", err)
	}
}
