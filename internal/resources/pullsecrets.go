package resources

import (
	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	corev1 "k8s.io/api/core/v1"
)

// imagePullSecrets are Options.ImagePullSecrets as a pod spec names them: every pod of an
// instance (app, migration, settings, gate, backup, drill and restore) pulls with them.
// They name Secrets in the instance's namespace; the operator does not copy them there.
func imagePullSecrets(opts Options) []corev1.LocalObjectReference {
	if len(opts.ImagePullSecrets) == 0 {
		return nil
	}
	out := make([]corev1.LocalObjectReference, 0, len(opts.ImagePullSecrets))
	for _, name := range opts.ImagePullSecrets {
		out = append(out, corev1.LocalObjectReference{Name: name})
	}
	return out
}

// clusterImagePullSecrets are the same Secrets for CloudNativePG's database pods.
func clusterImagePullSecrets(opts Options) []cnpgv1.LocalObjectReference {
	if len(opts.ImagePullSecrets) == 0 {
		return nil
	}
	out := make([]cnpgv1.LocalObjectReference, 0, len(opts.ImagePullSecrets))
	for _, name := range opts.ImagePullSecrets {
		out = append(out, cnpgv1.LocalObjectReference{Name: name})
	}
	return out
}
