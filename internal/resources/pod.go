package resources

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// Vault Agent injector settings shared by the app and the migration Job.
const (
	// vaultEnvFile is rendered by the agent to /vault/secrets/<vaultEnvFile>.
	vaultEnvFile = "app-env"
	vaultEnvPath = "/vault/secrets/" + vaultEnvFile

	annotationVaultPrefix = "vault.hashicorp.com/"

	// vaultTokenVolumeName holds the projected token pods log in to Vault with.
	vaultTokenVolumeName = "vault-token"
)

// Volumes the builders add besides the profile's writable paths.
const (
	attachmentsVolume = "attachments"
	seedMountPath     = "/seed"
	// writableSizeLimit bounds each emptyDir: a runaway log gets the pod evicted and
	// restarted with an empty one instead of filling the node.
	writableSizeLimit = "1Gi"
)

// usesVaultAgent reports whether the pods get their secrets from the Vault Agent injector.
func usesVaultAgent(inst *v1alpha1.HelpdeskInstance) bool {
	return secretDelivery(inst) == v1alpha1.SecretDeliveryVaultAgent
}

// appEnv is the environment of the app and the migration Job: the profile's fixed
// variables, the database connection referenced from CloudNativePG's Secret, derived
// variables (which may refer to the former with $(NAME), so they come after them), the
// site URL and, with Secret delivery, the given app secrets referenced from the app
// Secret. With Vault Agent delivery the secrets come from the rendered env file instead.
func appEnv(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, secretKeys []string) []corev1.EnvVar {
	n := NamesFor(inst)
	var env []corev1.EnvVar
	for _, e := range prof.Env {
		env = append(env, *e.DeepCopy())
	}
	for _, e := range prof.DatabaseEnv {
		env = append(env, secretEnv(e.Name, n.DatabaseAppSecret, e.Key))
	}
	for _, e := range prof.DerivedEnv {
		env = append(env, *e.DeepCopy())
	}
	if prof.SiteURLEnv != "" {
		env = append(env, corev1.EnvVar{Name: prof.SiteURLEnv, Value: SiteURL(inst)})
	}
	env = append(env, databaseCAEnv())
	if !usesVaultAgent(inst) {
		for _, k := range secretKeys {
			env = append(env, secretEnv(k, n.AppSecret, k))
		}
	}
	return env
}

// appVolumes are the volumes of the app and migration pods besides the attachments: the
// profile's writable paths, the database CA, and with Vault Agent delivery the projected
// token its agent logs in with.
func appVolumes(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) ([]corev1.Volume, []corev1.VolumeMount) {
	vols, mounts := writableVolumes(prof)
	dbVols, dbMounts := databaseClientVolumes(inst, false)
	vols, mounts = append(vols, dbVols...), append(mounts, dbMounts...)
	if usesVaultAgent(inst) {
		vols = append(vols, vaultTokenVolume(opts))
	}
	return vols, mounts
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret},
			Key:                  key,
		},
	}}
}

// command wraps argv so that, with Vault Agent delivery, the rendered secrets are in the
// environment before the program starts.
func command(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, argv []string) []string {
	if !usesVaultAgent(inst) {
		return append([]string(nil), argv...)
	}
	return append([]string{prof.Shell, "-c", `. ` + vaultEnvPath + ` && exec "$@"`, prof.Name}, argv...)
}

// VaultRole is the Kubernetes auth role the app's Vault Agent logs in with, as
// internal/vault creates it.
func VaultRole(inst *v1alpha1.HelpdeskInstance, opts Options) string {
	return vault.RoleName(opts.Vault.Prefix, inst.Namespace, inst.Name, vault.WorkloadApp)
}

// VaultSecretPath is the API path the Vault Agent reads the app secrets from.
func VaultSecretPath(inst *v1alpha1.HelpdeskInstance, opts Options) string {
	return opts.Vault.KVMount + "/data/" + vault.SecretsPath(opts.Vault.Prefix, inst.Namespace, inst.Name)
}

// vaultTokenVolume is the projected ServiceAccount token a pod logs in to Vault with: for
// Vault's audience only (the API server refuses it, and Vault's roles refuse any other),
// short-lived and renewed by the kubelet. Only the container that logs in mounts it.
func vaultTokenVolume(opts Options) corev1.Volume {
	return corev1.Volume{Name: vaultTokenVolumeName, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: opts.Vault.Audience, Path: "token", ExpirationSeconds: ptr.To[int64](vaultTokenSeconds),
		}}},
	}}}
}

// vaultAgentAnnotations ask the injector to render keys as a shell env file before the
// pod's containers start. Pre-populate only: the values are read once at start, and a
// sidecar would keep a Job from ever completing. The agent logs in with the pod's
// projected Vault token (no automounted API token anywhere in the pod). Each value is
// single-quoted with any quote in it escaped, so no value can break out into the shell
// that sources the file. Only the path is written here, never a value.
func vaultAgentAnnotations(inst *v1alpha1.HelpdeskInstance, opts Options, keys []string) map[string]string {
	if !usesVaultAgent(inst) {
		return nil
	}
	path := VaultSecretPath(inst, opts)
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	var tmpl strings.Builder
	fmt.Fprintf(&tmpl, "{{- with secret %q }}\n", path)
	for _, k := range sorted {
		fmt.Fprintf(&tmpl, "export %s='{{ index .Data.data %q | replaceAll %s %s }}'\n", k, k, `"'"`, `"'\\''"`)
	}
	tmpl.WriteString("{{- end }}\n")
	return map[string]string{
		annotationVaultPrefix + "agent-inject":                            "true",
		annotationVaultPrefix + "agent-pre-populate-only":                 "true",
		annotationVaultPrefix + "role":                                    VaultRole(inst, opts),
		annotationVaultPrefix + "auth-path":                               "auth/" + opts.Vault.KubernetesAuthMount,
		annotationVaultPrefix + "agent-service-account-token-volume-name": vaultTokenVolumeName,
		annotationVaultPrefix + "agent-inject-secret-" + vaultEnvFile:     path,
		annotationVaultPrefix + "agent-inject-template-" + vaultEnvFile:   tmpl.String(),
	}
}

// podSecurityContext runs the pod as the image's non-root user with the runtime's
// seccomp profile, so it is admitted under the restricted Pod Security Standard.
// OnRootMismatch avoids walking every attachment on each start.
func podSecurityContext(prof appprofile.Profile) *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:        ptr.To(true),
		RunAsUser:           ptr.To(prof.RunAsUser),
		RunAsGroup:          ptr.To(prof.RunAsGroup),
		FSGroup:             ptr.To(prof.RunAsGroup),
		FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// writableVolumes are the emptyDirs behind the profile's writable paths.
func writableVolumes(prof appprofile.Profile) ([]corev1.Volume, []corev1.VolumeMount) {
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	for _, w := range prof.WritablePaths {
		vols = append(vols, corev1.Volume{Name: w.Name, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse(writableSizeLimit))},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: w.Name, MountPath: w.Path})
	}
	return vols, mounts
}

// seedContainers copy what the image ships in a writable path into its emptyDir, which
// would otherwise hide it (Helpy's precompiled assets).
func seedContainers(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) []corev1.Container {
	var out []corev1.Container
	for _, w := range prof.WritablePaths {
		if !w.SeedFromImage {
			continue
		}
		script := fmt.Sprintf("if [ -d %[1]s ]; then cp -R %[1]s/. %[2]s/; fi", w.Path, seedMountPath)
		out = append(out, corev1.Container{
			Name:            "seed-" + w.Name,
			Image:           AppImage(inst, prof, opts),
			ImagePullPolicy: inst.Spec.App.ImagePullPolicy,
			Command:         []string{prof.Shell, "-c", script},
			SecurityContext: containerSecurityContext(),
			Resources:       *inst.Spec.App.Resources.DeepCopy(),
			VolumeMounts:    []corev1.VolumeMount{{Name: w.Name, MountPath: seedMountPath}},
		})
	}
	return out
}

// Probes: readiness asks the app (GET / reads settings from the database), liveness only
// checks that the server accepts connections so a slow database never restarts it, and
// startup gives the first start the profile's time.
//
// The kubelet follows a redirect to the host it probed (the pod IP) and would fail on
// one to https there (Rails' enforce_ssl), but takes a redirect to another host as
// success. The Host header makes the app's redirects point at the public hostname, so
// the probe's result is the app's own 3xx answer. The kubelet records a ProbeWarning
// event for such redirects; that is expected.
func readinessProbe(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile) *corev1.Probe {
	headers := append([]corev1.HTTPHeader(nil), prof.HTTPProbeHeaders...)
	headers = append(headers, corev1.HTTPHeader{Name: "Host", Value: inst.Spec.Hostname})
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path:        prof.HTTPProbePath,
			Port:        intstr.FromString(portName),
			Scheme:      corev1.URISchemeHTTP,
			HTTPHeaders: headers,
		}},
		PeriodSeconds:    10,
		TimeoutSeconds:   10,
		SuccessThreshold: 1,
		FailureThreshold: 3,
	}
}

func livenessProbe() *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(portName)}},
		PeriodSeconds:    20,
		TimeoutSeconds:   5,
		SuccessThreshold: 1,
		FailureThreshold: 3,
	}
}

func startupProbe(prof appprofile.Profile) *corev1.Probe {
	const period = 10
	failures := prof.StartupTimeoutSeconds / period
	if failures < 1 {
		failures = 1
	}
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(portName)}},
		PeriodSeconds:    period,
		TimeoutSeconds:   5,
		SuccessThreshold: 1,
		FailureThreshold: failures,
	}
}
