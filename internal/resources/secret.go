package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// AppSecret holds the app secrets the controller got from Vault, for Secret delivery.
// It returns nil with Vault Agent delivery, where no Secret may hold them. Only the
// profile's keys are copied, and only into data (stringData would never compare equal
// on a repeated apply).
func AppSecret(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, values map[string][]byte) *corev1.Secret {
	if usesVaultAgent(inst) {
		return nil
	}
	data := map[string][]byte{}
	for _, s := range prof.Secrets {
		if v, ok := values[s.Key]; ok {
			data[s.Key] = append([]byte(nil), v...)
		}
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(inst, NamesFor(inst).AppSecret, Labels(inst, prof, opts, ComponentSecrets)),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}
