package resources

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// LabelRetentionPolicy is the RetentionPolicy a retention CronJob, its Jobs and pods
// belong to (as a label value), so the RetentionPolicy controller finds them.
const LabelRetentionPolicy = "helpdesk.privatedesk.io/retention-policy"

// ComponentRetention is the app.kubernetes.io/component of retention objects.
const ComponentRetention = "retention"

// Bounds of a retention run. The run gives up itself a little before the Job's deadline,
// so it reports what its committed batches did instead of being killed without a result.
const (
	retentionActiveDeadline = 4 * time.Hour
	retentionRunTimeout     = retentionActiveDeadline - 10*time.Minute
	retentionBackoffLimit   = 2
	retentionStartDeadline  = time.Hour
	// ExitTerminal is the job subcommands' exit code for a failure a retry cannot fix
	// (internal/retention/cli.ExitTerminal): the Job fails at once.
	exitTerminal = 2
)

// RetentionCronJobName is the name of an instance's retention CronJob. It depends only on
// the instance: an instance follows one RetentionPolicy at a time.
func RetentionCronJobName(inst *v1alpha1.HelpdeskInstance) string {
	return childName(inst.Name, "retention", maxCronJobName)
}

// RetentionPolicyLabel is the LabelRetentionPolicy value of a policy.
func RetentionPolicyLabel(policy string) string { return labelValue(policy) }

func retentionLabels(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy string, pod bool) map[string]string {
	var l map[string]string
	if pod {
		l = PodLabels(inst, prof, opts, ComponentRetention, RoleJob)
	} else {
		l = Labels(inst, prof, opts, ComponentRetention)
	}
	l[LabelRetentionPolicy] = RetentionPolicyLabel(policy)
	return l
}

// RetentionCronJob runs the policy's rules in the instance's database on the policy's
// schedule: `helpdesk-operator retention` (docs/retention.md) in a pod built like the
// backup pods (the operator binary copied into the PostgreSQL image, restricted security
// context, the database password as a file and verify-full with CloudNativePG's CA, the
// result line as the termination message), with the attachments volume mounted so that
// the files of removed records go too. It needs no Vault and mounts no token. A legal
// hold or a dry run still runs, changing nothing and reporting what it would do.
func RetentionCronJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.RetentionPolicy) *batchv1.CronJob {
	var timeZone *string
	if policy.Spec.TimeZone != "" {
		timeZone = ptr.To(policy.Spec.TimeZone)
	}
	schedule := string(policy.Spec.Schedule)
	if schedule == "" {
		schedule = "0 3 * * *"
	}
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: objectMeta(inst, RetentionCronJobName(inst), retentionLabels(inst, prof, opts, policy.Name, false)),
		Spec: batchv1.CronJobSpec{
			Schedule: schedule,
			TimeZone: timeZone,
			// Two runs would compete for the same rows; one still going when the next is
			// due wins.
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr.To(int64(retentionStartDeadline.Seconds())),
			Suspend:                    ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](backupHistoryLimit),
			FailedJobsHistoryLimit:     ptr.To[int32](backupHistoryLimit),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: retentionLabels(inst, prof, opts, policy.Name, false)},
				Spec:       retentionJobSpec(inst, prof, opts, policy),
			},
		},
	}
}

func retentionJobSpec(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.RetentionPolicy) batchv1.JobSpec {
	n := NamesFor(inst)
	vols, mounts := jobBaseVolumes()
	dbVols, dbMounts := databaseClientVolumes(inst, true)
	vols, mounts = append(vols, dbVols...), append(mounts, dbMounts...)
	vols = append(vols, corev1.Volume{Name: attachmentsVolume, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n.Attachments},
	}})
	mounts = append(mounts, corev1.VolumeMount{Name: attachmentsVolume, MountPath: prof.UploadsPath})

	args := append(databaseArgs(inst, prof),
		"--app-profile="+string(appProfile(inst)),
		"--attachments-dir="+prof.UploadsPath,
		"--timeout="+retentionRunTimeout.String(),
	)
	for _, r := range policy.Spec.Rules {
		action := r.Action
		if action == "" {
			action = v1alpha1.RetentionActionDelete
		}
		args = append(args, "--rule="+string(r.DataClass)+":"+string(action)+":"+r.OlderThan.Duration.String())
	}
	if policy.Spec.DryRun {
		args = append(args, "--dry-run=true")
	}
	if hold := policy.Spec.LegalHold; hold != nil && hold.Enabled {
		args = append(args, "--legal-hold=true")
	}
	return jobSpec(inst, prof, opts, jobPod{
		container:      "retention",
		subcommand:     "retention",
		args:           args,
		labels:         retentionLabels(inst, prof, opts, policy.Name, true),
		serviceAccount: n.App,
		volumes:        vols,
		mounts:         mounts,
		backoffLimit:   retentionBackoffLimit,
		deadline:       retentionActiveDeadline,
		// The app's pods hold a ReadWriteOnce attachments volume on their node.
		affinity: attachmentsAffinity(inst, opts),
	})
}

// jobPod is what differs between the job pods of retention and data-subject requests.
type jobPod struct {
	container, subcommand string
	args                  []string
	labels                map[string]string
	serviceAccount        string
	volumes               []corev1.Volume
	mounts                []corev1.VolumeMount
	backoffLimit          int32
	deadline              time.Duration
	affinity              *corev1.Affinity
	annotations           map[string]string
}

// jobSpec is a Job whose pod runs a subcommand of the operator binary, copied by an init
// container from the operator image, inside the PostgreSQL image of the instance's major
// version, exactly as the backup Jobs do: restricted security context as the app's user,
// no API token, no service links, the result line as the termination message. Exit code
// 2 (a failure a retry cannot fix) fails the Job at once.
func jobSpec(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, p jobPod) batchv1.JobSpec {
	restricted := containerSecurityContext()
	return batchv1.JobSpec{
		BackoffLimit:          ptr.To(p.backoffLimit),
		ActiveDeadlineSeconds: ptr.To(int64(p.deadline.Seconds())),
		PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(p.container),
				Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
				Values:        []int32{exitTerminal},
			},
		}}},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: p.labels, Annotations: p.annotations},
			Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				ServiceAccountName:           p.serviceAccount,
				AutomountServiceAccountToken: ptr.To(false),
				EnableServiceLinks:           ptr.To(false),
				SecurityContext:              podSecurityContext(prof),
				InitContainers: []corev1.Container{{
					Name:            "copy-binary",
					Image:           opts.OperatorImage,
					Command:         []string{operatorBinary, "copy-binary", backupBinary},
					SecurityContext: restricted.DeepCopy(),
					VolumeMounts:    []corev1.VolumeMount{{Name: "bin", MountPath: backupBinDir}},
				}},
				Containers: []corev1.Container{{
					Name:                     p.container,
					Image:                    PostgresImage(inst, opts),
					Command:                  []string{"/bin/sh", "-c", backupScript, backupBinary, p.subcommand},
					Args:                     p.args,
					VolumeMounts:             p.mounts,
					SecurityContext:          restricted,
					TerminationMessagePath:   terminationLog,
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}},
				Volumes:  p.volumes,
				Affinity: p.affinity,
			},
		},
	}
}

// jobBaseVolumes are the binary's folder and a bounded /tmp, which every job pod has.
func jobBaseVolumes() ([]corev1.Volume, []corev1.VolumeMount) {
	return []corev1.Volume{
			{Name: "bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse(backupTmpSize))}}},
		}, []corev1.VolumeMount{
			{Name: "bin", MountPath: backupBinDir, ReadOnly: true},
			{Name: "tmp", MountPath: backupTmpDir},
		}
}

// attachmentsAffinity puts a pod that mounts a ReadWriteOnce attachments volume next to
// the app pods, which hold it (see backupAffinity); nil for ReadWriteMany volumes.
func attachmentsAffinity(inst *v1alpha1.HelpdeskInstance, opts Options) *corev1.Affinity {
	if opts.AttachmentsAccessMode == corev1.ReadWriteMany {
		return nil
	}
	return &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(inst, RoleApp)},
				TopologyKey:   corev1.LabelHostname,
			},
		}},
	}}
}

// RetentionRefusals says, for each rule of the policy the app profile refuses, why; the
// instance then runs no retention at all (never some rules only) and says so.
func RetentionRefusals(policy *v1alpha1.RetentionPolicy, r appprofile.Retention) []string {
	var out []string
	for _, rule := range policy.Spec.Rules {
		action := rule.Action
		if action == "" {
			action = v1alpha1.RetentionActionDelete
		}
		if why := r.Refusal(rule.DataClass, action); why != "" {
			out = append(out, "dataClass "+string(rule.DataClass)+" ("+string(action)+"): "+why)
		}
	}
	return out
}
