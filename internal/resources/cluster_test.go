package resources

import (
	"testing"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	"k8s.io/utils/ptr"
)

func TestClusterAntiAffinity(t *testing.T) {
	prof := helpyProfile(t)
	for _, c := range []struct {
		instances int32
		want      string
	}{{0, cnpgv1.PodAntiAffinityTypePreferred}, {1, cnpgv1.PodAntiAffinityTypePreferred}, {2, cnpgv1.PodAntiAffinityTypeRequired}, {3, cnpgv1.PodAntiAffinityTypeRequired}} {
		inst := minimalInstance()
		inst.Spec.Database.Instances = c.instances
		cl := Cluster(inst, prof, testOptions())
		if cl.Spec.Affinity.PodAntiAffinityType != c.want || cl.Spec.Affinity.TopologyKey != "kubernetes.io/hostname" ||
			!ptr.Deref(cl.Spec.Affinity.EnablePodAntiAffinity, false) {
			t.Errorf("instances %d: affinity %+v, want %s across hostnames", c.instances, cl.Spec.Affinity, c.want)
		}
		if got := ptr.Deref(cl.Spec.EnablePDB, true); got != (c.instances > 1) {
			t.Errorf("instances %d: enablePDB %v", c.instances, got)
		}
		if c.instances > 0 && cl.Spec.Instances != int(c.instances) {
			t.Errorf("instances %d: got %d", c.instances, cl.Spec.Instances)
		}
	}
}

func TestClusterDatabaseAndLabels(t *testing.T) {
	prof := helpyProfile(t)
	inst := haInstance()
	cl := Cluster(inst, prof, testOptions())
	if cl.Spec.Bootstrap == nil || cl.Spec.Bootstrap.InitDB == nil ||
		cl.Spec.Bootstrap.InitDB.Database != "helpy" || cl.Spec.Bootstrap.InitDB.Owner != "helpy" || cl.Spec.Bootstrap.InitDB.Secret != nil {
		t.Errorf("initdb %+v: want database and owner helpy with generated credentials", cl.Spec.Bootstrap)
	}
	inh := cl.Spec.InheritedMetadata
	if inh == nil || inh.Labels[LabelHelpdeskInstance] != "helpdesk" || inh.Labels[LabelHelpdeskRole] != RoleDatabase {
		t.Errorf("inherited labels %+v", inh)
	}
	for k := range inh.Labels {
		if k == LabelInstance || k == LabelName || k == LabelComponent || k == LabelManagedBy {
			t.Errorf("inherited label %s would fight CloudNativePG's own value", k)
		}
	}
	if cl.Spec.StorageConfiguration.Size != "50Gi" || ptr.Deref(cl.Spec.StorageConfiguration.StorageClass, "") != "fast-ssd" {
		t.Errorf("storage %+v", cl.Spec.StorageConfiguration)
	}
	if ptr.Deref(cl.Spec.EnableSuperuserAccess, true) {
		t.Error("superuser access must stay off")
	}
}

func TestPostgresImage(t *testing.T) {
	opts := testOptions()
	inst := minimalInstance()
	if got := PostgresImage(inst, opts); got != "ghcr.io/cloudnative-pg/postgresql:16" {
		t.Errorf("default image %q", got)
	}
	inst.Spec.Database.PostgresVersion = 17
	opts.PostgresImages = map[int32]string{17: "ghcr.io/cloudnative-pg/postgresql:17.6@sha256:abc"}
	if got := PostgresImage(inst, opts); got != "ghcr.io/cloudnative-pg/postgresql:17.6@sha256:abc" {
		t.Errorf("pinned image %q", got)
	}
	inst.Spec.Database.PostgresVersion = 0
	if got := PostgresImage(inst, opts); got != "ghcr.io/cloudnative-pg/postgresql:16" {
		t.Errorf("undefaulted version image %q", got)
	}
}
