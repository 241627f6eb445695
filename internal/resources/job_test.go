package resources

import (
	"reflect"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func TestMigrationJob(t *testing.T) {
	prof := helpyProfile(t)
	opts := testOptions()
	for _, inst := range []*v1alpha1.HelpdeskInstance{minimalInstance(), haInstance(), vaultAgentInstance()} {
		j := MigrationJob(inst, prof, opts)
		pod := j.Spec.Template.Spec
		checkRestricted(t, inst.Name+" job", pod)
		if j.Name != NamesFor(inst).MigrationJob(AppImage(inst, prof, opts)) {
			t.Errorf("%s: job name %q does not follow the image", inst.Name, j.Name)
		}
		if j.Spec.TTLSecondsAfterFinished != nil {
			t.Errorf("%s: ttlSecondsAfterFinished would delete the completion the controller reads", inst.Name)
		}
		if ptr.Deref(j.Spec.BackoffLimit, -1) != opts.MigrationBackoffLimit {
			t.Errorf("%s: backoffLimit %v", inst.Name, j.Spec.BackoffLimit)
		}
		if pod.ServiceAccountName != NamesFor(inst).App || pod.RestartPolicy != "Never" {
			t.Errorf("%s: service account %q, restart policy %q", inst.Name, pod.ServiceAccountName, pod.RestartPolicy)
		}
		if j.Spec.Template.Labels[LabelHelpdeskRole] != RoleJob {
			t.Errorf("%s: job pods need the job network role", inst.Name)
		}
		for _, v := range pod.Volumes {
			if v.PersistentVolumeClaim != nil {
				t.Errorf("%s: the migration Job must not claim the attachments volume", inst.Name)
			}
		}
		c := pod.Containers[0]
		if c.Image != AppImage(inst, prof, opts) {
			t.Errorf("%s: job image %q", inst.Name, c.Image)
		}
		env := envByName(c.Env)
		if _, ok := env["SECRET_KEY_BASE"]; ok {
			t.Errorf("%s: the Job does not need SECRET_KEY_BASE", inst.Name)
		}
		app := envByName(Deployment(inst, prof, opts, "").Spec.Template.Spec.Containers[0].Env)
		for _, k := range []string{"POSTGRES_HOST", "POSTGRES_PASSWORD", "DATABASE_URL", "RAILS_ENV", "Settings.site_url"} {
			if _, ok := env[k]; !ok {
				t.Errorf("%s: the Job lacks %s", inst.Name, k)
			}
			if !reflect.DeepEqual(env[k], app[k]) {
				t.Errorf("%s: %s differs between Job and app", inst.Name, k)
			}
		}
		if usesVaultAgent(inst) {
			if _, ok := env["ADMIN_PASSWORD"]; ok {
				t.Errorf("%s: with Vault Agent the admin password comes from the env file", inst.Name)
			}
			if j.Spec.Template.Annotations["vault.hashicorp.com/agent-pre-populate-only"] != "true" {
				t.Errorf("%s: a Vault Agent sidecar would keep the Job from completing", inst.Name)
			}
		} else if ref := env["ADMIN_PASSWORD"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != NamesFor(inst).AppSecret {
			t.Errorf("%s: ADMIN_PASSWORD must come from the app Secret", inst.Name)
		}
	}
}

func TestMigrationJobNewImageNewJob(t *testing.T) {
	prof := helpyProfile(t)
	inst := haInstance()
	a := MigrationJob(inst, prof, testOptions()).Name
	inst.Spec.App.Replicas = ptr.To[int32](5)
	if MigrationJob(inst, prof, testOptions()).Name != a {
		t.Error("scaling must not create a new migration Job")
	}
	inst.Spec.App.Image = "registry.example.com/helpy:2.9.0"
	if MigrationJob(inst, prof, testOptions()).Name == a {
		t.Error("a new image must get a new migration Job")
	}
}
