package resources

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// AnnotationAppImage on a migration Job records the image it prepared the database for.
const AnnotationAppImage = "helpdesk.privatedesk.io/app-image"

// migrationDeadlineSeconds bounds a hung migration (a lock held by someone else) so the
// Job fails visibly instead of waiting forever.
const migrationDeadlineSeconds = 3600

// MigrationJob prepares the database for the instance's current image: it loads the
// schema and seeds on a first install, migrates otherwise, and replaces the seeded
// passwords (see the profile's MigrationScript). Its name carries a hash of the image,
// so a new image gets a new Job. A Job's pod template is immutable: the controller
// should create the Job when it is missing and otherwise only read its status, never
// apply changes to it.
//
// It does not mount the attachments volume, so it never competes with the app for a
// ReadWriteOnce claim. ttlSecondsAfterFinished stays unset so its completion stays
// readable; the controller removes Jobs of older images.
func MigrationJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *batchv1.Job {
	n := NamesFor(inst)
	image := AppImage(inst, prof, opts)
	keys := prof.MigrationSecretKeys()
	vols, mounts := appVolumes(inst, prof, opts)

	annotations := map[string]string{}
	for k, v := range vaultAgentAnnotations(inst, opts, keys) {
		annotations[k] = v
	}
	if len(annotations) == 0 {
		annotations = nil
	}

	meta := objectMeta(inst, n.MigrationJob(image), Labels(inst, prof, opts, ComponentMigration))
	meta.Annotations = map[string]string{AnnotationAppImage: image}

	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To(opts.MigrationBackoffLimit),
			ActiveDeadlineSeconds: ptr.To[int64](migrationDeadlineSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      PodLabels(inst, prof, opts, ComponentMigration, RoleJob),
					Annotations: annotations,
				},
				Spec: corev1.PodSpec{
					// Failed pods stay for their logs; the Job retries with new pods.
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           n.App,
					ImagePullSecrets:             imagePullSecrets(opts),
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              podSecurityContext(prof),
					Containers: []corev1.Container{{
						Name:            "migrate",
						Image:           image,
						ImagePullPolicy: inst.Spec.App.ImagePullPolicy,
						Command:         command(inst, prof, []string{prof.Shell, "-c", prof.MigrationScript}),
						WorkingDir:      prof.WorkingDir,
						Env:             appEnv(inst, prof, keys),
						Resources:       *inst.Spec.App.Resources.DeepCopy(),
						VolumeMounts:    mounts,
						SecurityContext: containerSecurityContext(),
					}},
					Volumes: vols,
				},
			},
		},
	}
}
