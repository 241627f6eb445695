package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// ComponentSettings labels the Jobs that write the app settings an access policy decides.
const ComponentSettings = "settings"

// AnnotationSettingsHash on a settings Job is SettingsHash of what it writes.
const AnnotationSettingsHash = "helpdesk.privatedesk.io/settings-hash"

// settingsDeadlineSeconds bounds one settings Job; it only writes a few rows.
const settingsDeadlineSeconds = 600

// SettingsHash identifies what a settings Job writes: the public values, and for each
// secret value its Secret, key and the Secret's resourceVersion (so a rotated key is
// written again), never the secret value itself.
func SettingsHash(s AppSettings, secretVersions map[string]string) string {
	h := sha256.New()
	writeField(h, s.Table)
	for _, k := range sortedKeys(s.Values) {
		writeField(h, "value:"+k)
		writeField(h, s.Values[k])
	}
	for _, k := range sortedKeys(s.Secrets) {
		ref := s.Secrets[k]
		writeField(h, "secret:"+k)
		writeField(h, ref.Name+"/"+ref.Key+"@"+secretVersions[ref.Name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SettingsJobName is the Job that writes the values of hash: a new set of values gets a
// new Job, and the Job of values already written stays complete.
func SettingsJobName(inst *v1alpha1.HelpdeskInstance, hash string) string {
	return childName(inst.Name, "settings-"+hash[:nameHashLen], maxName)
}

// SettingsJob writes s into the app's settings store with the operator's own binary
// (`helpdesk-operator app-settings`), connecting to the instance's database like the
// backup Jobs do (verified TLS, the password from CloudNativePG's Secret as a file).
// Public values travel as an argument; a secret value only as an environment variable
// from the policy's Secret.
func SettingsJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, s AppSettings, secretVersions map[string]string) *batchv1.Job {
	hash := SettingsHash(s, secretVersions)
	values, _ := json.Marshal(s.Values) // a map of strings always marshals
	args := append([]string{"/helpdesk-operator", "app-settings"}, databaseArgs(inst, prof)...)
	args = append(args, "--table="+s.Table, "--settings="+string(values))
	var env []corev1.EnvVar
	for i, setting := range sortedKeys(s.Secrets) {
		name := fmt.Sprintf("SETTING_SECRET_%d", i)
		args = append(args, "--secret-setting="+setting+"="+name)
		ref := s.Secrets[setting]
		env = append(env, secretEnv(name, ref.Name, ref.Key))
	}
	vols, mounts := databaseClientVolumes(inst, true)
	meta := objectMeta(inst, SettingsJobName(inst, hash), Labels(inst, prof, opts, ComponentSettings))
	meta.Annotations = map[string]string{AnnotationSettingsHash: hash}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](3),
			ActiveDeadlineSeconds: ptr.To[int64](settingsDeadlineSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: PodLabels(inst, prof, opts, ComponentSettings, RoleJob)},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           NamesFor(inst).App,
					ImagePullSecrets:             imagePullSecrets(opts),
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              operatorPodSecurityContext(),
					Containers: []corev1.Container{{
						Name:            "settings",
						Image:           opts.OperatorImage,
						Command:         args,
						Env:             env,
						VolumeMounts:    mounts,
						SecurityContext: containerSecurityContext(),
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
						},
					}},
					Volumes: vols,
				},
			},
		},
	}
}

// operatorPodSecurityContext runs a pod of the operator's image as its nonroot user.
func operatorPodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](gateUID),
		RunAsGroup:     ptr.To[int64](gateUID),
		FSGroup:        ptr.To[int64](gateUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
