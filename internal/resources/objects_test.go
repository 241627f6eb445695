package resources

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// Every child must be complete for server-side apply and owned by its instance.
func TestEveryObjectIsCompleteAndOwned(t *testing.T) {
	for _, inst := range []*v1alpha1.HelpdeskInstance{minimalInstance(), haInstance(), vaultAgentInstance()} {
		for _, obj := range buildAll(t, inst, testOptions()) {
			gvk := obj.GetObjectKind().GroupVersionKind()
			m, err := meta.Accessor(obj)
			if err != nil {
				t.Fatal(err)
			}
			where := inst.Name + "/" + gvk.Kind + "/" + m.GetName()
			if gvk.Version == "" || gvk.Kind == "" {
				t.Errorf("%s: TypeMeta is not set", where)
			}
			if m.GetNamespace() != inst.Namespace {
				t.Errorf("%s: namespace %q, want %q", where, m.GetNamespace(), inst.Namespace)
			}
			if len(m.GetName()) > maxName {
				t.Errorf("%s: name longer than %d", where, maxName)
			}
			if m.GetLabels()[LabelHelpdeskInstance] != NamesFor(inst).InstanceLabel {
				t.Errorf("%s: missing the instance label", where)
			}
			refs := m.GetOwnerReferences()
			if len(refs) != 1 || refs[0].UID != inst.UID || refs[0].Name != inst.Name || refs[0].Kind != "HelpdeskInstance" ||
				refs[0].APIVersion != v1alpha1.GroupVersion.String() ||
				refs[0].Controller == nil || !*refs[0].Controller || refs[0].BlockOwnerDeletion == nil || !*refs[0].BlockOwnerDeletion {
				t.Errorf("%s: owner references %+v", where, refs)
			}
		}
	}
}

func TestBuildersArePure(t *testing.T) {
	for _, mk := range []func() *v1alpha1.HelpdeskInstance{minimalInstance, haInstance, vaultAgentInstance} {
		inst := mk()
		before := inst.DeepCopy()
		a := dump(t, buildAll(t, inst, testOptions()))
		b := dump(t, buildAll(t, inst, testOptions()))
		if a != b {
			t.Errorf("%s: two builds differ", inst.Name)
		}
		if dump(t, []runtime.Object{inst}) != dump(t, []runtime.Object{before}) {
			t.Errorf("%s: a builder modified the instance", inst.Name)
		}
	}
}

// Secret values may only appear in the app Secret's data.
func TestNoSecretValueOutsideTheAppSecret(t *testing.T) {
	for _, inst := range []*v1alpha1.HelpdeskInstance{minimalInstance(), vaultAgentInstance()} {
		for _, obj := range buildAll(t, inst, testOptions()) {
			if obj.GetObjectKind().GroupVersionKind().Kind == "Secret" {
				continue
			}
			text := dump(t, []runtime.Object{obj})
			for k, v := range testSecrets() {
				if strings.Contains(text, string(v)) {
					t.Errorf("%s: %s carries the value of %s", inst.Name, obj.GetObjectKind().GroupVersionKind().Kind, k)
				}
			}
		}
	}
}

func dump(t *testing.T, objs []runtime.Object) string {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		out, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(out)
	}
	return b.String()
}
