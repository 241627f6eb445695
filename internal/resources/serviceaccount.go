package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// ServiceAccounts are the identities of the instance's workloads, one each, because each
// has its own Vault role: the app and the migration Job (which read the app secrets), the
// backup Jobs, and the restore and drill Jobs. Tokens are never automounted: a pod that
// logs in to Vault asks for a projected token for Vault's audience in its own spec.
//
// Their annotations become Vault alias metadata at login: the instance whose key and
// secrets the fixed tenant policies grant, and for the restore ServiceAccount, while a
// restore from another instance runs, restoreSource, the instance whose key it may
// decrypt. Vault itself pins every grant to the namespace it verified.
func ServiceAccounts(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, restoreSource string) []*corev1.ServiceAccount {
	n := NamesFor(inst)
	restore := map[string]string{}
	if restoreSource != "" && restoreSource != inst.Name {
		restore[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)] = restoreSource
	}
	return []*corev1.ServiceAccount{
		serviceAccount(inst, prof, opts, n.App, ComponentApp, nil),
		serviceAccount(inst, prof, opts, n.BackupServiceAccount, ComponentBackup, nil),
		serviceAccount(inst, prof, opts, n.RestoreServiceAccount, ComponentBackup, restore),
	}
}

func serviceAccount(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, name, component string, extra map[string]string) *corev1.ServiceAccount {
	meta := objectMeta(inst, name, Labels(inst, prof, opts, component))
	meta.Annotations = map[string]string{vault.ServiceAccountAnnotation(vault.MetadataInstance): inst.Name}
	for k, v := range extra {
		meta.Annotations[k] = v
	}
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta,
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// VaultServiceAccounts maps each workload that logs in to Vault to its ServiceAccount, for
// the roles internal/vault writes. The app logs in only with Vault Agent delivery.
func VaultServiceAccounts(inst *v1alpha1.HelpdeskInstance) map[vault.Workload]string {
	n := NamesFor(inst)
	out := map[vault.Workload]string{
		vault.WorkloadBackup:  n.BackupServiceAccount,
		vault.WorkloadRestore: n.RestoreServiceAccount,
	}
	if usesVaultAgent(inst) {
		out[vault.WorkloadApp] = n.App
	}
	return out
}
