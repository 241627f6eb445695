package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

func TestAppSecretCopiesOnlyProfileKeys(t *testing.T) {
	prof := helpyProfile(t)
	values := testSecrets()
	values["UNRELATED"] = []byte("x")
	s := AppSecret(minimalInstance(), prof, testOptions(), values)
	if s == nil {
		t.Fatal("Secret delivery needs the app Secret")
	}
	if len(s.Data) != 2 || string(s.Data["SECRET_KEY_BASE"]) != "test-secret-key-base-value" || len(s.StringData) != 0 {
		t.Errorf("data %v", s.Data)
	}
	values["SECRET_KEY_BASE"][0] = 'X'
	if s.Data["SECRET_KEY_BASE"][0] == 'X' {
		t.Error("the Secret shares its bytes with the caller's map")
	}
}

func TestServiceAccountAndPVC(t *testing.T) {
	prof := helpyProfile(t)
	inst := haInstance()
	opts := testOptions()
	n := NamesFor(inst)
	sas := ServiceAccounts(inst, prof, opts, "")
	if len(sas) != 3 || sas[0].Name != n.App || sas[1].Name != n.BackupServiceAccount || sas[2].Name != n.RestoreServiceAccount {
		t.Fatalf("service accounts %v, want the app's, the backup's and the restore's", sas)
	}
	for _, sa := range sas {
		if ptr.Deref(sa.AutomountServiceAccountToken, true) || sa.Annotations[vault.ServiceAccountAnnotation(vault.MetadataInstance)] != inst.Name ||
			len(sa.Annotations) != 1 || len(sa.OwnerReferences) != 1 {
			t.Errorf("service account %s: automount %v, annotations %v", sa.Name, sa.AutomountServiceAccountToken, sa.Annotations)
		}
	}
	// The restore source is named only on the restore ServiceAccount, and never the instance itself.
	restoring := ServiceAccounts(inst, prof, opts, "old-desk")
	if restoring[2].Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)] != "old-desk" ||
		len(restoring[0].Annotations) != 1 || len(restoring[1].Annotations) != 1 {
		t.Errorf("restore source annotations: %v / %v / %v", restoring[0].Annotations, restoring[1].Annotations, restoring[2].Annotations)
	}
	if self := ServiceAccounts(inst, prof, opts, inst.Name); len(self[2].Annotations) != 1 {
		t.Errorf("restoring from itself named a restore source: %v", self[2].Annotations)
	}
	if got := VaultServiceAccounts(inst); len(got) != 2 || got[vault.WorkloadBackup] != n.BackupServiceAccount || got[vault.WorkloadRestore] != n.RestoreServiceAccount {
		t.Errorf("Vault workloads with Secret delivery: %v", got)
	}
	if got := VaultServiceAccounts(vaultAgentInstance()); got[vault.WorkloadApp] != NamesFor(vaultAgentInstance()).App || len(got) != 3 {
		t.Errorf("Vault workloads with Vault Agent delivery: %v", got)
	}
	pvc := AttachmentsPVC(inst, prof, opts)
	if pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce || pvc.Spec.Resources.Requests.Storage().String() != "20Gi" ||
		ptr.Deref(pvc.Spec.StorageClassName, "") != "shared-nfs" {
		t.Errorf("pvc %+v", pvc.Spec)
	}
	// Replicas must not change the (immutable) access mode.
	inst.Spec.App.Replicas = ptr.To[int32](1)
	if AttachmentsPVC(inst, prof, opts).Spec.AccessModes[0] != pvc.Spec.AccessModes[0] {
		t.Error("the access mode followed the replica count")
	}
	inst.Spec.Attachments.Size = nil
	if got := AttachmentsPVC(inst, prof, opts).Spec.Resources.Requests.Storage().String(); got != "5Gi" {
		t.Errorf("default size %s", got)
	}
}
