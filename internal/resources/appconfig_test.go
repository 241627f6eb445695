package resources

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// profileWithFiles is the Helpy profile with two small files instead of its own.
func profileWithFiles(t *testing.T) appprofile.Profile {
	p := helpyProfile(t)
	p.ConfigFiles = []appprofile.ConfigFile{
		{Key: "a.rb", Path: "/helpy/config/initializers/a.rb", Content: "puts 1\n"},
		{Key: "b.yml", Path: "/helpy/config/b.yml", Content: "b: 2\n"},
	}
	return p
}

func TestAppConfigMap(t *testing.T) {
	noFiles := helpyProfile(t)
	noFiles.ConfigFiles = nil
	cases := []struct {
		desc     string
		inst     *v1alpha1.HelpdeskInstance
		prof     appprofile.Profile
		wantName string
		wantKeys []string
	}{
		{"helpy", minimalInstance(), helpyProfile(t), "support-app-config", []string{"helpdesk_private_uploads.rb"}},
		{"two files", haInstance(), profileWithFiles(t), "helpdesk-app-config", []string{"a.rb", "b.yml"}},
		{"vault agent", vaultAgentInstance(), helpyProfile(t), "desk-app-config", []string{"helpdesk_private_uploads.rb"}},
		{"no files", minimalInstance(), noFiles, "", nil},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			cm := AppConfigMap(c.inst, c.prof, testOptions())
			if c.wantName == "" {
				if cm != nil {
					t.Fatalf("a profile without files must have no ConfigMap, got %s", cm.Name)
				}
				return
			}
			if cm == nil {
				t.Fatal("no ConfigMap")
			}
			if cm.Name != c.wantName || cm.Name != AppConfigMapName(c.inst) || cm.Namespace != c.inst.Namespace {
				t.Errorf("ConfigMap %s/%s, want %s/%s", cm.Namespace, cm.Name, c.inst.Namespace, c.wantName)
			}
			if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" {
				t.Errorf("TypeMeta %+v", cm.TypeMeta)
			}
			if cm.Labels[LabelComponent] != ComponentApp || cm.Labels[LabelHelpdeskInstance] != NamesFor(c.inst).InstanceLabel || cm.Labels[LabelName] != c.prof.Name {
				t.Errorf("labels %v", cm.Labels)
			}
			refs := cm.OwnerReferences
			if len(refs) != 1 || refs[0].UID != c.inst.UID || !ptr.Deref(refs[0].Controller, false) {
				t.Errorf("owner references %+v", refs)
			}
			if len(cm.Data) != len(c.wantKeys) || len(cm.BinaryData) != 0 {
				t.Errorf("data keys %v, want %v", keysOf(cm.Data), c.wantKeys)
			}
			for _, f := range c.prof.ConfigFiles {
				if cm.Data[f.Key] != f.Content {
					t.Errorf("%s does not hold the profile's content", f.Key)
				}
			}
			// Code only: no secret value may end up in it.
			text := dump(t, []runtime.Object{cm})
			for k, v := range testSecrets() {
				if strings.Contains(text, string(v)) {
					t.Errorf("the ConfigMap carries the value of %s", k)
				}
			}
		})
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Hostile or long instance names still give a valid, distinct ConfigMap name.
func TestAppConfigMapName(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"support", "a.b", "a-b", "1desk", strings.Repeat("x", 63), strings.Repeat("x", 62) + "y"} {
		inst := minimalInstance()
		inst.Name = name
		got := AppConfigMapName(inst)
		if len(got) > maxName || !strings.HasSuffix(got, "-app-config") || strings.ContainsAny(got, ".") {
			t.Errorf("%q: name %q is not a DNS label ending in -app-config", name, got)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("%q and %q share the ConfigMap %s", name, other, got)
		}
		seen[got] = name
	}
}

func TestDeploymentMountsAppConfigFiles(t *testing.T) {
	for _, c := range []struct {
		desc string
		prof appprofile.Profile
	}{{"helpy", helpyProfile(t)}, {"two files", profileWithFiles(t)}} {
		t.Run(c.desc, func(t *testing.T) {
			inst := minimalInstance()
			pod := Deployment(inst, c.prof, testOptions(), "h").Spec.Template.Spec
			var vol *corev1.Volume
			names := map[string]bool{}
			for i := range pod.Volumes {
				if names[pod.Volumes[i].Name] {
					t.Errorf("volume %s appears twice", pod.Volumes[i].Name)
				}
				names[pod.Volumes[i].Name] = true
				if pod.Volumes[i].Name == appConfigVolume {
					vol = &pod.Volumes[i]
				}
			}
			if vol == nil || vol.ConfigMap == nil || vol.ConfigMap.Name != AppConfigMapName(inst) {
				t.Fatalf("no volume from ConfigMap %s: %+v", AppConfigMapName(inst), vol)
			}
			if ptr.Deref(vol.ConfigMap.Optional, false) || ptr.Deref(vol.ConfigMap.DefaultMode, 0) != 0o444 {
				t.Errorf("the volume must be required and read-only: %+v", vol.ConfigMap)
			}
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range pod.Containers[0].VolumeMounts {
				mounts[m.MountPath] = m
			}
			for _, f := range c.prof.ConfigFiles {
				m, ok := mounts[f.Path]
				if !ok || m.Name != appConfigVolume || m.SubPath != f.Key || !m.ReadOnly {
					t.Errorf("%s: mount %+v, want subPath %s of %s, read-only", f.Path, m, f.Key, appConfigVolume)
				}
			}
			for _, ic := range pod.InitContainers {
				for _, m := range ic.VolumeMounts {
					if m.Name == appConfigVolume {
						t.Errorf("init container %s mounts the app's config files", ic.Name)
					}
				}
			}
		})
	}
}

// The migration Job runs rake and rails runner: it needs no middleware.
func TestMigrationJobHasNoAppConfigFiles(t *testing.T) {
	job := MigrationJob(minimalInstance(), helpyProfile(t), testOptions())
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Name == appConfigVolume || (v.ConfigMap != nil && v.ConfigMap.Name == AppConfigMapName(minimalInstance())) {
			t.Errorf("the migration Job mounts %s", v.Name)
		}
	}
}

func TestAppConfigHash(t *testing.T) {
	base := profileWithFiles(t)
	h0 := withAppConfigHash("h", base)
	cases := []struct {
		desc       string
		configHash string
		mutate     func(*appprofile.Profile)
		change     bool
	}{
		{"nothing", "h", func(*appprofile.Profile) {}, false},
		{"files listed in another order", "h", func(p *appprofile.Profile) {
			p.ConfigFiles[0], p.ConfigFiles[1] = p.ConfigFiles[1], p.ConfigFiles[0]
		}, false},
		{"content changed", "h", func(p *appprofile.Profile) { p.ConfigFiles[0].Content = "puts 2\n" }, true},
		{"path changed", "h", func(p *appprofile.Profile) { p.ConfigFiles[1].Path = "/helpy/config/c.yml" }, true},
		{"key changed", "h", func(p *appprofile.Profile) { p.ConfigFiles[1].Key = "c.yml" }, true},
		{"file removed", "h", func(p *appprofile.Profile) { p.ConfigFiles = p.ConfigFiles[:1] }, true},
		{"boundary between path and content moved", "h", func(p *appprofile.Profile) {
			p.ConfigFiles[0].Path += "p"
			p.ConfigFiles[0].Content = strings.TrimPrefix(p.ConfigFiles[0].Content, "p")
		}, true},
		{"other config hash", "i", func(*appprofile.Profile) {}, true},
	}
	for _, c := range cases {
		p := base
		p.ConfigFiles = append([]appprofile.ConfigFile(nil), base.ConfigFiles...)
		c.mutate(&p)
		if got := withAppConfigHash(c.configHash, p) != h0; got != c.change {
			t.Errorf("%s: hash changed = %v, want %v", c.desc, got, c.change)
		}
	}
	noFiles := base
	noFiles.ConfigFiles = nil
	if got := withAppConfigHash("h", noFiles); got != "h" {
		t.Errorf("without files the config hash must stay as it is, got %q", got)
	}
	// What rolls the pods: the Deployment's annotation.
	annotation := func(p appprofile.Profile) string {
		return Deployment(minimalInstance(), p, testOptions(), "h").Spec.Template.Annotations[AnnotationConfigHash]
	}
	changed := base
	changed.ConfigFiles = append([]appprofile.ConfigFile(nil), base.ConfigFiles...)
	changed.ConfigFiles[0].Content += "# new\n"
	if annotation(base) == annotation(changed) || annotation(base) != h0 {
		t.Error("new content of a config file does not change the Deployment's config hash")
	}
}

// TestAppConfigGolden keeps the ConfigMap, the initializer's code included, under review.
func TestAppConfigGolden(t *testing.T) {
	compareGolden(t, "appconfig.yaml", []runtime.Object{AppConfigMap(minimalInstance(), helpyProfile(t), testOptions())})
}
