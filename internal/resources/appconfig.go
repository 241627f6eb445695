package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// appConfigVolume carries the profile's ConfigFiles into the app container.
const appConfigVolume = "app-config"

// AppConfigMapName is the ConfigMap of the profile's ConfigFiles, <name>-app-config.
func AppConfigMapName(inst *v1alpha1.HelpdeskInstance) string {
	return childName(inst.Name, "app-config", maxName)
}

// AppConfigMap holds the profile's ConfigFiles (application code such as Helpy's private
// uploads initializer: no secrets, no personal data). It returns nil when the profile has
// none. The app pods cannot start without it, so the controller applies it before the
// Deployment.
func AppConfigMap(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *corev1.ConfigMap {
	if len(prof.ConfigFiles) == 0 {
		return nil
	}
	data := make(map[string]string, len(prof.ConfigFiles))
	for _, f := range prof.ConfigFiles {
		data[f.Key] = f.Content
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(inst, AppConfigMapName(inst), Labels(inst, prof, opts, ComponentApp)),
		Data:       data,
	}
}

// withAppConfigFiles adds the ConfigMap's volume and mounts each file by subPath,
// read-only. The volume is not optional: an app that has to run with these files (the
// private uploads check) must not start without them. Kubernetes does not update subPath
// mounts; new content reaches the pods through withAppConfigHash.
func withAppConfigFiles(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, vols []corev1.Volume, mounts []corev1.VolumeMount) ([]corev1.Volume, []corev1.VolumeMount) {
	if len(prof.ConfigFiles) == 0 {
		return vols, mounts
	}
	vols = append(vols, corev1.Volume{Name: appConfigVolume, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: AppConfigMapName(inst)},
			DefaultMode:          ptr.To[int32](0o444),
		},
	}})
	for _, f := range prof.ConfigFiles {
		mounts = append(mounts, corev1.VolumeMount{Name: appConfigVolume, MountPath: f.Path, SubPath: f.Key, ReadOnly: true})
	}
	return vols, mounts
}

// withAppConfigHash folds the ConfigFiles into the pod template's config hash, so that new
// content rolls the pods. Without ConfigFiles the hash is configHash unchanged.
func withAppConfigHash(configHash string, prof appprofile.Profile) string {
	if len(prof.ConfigFiles) == 0 {
		return configHash
	}
	files := append([]appprofile.ConfigFile(nil), prof.ConfigFiles...)
	sort.Slice(files, func(i, j int) bool { return files[i].Key < files[j].Key })
	h := sha256.New()
	writeField(h, "config")
	writeField(h, configHash)
	writeField(h, "files")
	for _, f := range files {
		writeField(h, f.Key)
		writeField(h, f.Path)
		writeField(h, f.Content)
	}
	return hex.EncodeToString(h.Sum(nil))
}
