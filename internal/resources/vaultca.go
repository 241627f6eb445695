package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// VaultCAKey is the ConfigMap key, and the file name, of Vault's CA certificate.
const VaultCAKey = "ca.crt"

// VaultCAConfigMap carries the CA of a Vault with a private certificate authority into the
// instance's namespace, for the backup, drill and restore pods. It returns nil when Vault's
// certificate is signed by a public authority (no CA configured).
func VaultCAConfigMap(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *corev1.ConfigMap {
	if opts.Vault.CABundle == "" {
		return nil
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(inst, NamesFor(inst).VaultCA, Labels(inst, prof, opts, ComponentSecrets)),
		Data:       map[string]string{VaultCAKey: opts.Vault.CABundle},
	}
}
