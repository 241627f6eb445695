package resources

import (
	"slices"
	"testing"
)

func TestVaultCAReachesTheBackupPods(t *testing.T) {
	prof, opts := helpyProfile(t), backupOptions()
	inst := minimalInstance()
	if VaultCAConfigMap(inst, prof, opts) != nil {
		t.Error("a ConfigMap without a private Vault CA")
	}
	pod := BackupCronJob(inst, prof, opts, s3Policy()).Spec.JobTemplate.Spec.Template.Spec
	for _, a := range pod.Containers[0].Args {
		if a == "--vault-ca-file=/etc/helpdesk/vault-ca/ca.crt" {
			t.Error("the backup pod is pointed at a Vault CA that is not configured")
		}
	}

	opts.Vault.CABundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	cm := VaultCAConfigMap(inst, prof, opts)
	if cm == nil || cm.Data[VaultCAKey] != opts.Vault.CABundle || cm.Name != NamesFor(inst).VaultCA || len(cm.OwnerReferences) != 1 {
		t.Fatalf("ConfigMap %+v", cm)
	}
	for _, job := range []struct {
		name string
		pod  func() []string
	}{
		{"backup", func() []string {
			return BackupCronJob(inst, prof, opts, s3Policy()).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		}},
		{"restore", func() []string { return RestoreJob(inst, prof, opts, s3Policy()).Spec.Template.Spec.Containers[0].Args }},
	} {
		if !slices.Contains(job.pod(), "--vault-ca-file=/etc/helpdesk/vault-ca/ca.crt") {
			t.Errorf("%s pod does not trust the Vault CA: %q", job.name, job.pod())
		}
	}
	pod = BackupCronJob(inst, prof, opts, s3Policy()).Spec.JobTemplate.Spec.Template.Spec
	mounted := false
	for _, m := range pod.Containers[0].VolumeMounts {
		mounted = mounted || (m.Name == "vault-ca" && m.MountPath == "/etc/helpdesk/vault-ca" && m.ReadOnly)
	}
	found := false
	for _, v := range pod.Volumes {
		found = found || (v.Name == "vault-ca" && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name)
	}
	if !mounted || !found {
		t.Errorf("the Vault CA ConfigMap is not mounted: volumes %v", pod.Volumes)
	}
}
