package resources

import (
	"testing"

	"k8s.io/utils/ptr"
)

func TestPodDisruptionBudgetOnlyForSeveralReplicas(t *testing.T) {
	prof := helpyProfile(t)
	cases := []struct {
		replicas *int32
		want     bool
	}{
		{nil, false}, {ptr.To[int32](0), false}, {ptr.To[int32](1), false},
		{ptr.To[int32](2), true}, {ptr.To[int32](3), true}, {ptr.To[int32](20), true},
	}
	for _, c := range cases {
		inst := minimalInstance()
		inst.Spec.App.Replicas = c.replicas
		pdb := PodDisruptionBudget(inst, prof, testOptions())
		if (pdb != nil) != c.want {
			t.Errorf("replicas %v: PDB present = %v, want %v", ptr.Deref(c.replicas, -1), pdb != nil, c.want)
			continue
		}
		if pdb != nil {
			if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
				t.Errorf("replicas %d: maxUnavailable = %v, want 1", *c.replicas, pdb.Spec.MaxUnavailable)
			}
			if pdb.Spec.MinAvailable != nil {
				t.Error("minAvailable must stay unset next to maxUnavailable")
			}
		}
	}
}
