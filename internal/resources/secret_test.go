package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
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
	sa := ServiceAccount(inst, prof, testOptions())
	if sa.Name != NamesFor(inst).App || ptr.Deref(sa.AutomountServiceAccountToken, true) {
		t.Errorf("service account %q automount %v", sa.Name, sa.AutomountServiceAccountToken)
	}
	opts := testOptions()
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
