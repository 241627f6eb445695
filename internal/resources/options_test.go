package resources

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOptionsValidate(t *testing.T) {
	if err := testOptions().Validate(); err != nil {
		t.Fatalf("complete options: %v", err)
	}
	cases := map[string]struct {
		mutate func(*Options)
		want   string
	}{
		"no API server": {func(o *Options) { o.APIServer.CIDRs = nil }, "API server"},
		"bad CIDR":      {func(o *Options) { o.APIServer.CIDRs = []string{"10.0.0.1"} }, "not a CIDR"},
		"empty ingress namespace selector": {func(o *Options) {
			o.IngressController.NamespaceSelector = &metav1.LabelSelector{}
		}, "every namespace"},
		"no ingress selector":      {func(o *Options) { o.IngressController = PeerSelector{} }, "ingress controller"},
		"empty CNPG pod selector":  {func(o *Options) { o.CloudNativePGOperator.PodSelector = &metav1.LabelSelector{} }, "pod selector is empty"},
		"vault nowhere":            {func(o *Options) { o.Vault.Peer = PeerSelector{}; o.Vault.CIDRs = nil }, "Vault"},
		"vault port":               {func(o *Options) { o.Vault.Port = 0 }, "port 0"},
		"pod selector without ns":  {func(o *Options) { o.DNS.NamespaceSelector = nil }, "needs a namespace selector"},
		"access mode":              {func(o *Options) { o.AttachmentsAccessMode = "ReadOnlyMany" }, "access mode"},
		"managed-by":               {func(o *Options) { o.ManagedBy = "" }, "managed-by"},
		"no operator image":        {func(o *Options) { o.OperatorImage = "" }, "--operator-image"},
		"negative migration limit": {func(o *Options) { o.MigrationBackoffLimit = -1 }, "backoff"},
		"invalid selector operator": {func(o *Options) {
			o.DNS.PodSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}
		}, "DNS"},
	}
	for desc, c := range cases {
		o := testOptions()
		c.mutate(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", desc, err, c.want)
		}
	}
	// An external Vault by address alone is fine.
	o := testOptions()
	o.Vault.Peer = PeerSelector{}
	o.Vault.CIDRs = []string{"203.0.113.10/32"}
	if err := o.Validate(); err != nil {
		t.Errorf("external Vault: %v", err)
	}
}
