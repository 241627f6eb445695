package resources

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func instanceNamed(name string) *v1alpha1.HelpdeskInstance {
	inst := minimalInstance()
	inst.Name = name
	return inst
}

func allNames(n Names) map[string]string {
	return map[string]string{
		"DatabaseCluster":   n.DatabaseCluster,
		"App":               n.App,
		"Attachments":       n.Attachments,
		"AppSecret":         n.AppSecret,
		"PolicyDefaultDeny": n.PolicyDefaultDeny,
		"PolicyDNS":         n.PolicyDNS,
		"PolicyApp":         n.PolicyApp,
		"PolicyDatabase":    n.PolicyDatabase,
		"PolicyJobs":        n.PolicyJobs,
		"MigrationJob":      n.MigrationJob("registry.example.com/helpy:2.8.0"),
	}
}

func TestNamesPlain(t *testing.T) {
	n := NamesFor(instanceNamed("support"))
	want := map[string]string{
		"DatabaseCluster":   "support-db",
		"App":               "support-app",
		"Attachments":       "support-attachments",
		"AppSecret":         "support-secrets",
		"PolicyDefaultDeny": "support-default-deny",
		"PolicyDNS":         "support-dns",
		"PolicyApp":         "support-app",
		"PolicyDatabase":    "support-db",
		"PolicyJobs":        "support-jobs",
		// Pinned: a different hash would re-run every instance's migration.
		"MigrationJob": "support-migrate-bc44a705",
	}
	for k, got := range allNames(n) {
		if got != want[k] {
			t.Errorf("%s = %q, want %q", k, got, want[k])
		}
	}
	if n.DatabaseAppSecret != "support-db-app" {
		t.Errorf("DatabaseAppSecret = %q, want CloudNativePG's <cluster>-app", n.DatabaseAppSecret)
	}
	if n.InstanceLabel != "support" {
		t.Errorf("InstanceLabel = %q", n.InstanceLabel)
	}
}

func TestNamesFitKubernetesLimits(t *testing.T) {
	cases := map[string]string{
		"short":            "a",
		"dotted":           "support.tenant-a",
		"leading digit":    "1st-line",
		"exactly 63":       strings.Repeat("a", 63),
		"cluster boundary": strings.Repeat("b", 47), // 47 + "-db" = 50
		"cluster over":     strings.Repeat("b", 48),
		"long":             strings.Repeat("c", 120),
		"max subdomain":    strings.Repeat("d", 61) + "." + strings.Repeat("e", 61) + "." + strings.Repeat("f", 61) + "." + strings.Repeat("g", 61) + ".hh",
		"dashes at cut":    strings.Repeat("x", 40) + strings.Repeat("-y", 30),
	}
	for desc, name := range cases {
		t.Run(desc, func(t *testing.T) {
			n := NamesFor(instanceNamed(name))
			for k, v := range allNames(n) {
				if errs := validation.IsDNS1035Label(v); len(errs) > 0 {
					t.Errorf("%s %q: %v", k, v, errs)
				}
			}
			if len(n.DatabaseCluster) > maxClusterName {
				t.Errorf("DatabaseCluster %q is %d characters, CloudNativePG allows %d", n.DatabaseCluster, len(n.DatabaseCluster), maxClusterName)
			}
			if errs := validation.IsValidLabelValue(n.InstanceLabel); len(errs) > 0 {
				t.Errorf("InstanceLabel %q: %v", n.InstanceLabel, errs)
			}
			if len(name) <= 63 && n.InstanceLabel != name {
				t.Errorf("InstanceLabel %q should be the name itself when it fits", n.InstanceLabel)
			}
		})
	}
}

func TestNamesStableAndDistinct(t *testing.T) {
	long := strings.Repeat("team-", 20)
	a, b := NamesFor(instanceNamed(long+"a")), NamesFor(instanceNamed(long+"b"))
	if a != NamesFor(instanceNamed(long+"a")) {
		t.Error("names of the same instance differ between calls")
	}
	for k, v := range allNames(a) {
		if v == allNames(b)[k] {
			t.Errorf("%s: two instances sharing a long prefix got the same name %q", k, v)
		}
	}
	if a.InstanceLabel == b.InstanceLabel {
		t.Errorf("two long instance names got the same label value %q", a.InstanceLabel)
	}
	// A dotted name and its dashed twin could otherwise collide.
	dotted, dashed := NamesFor(instanceNamed("a.b")), NamesFor(instanceNamed("a-b"))
	if dotted.App == dashed.App {
		t.Errorf("a.b and a-b share the app name %q", dotted.App)
	}
	// Pinned so that a change of the hash function, which would rename every child of
	// every running instance, fails here first.
	if got, want := NamesFor(instanceNamed(strings.Repeat("c", 120))).App, strings.Repeat("c", 50)+"-7ef3263e-app"; got != want {
		t.Errorf("long App name = %q, want %q", got, want)
	}
}

func TestMigrationJobNamePerImage(t *testing.T) {
	n := NamesFor(instanceNamed("support"))
	a, b := n.MigrationJob("helpy:1"), n.MigrationJob("helpy:2")
	if a == b {
		t.Errorf("two images share the migration Job %q", a)
	}
	if a != n.MigrationJob("helpy:1") {
		t.Error("the migration Job name of one image changes between calls")
	}
}
