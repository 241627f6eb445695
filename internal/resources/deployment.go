package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Deployment runs the application. configHash is ConfigHash of what the pods read at
// start; a new value rolls the pods.
//
// Rolling updates surge one pod and never drop below the desired count. With a
// ReadWriteOnce attachments volume every app pod must run on the node that has it
// attached, so the pods are required to share a node with the instance's other app pods
// (the first one goes anywhere); otherwise a rollout would deadlock on a multi-attach
// error. With ReadWriteMany they spread across nodes and zones.
func Deployment(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, configHash string) *appsv1.Deployment {
	n := NamesFor(inst)
	podLabels := PodLabels(inst, prof, opts, ComponentApp, RoleApp)

	annotations := map[string]string{AnnotationConfigHash: withAppConfigHash(configHash, prof)}
	for k, v := range vaultAgentAnnotations(inst, opts, prof.AppSecretKeys()) {
		annotations[k] = v
	}

	vols, mounts := appVolumes(inst, prof, opts)
	vols = append(vols, corev1.Volume{Name: attachmentsVolume, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n.Attachments},
	}})
	mounts = append(mounts, corev1.VolumeMount{Name: attachmentsVolume, MountPath: prof.UploadsPath})
	vols, mounts = withAppConfigFiles(inst, prof, vols, mounts)

	app := corev1.Container{
		Name:            prof.ContainerName,
		Image:           AppImage(inst, prof, opts),
		ImagePullPolicy: inst.Spec.App.ImagePullPolicy,
		Command:         command(inst, prof, prof.StartCommand),
		WorkingDir:      prof.WorkingDir,
		Ports: []corev1.ContainerPort{{
			Name:          portName,
			ContainerPort: prof.Port,
			Protocol:      corev1.ProtocolTCP,
		}},
		Env:             appEnv(inst, prof, prof.AppSecretKeys()),
		Resources:       *inst.Spec.App.Resources.DeepCopy(),
		VolumeMounts:    mounts,
		ReadinessProbe:  readinessProbe(inst, prof),
		LivenessProbe:   livenessProbe(),
		StartupProbe:    startupProbe(prof),
		SecurityContext: containerSecurityContext(),
	}

	spec := corev1.PodSpec{
		ServiceAccountName: n.App,
		ImagePullSecrets:   imagePullSecrets(opts),
		// The app never talks to the Kubernetes API; a Vault Agent logs in with the
		// pod's projected Vault token, which the app container does not mount.
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext:              podSecurityContext(prof),
		InitContainers:               seedContainers(inst, prof, opts),
		Containers:                   []corev1.Container{app},
		Volumes:                      vols,
	}
	selector := SelectorLabels(inst, RoleApp)
	if opts.AttachmentsAccessMode == corev1.ReadWriteMany {
		spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
			spread(corev1.LabelHostname, selector),
			spread(corev1.LabelTopologyZone, selector),
		}
	} else {
		spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: copyMap(selector)},
				TopologyKey:   corev1.LabelHostname,
			}},
		}}
	}

	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(inst, n.App, Labels(inst, prof, opts, ComponentApp)),
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(appReplicas(inst)),
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(inst, RoleApp)},
			RevisionHistoryLimit: ptr.To[int32](3),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromInt32(1)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations},
				Spec:       spec,
			},
		},
	}
}

// spread is best effort: a cluster with fewer nodes or zones than replicas still runs
// them all.
func spread(key string, selector map[string]string) corev1.TopologySpreadConstraint {
	return corev1.TopologySpreadConstraint{
		MaxSkew:           1,
		TopologyKey:       key,
		WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector:     &metav1.LabelSelector{MatchLabels: copyMap(selector)},
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
