package resources

import (
	"testing"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func TestLabels(t *testing.T) {
	inst := minimalInstance()
	prof := helpyProfile(t)
	opts := testOptions()
	l := Labels(inst, prof, opts, ComponentApp)
	want := map[string]string{
		LabelName:             "helpy",
		LabelInstance:         "support",
		LabelComponent:        ComponentApp,
		LabelManagedBy:        "helpdesk-operator",
		LabelPartOf:           PartOf,
		LabelHelpdeskInstance: "support",
	}
	if len(l) != len(want) {
		t.Errorf("labels = %v, want %v", l, want)
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}
}

func TestSelectorLabelsAreStableSubsetOfPodLabels(t *testing.T) {
	inst := minimalInstance()
	prof := helpyProfile(t)
	opts := testOptions()
	for _, role := range []string{RoleApp, RoleDatabase, RoleJob} {
		sel := SelectorLabels(inst, role)
		pod := PodLabels(inst, prof, opts, ComponentApp, role)
		for k, v := range sel {
			if pod[k] != v {
				t.Errorf("role %s: selector label %s=%s missing from pod labels %v", role, k, v, pod)
			}
		}
		// Deployment selectors are immutable: nothing the operator's flags or the
		// profile decide may be part of them.
		other := opts
		other.ManagedBy = "someone-else"
		otherProf := prof
		otherProf.Name = "zammad"
		changed := PodLabels(inst, otherProf, other, ComponentApp, role)
		for k, v := range sel {
			if changed[k] != v {
				t.Errorf("role %s: selector label %s depends on options or profile", role, k)
			}
		}
	}
}

func TestDeploymentSelectorMatchesPodTemplate(t *testing.T) {
	prof := helpyProfile(t)
	for _, inst := range []*v1alpha1.HelpdeskInstance{minimalInstance(), haInstance(), vaultAgentInstance()} {
		d := Deployment(inst, prof, testOptions(), "h")
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod template", inst.Name, k, v)
			}
		}
		svc := Service(inst, prof, testOptions())
		for k, v := range svc.Spec.Selector {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: Service selector %s=%s does not match the app pods", inst.Name, k, v)
			}
		}
	}
}
