package resources

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// Backup label keys. Jobs and pods of backups, drills and restores carry both, so the
// BackupPolicy controller finds them by policy and tells the runs apart.
const (
	// LabelBackupPolicy is the BackupPolicy a run belongs to (as a label value).
	LabelBackupPolicy = "helpdesk.privatedesk.io/backup-policy"
	// LabelBackupRun is BackupRunBackup, BackupRunDrill or BackupRunRestore.
	LabelBackupRun = "helpdesk.privatedesk.io/backup-run"
)

// ComponentBackup is the app.kubernetes.io/component of backup, drill and restore objects.
const ComponentBackup = "backup"

// Backup runs, the LabelBackupRun values.
const (
	BackupRunBackup  = "backup"
	BackupRunDrill   = "drill"
	BackupRunRestore = "restore"
)

// Limits and paths of the backup pods.
const (
	// maxCronJobName: the CronJob controller appends -<11 digits> to name its Jobs,
	// which must stay a 63-character label value.
	maxCronJobName = 52

	// backupHistoryLimit Jobs of each outcome stay for the status and the logs; the
	// BackupPolicy keeps the longer history in status.recentBackups.
	backupHistoryLimit = 3

	// backupBinDir holds the operator binary the init container copies out of the
	// operator image, so it runs next to the pg_dump of the server's major version.
	backupBinDir = "/opt/helpdesk"
	backupBinary = backupBinDir + "/helpdesk-operator"
	// operatorBinary is where the operator image ships its binary.
	operatorBinary = "/helpdesk-operator"

	backupTmpDir = "/tmp"
	// backupTmpSize bounds /tmp, which holds only the run's one-line result.
	backupTmpSize = "64Mi"
	// drillScratchDir holds the throwaway PostgreSQL server a drill restores into.
	drillScratchDir        = "/scratch"
	dbSecretDir            = "/etc/helpdesk/db" //nolint:gosec // a mount path, not a credential
	s3SecretDir            = "/etc/helpdesk/s3" //nolint:gosec // a mount path, not a credential
	s3CADir                = "/etc/helpdesk/s3-ca"
	vaultTokenDir          = "/var/run/secrets/helpdesk/vault" //nolint:gosec // a mount path, not a credential
	vaultCADir             = "/etc/helpdesk/vault-ca"
	backupDestinationMount = "/backup"

	// vaultTokenSeconds is the lifetime of the projected token a pod logs in to Vault
	// with; the kubelet renews it, and the login happens at start.
	vaultTokenSeconds = 600

	terminationLog = "/dev/termination-log"
)

// backupScript runs the binary ($0) with the subcommand and flags ("$@"). The binary
// prints its one-line JSON result (or {"error": ...}) last on stdout; the Job's
// termination message must carry that line so the controller can read it without pod
// logs. A pipe through tee would lose the binary's exit code (the image's sh has no
// pipefail), so the output goes to a file first: it is echoed to the log, its last line
// becomes the termination message, and the shell exits with the binary's code. If the
// shell itself dies first, FallbackToLogsOnError puts the log's tail in the message.
const backupScript = `out=/tmp/result.json
"$0" "$@" >"$out"
rc=$?
cat "$out"
tail -n 1 "$out" >` + terminationLog + `
exit "$rc"`

// BackupNames are the names of an instance's backup objects. They depend only on the
// instance: an instance follows one policy at a time, and a new policy reference
// updates the same objects in place.
type BackupNames struct {
	BackupCronJob string
	DrillCronJob  string
	RestoreJob    string
	EgressPolicy  string
	// RestoreEgressPolicy lets the restore pod reach the destination of spec.restoreFrom.
	RestoreEgressPolicy string
}

// BackupNamesFor returns the names of inst's backup objects.
func BackupNamesFor(inst *v1alpha1.HelpdeskInstance) BackupNames {
	return BackupNames{
		BackupCronJob:       childName(inst.Name, "backup", maxCronJobName),
		DrillCronJob:        childName(inst.Name, "drill", maxCronJobName),
		RestoreJob:          childName(inst.Name, "restore", maxName),
		EgressPolicy:        childName(inst.Name, "backup-egress", maxName),
		RestoreEgressPolicy: childName(inst.Name, "restore-egress", maxName),
	}
}

// BackupPolicyLabel is the LabelBackupPolicy value of a policy.
func BackupPolicyLabel(policy string) string { return labelValue(policy) }

// backupLabels are the labels of a backup object and its pods' role.
func backupLabels(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy, run string, pod bool) map[string]string {
	var l map[string]string
	if pod {
		l = PodLabels(inst, prof, opts, ComponentBackup, RoleJob)
	} else {
		l = Labels(inst, prof, opts, ComponentBackup)
	}
	l[LabelBackupPolicy] = BackupPolicyLabel(policy)
	l[LabelBackupRun] = run
	return l
}

// BackupCronJob takes the instance's backups on the policy's schedule.
func BackupCronJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy) *batchv1.CronJob {
	return backupCronJob(inst, prof, opts, policy, BackupRunBackup, string(policy.Spec.Schedule), BackupNamesFor(inst).BackupCronJob)
}

// DrillCronJob rehearses a restore of the newest backup on the drill schedule; nil when
// the policy has no restoreDrill.
func DrillCronJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy) *batchv1.CronJob {
	if policy.Spec.RestoreDrill == nil {
		return nil
	}
	return backupCronJob(inst, prof, opts, policy, BackupRunDrill, string(policy.Spec.RestoreDrill.Schedule), BackupNamesFor(inst).DrillCronJob)
}

func backupCronJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy, run, schedule, name string) *batchv1.CronJob {
	job := backupJobSpec(inst, prof, opts, policy, run, nil)
	var timeZone *string
	if policy.Spec.TimeZone != "" {
		timeZone = ptr.To(policy.Spec.TimeZone)
	}
	var startingDeadline *int64
	if d := policy.Spec.Job.StartingDeadline; d != nil {
		startingDeadline = ptr.To(int64(d.Seconds()))
	}
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: objectMeta(inst, name, backupLabels(inst, prof, opts, policy.Name, run, false)),
		Spec: batchv1.CronJobSpec{
			Schedule: schedule,
			TimeZone: timeZone,
			// Two runs of one instance would compete for the database and the same
			// destination folder; a run still going when the next is due wins.
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    startingDeadline,
			Suspend:                    ptr.To(policy.Spec.Suspend),
			SuccessfulJobsHistoryLimit: ptr.To[int32](backupHistoryLimit),
			FailedJobsHistoryLimit:     ptr.To[int32](backupHistoryLimit),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: backupLabels(inst, prof, opts, policy.Name, run, false)},
				Spec:       job,
			},
		},
	}
}

// RestoreJob restores backupID of the policy's destination into the instance's empty
// database and attachments volume (spec.restoreFrom). Like the migration Job it is
// created once and then only read.
func RestoreJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy) *batchv1.Job {
	src := inst.Spec.RestoreFrom
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: objectMeta(inst, BackupNamesFor(inst).RestoreJob, backupLabels(inst, prof, opts, policy.Name, BackupRunRestore, false)),
		Spec:       backupJobSpec(inst, prof, opts, policy, BackupRunRestore, src),
	}
}

// backupJobSpec is the Job of one run. The pod runs the operator binary, copied by an
// init container from the operator image, inside the PostgreSQL image of the instance's
// major version, so pg_dump and pg_restore match the server.
func backupJobSpec(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy, run string, src *v1alpha1.RestoreSource) batchv1.JobSpec {
	n := NamesFor(inst)
	spec := policy.Spec
	vols, mounts := backupVolumes(inst, prof, opts, policy, run)

	var deadline *int64
	if d := spec.Job.ActiveDeadline; d != nil {
		deadline = ptr.To(int64(d.Seconds()))
	}
	backoff := spec.Job.BackoffLimit
	if run == BackupRunRestore {
		// A restore that failed part-way left data behind; the engine only restores into
		// an empty target, so a retry would fail on it. One attempt, reported.
		backoff = 0
	}
	subcommand := run
	serviceAccount := n.RestoreServiceAccount
	switch run {
	case BackupRunDrill:
		subcommand = "verify"
	case BackupRunBackup:
		serviceAccount = n.BackupServiceAccount
	}
	restricted := containerSecurityContext()
	return batchv1.JobSpec{
		BackoffLimit:          ptr.To(backoff),
		ActiveDeadlineSeconds: deadline,
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: backupLabels(inst, prof, opts, policy.Name, run, true)},
			Spec: corev1.PodSpec{
				RestartPolicy:      corev1.RestartPolicyNever,
				ServiceAccountName: serviceAccount,
				ImagePullSecrets:   imagePullSecrets(opts),
				// The pod needs no API access; its Vault login uses the projected token.
				AutomountServiceAccountToken: ptr.To(false),
				EnableServiceLinks:           ptr.To(false),
				SecurityContext:              backupPodSecurityContext(prof, opts, run),
				InitContainers: []corev1.Container{{
					Name:  "copy-binary",
					Image: opts.OperatorImage,
					// The operator image is distroless (no shell, no cp): the binary copies itself.
					Command:         []string{operatorBinary, "copy-binary", backupBinary},
					SecurityContext: restricted.DeepCopy(),
					VolumeMounts:    []corev1.VolumeMount{{Name: "bin", MountPath: backupBinDir}},
				}},
				Containers: []corev1.Container{{
					Name:                     run,
					Image:                    PostgresImage(inst, opts),
					Command:                  []string{"/bin/sh", "-c", backupScript, backupBinary, subcommand},
					Args:                     backupArgs(inst, prof, opts, policy, run, src),
					Resources:                *spec.Job.Resources.DeepCopy(),
					VolumeMounts:             mounts,
					SecurityContext:          restricted,
					TerminationMessagePath:   terminationLog,
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}},
				Volumes:  vols,
				Affinity: backupAffinity(inst, opts, policy, run),
			},
		},
	}
}

// backupAffinity puts a pod that mounts a ReadWriteOnce attachments volume next to the
// app pods, which hold it: a ReadWriteOnce volume attaches to one node, and a pod on
// another would hang in ContainerCreating. Preferred, not required: with the app scaled
// to zero (or before it first starts, for a restore) the pod must still schedule.
func backupAffinity(inst *v1alpha1.HelpdeskInstance, opts Options, policy *v1alpha1.BackupPolicy, run string) *corev1.Affinity {
	if !includesAttachments(policy) || run == BackupRunDrill || opts.AttachmentsAccessMode == corev1.ReadWriteMany {
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

// backupPodSecurityContext runs backups and restores as the app's user, so the files a
// restore writes into the attachments volume belong to the app and a backup can read them.
// A drill touches no volume of the app but starts its own PostgreSQL server, whose initdb
// needs a user the image knows: the PostgreSQL image's own (CloudNativePG's UID 26).
func backupPodSecurityContext(prof appprofile.Profile, opts Options, run string) *corev1.PodSecurityContext {
	sc := podSecurityContext(prof)
	if run == BackupRunDrill {
		sc.RunAsUser, sc.RunAsGroup, sc.FSGroup = ptr.To(opts.PostgresUID), ptr.To(opts.PostgresUID), ptr.To(opts.PostgresUID)
	}
	return sc
}

// includesAttachments reports whether the policy's backups hold the uploaded files.
func includesAttachments(policy *v1alpha1.BackupPolicy) bool {
	return ptr.Deref(policy.Spec.Include.Attachments, true)
}

// backupVolumes are the pod's volumes: the binary, a bounded /tmp, the Vault token, the
// database's password and CA (not for drills, which never touch the instance's database
// server but restore into their own scratch server), the destination's credentials or
// volume, and the attachments.
func backupVolumes(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy, run string) ([]corev1.Volume, []corev1.VolumeMount) {
	n := NamesFor(inst)
	vols := []corev1.Volume{
		{Name: "bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse(backupTmpSize))}}},
		vaultTokenVolume(opts),
	}
	mounts := []corev1.VolumeMount{
		{Name: "bin", MountPath: backupBinDir, ReadOnly: true},
		{Name: "tmp", MountPath: backupTmpDir},
		{Name: vaultTokenVolumeName, MountPath: vaultTokenDir, ReadOnly: true},
	}
	if run == BackupRunDrill {
		vols = append(vols, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(quantityOr(policy.Spec.RestoreDrill.ScratchSize, "10Gi")),
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "scratch", MountPath: drillScratchDir})
	} else {
		dbVols, dbMounts := databaseClientVolumes(inst, true)
		vols, mounts = append(vols, dbVols...), append(mounts, dbMounts...)
	}
	if opts.Vault.CABundle != "" {
		vols = append(vols, corev1.Volume{Name: "vault-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: n.VaultCA},
			Items:                []corev1.KeyToPath{{Key: VaultCAKey, Path: VaultCAKey}},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "vault-ca", MountPath: vaultCADir, ReadOnly: true})
	}
	// Only a restore reads the destination alone: a drill records its result next to the
	// backup it rehearsed (drills/<id>.json), which retention relies on.
	destVols, destMounts := destinationVolumes(policy, run == BackupRunRestore)
	vols, mounts = append(vols, destVols...), append(mounts, destMounts...)
	// Drills count the attachments without unpacking them, never touching the live volume.
	if includesAttachments(policy) && run != BackupRunDrill {
		vols = append(vols, corev1.Volume{Name: attachmentsVolume, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n.Attachments, ReadOnly: run == BackupRunBackup},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: attachmentsVolume, MountPath: prof.UploadsPath, ReadOnly: run == BackupRunBackup})
	}
	return vols, mounts
}

// destinationVolumes mount the policy's destination: the S3 credentials (and CA) as
// files, or the volume, read-only unless the pod writes or deletes there.
func destinationVolumes(policy *v1alpha1.BackupPolicy, readOnly bool) ([]corev1.Volume, []corev1.VolumeMount) {
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	dest := policy.Spec.Destination
	if s3 := dest.S3; s3 != nil {
		vols = append(vols, corev1.Volume{Name: "s3", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: s3.Credentials.SecretName,
			Items: []corev1.KeyToPath{
				{Key: s3AccessKeyKey(s3), Path: "access-key"},
				{Key: s3SecretKeyKey(s3), Path: "secret-key"},
			},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "s3", MountPath: s3SecretDir, ReadOnly: true})
		if ca := s3.CASecretRef; ca != nil {
			vols = append(vols, corev1.Volume{Name: "s3-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: ca.Name,
				Items:      []corev1.KeyToPath{{Key: ca.Key, Path: "ca.crt"}},
			}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "s3-ca", MountPath: s3CADir, ReadOnly: true})
		}
	}
	if pvc := dest.PersistentVolumeClaim; pvc != nil {
		vols = append(vols, corev1.Volume{Name: "destination", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.ClaimName},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "destination", MountPath: backupDestinationMount,
			// Restores only read backups; backups write and prune them, drills record
			// their result next to them.
			ReadOnly: readOnly})
	}
	return vols, mounts
}

func s3AccessKeyKey(s3 *v1alpha1.S3Destination) string {
	if s3.Credentials.AccessKeyIDKey == "" {
		return "AWS_ACCESS_KEY_ID"
	}
	return s3.Credentials.AccessKeyIDKey
}

func s3SecretKeyKey(s3 *v1alpha1.S3Destination) string {
	if s3.Credentials.SecretAccessKeyKey == "" {
		return "AWS_SECRET_ACCESS_KEY"
	}
	return s3.Credentials.SecretAccessKeyKey
}

// backupArgs are the flags of internal/backup/cli. Everything is a flag (no value is
// secret: passwords and keys are files), so `kubectl get cronjob -o yaml` shows exactly
// what a run does.
func backupArgs(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy, run string, src *v1alpha1.RestoreSource) []string {
	spec := policy.Spec
	source := inst.Name
	if src != nil && src.InstanceName != "" {
		// The backup was taken of another instance of the namespace: read its folder and
		// decrypt with its key, which the restore role may only while this restore runs
		// (the restore ServiceAccount names it as the restore source).
		source = src.InstanceName
	}
	workload := vault.WorkloadRestore
	if run == BackupRunBackup {
		workload = vault.WorkloadBackup
	}
	var args []string
	if run != BackupRunDrill {
		args = append(args, databaseArgs(inst, prof)...)
	}
	args = append(args, "--pg-bin-dir="+fmt.Sprintf("/usr/lib/postgresql/%d/bin", postgresMajor(inst)))
	args = append(args, vaultArgs(inst, opts, workload, source)...)
	args = append(args, destinationArgs(policy)...)
	if includesAttachments(policy) && run != BackupRunDrill {
		args = append(args, "--attachments-dir="+prof.UploadsPath)
	}
	switch run {
	case BackupRunBackup:
		r := spec.Retention
		keepLast := r.KeepLast
		if keepLast < 1 {
			keepLast = 7
		}
		args = append(args,
			"--app-version="+AppImage(inst, prof, opts),
			"--keep-last="+strconv.Itoa(int(keepLast)),
			"--keep-daily="+strconv.Itoa(int(r.KeepDaily)),
			"--keep-weekly="+strconv.Itoa(int(r.KeepWeekly)),
			"--keep-monthly="+strconv.Itoa(int(r.KeepMonthly)),
		)
		if !ptr.Deref(spec.Include.Database, true) {
			args = append(args, "--no-database")
		}
		if r.MaxAge != nil {
			args = append(args, "--max-age="+r.MaxAge.Duration.String())
		}
		if spec.TimeZone != "" {
			args = append(args, "--time-zone="+spec.TimeZone)
		}
	case BackupRunRestore:
		id := "latest"
		if src != nil && src.BackupID != "" {
			id = src.BackupID
		}
		args = append(args, "--id="+id)
	case BackupRunDrill:
		args = append(args, "--id=latest", "--scratch-dir="+drillScratchDir)
	}
	return args
}

// vaultArgs log a job pod in to Vault as workload of inst and name the transit key of
// keyInstance (inst itself, or the source of a restore).
func vaultArgs(inst *v1alpha1.HelpdeskInstance, opts Options, workload vault.Workload, keyInstance string) []string {
	args := []string{
		"--vault-addr=" + opts.Vault.Address,
		"--vault-k8s-role=" + vault.RoleName(opts.Vault.Prefix, inst.Namespace, inst.Name, workload),
		"--vault-k8s-mount=" + opts.Vault.KubernetesAuthMount,
		"--vault-sa-token-file=" + vaultTokenDir + "/token",
		"--transit-mount=" + opts.Vault.TransitMount,
		"--transit-key=" + vault.KeyName(opts.Vault.Prefix, inst.Namespace, keyInstance),
		"--instance-namespace=" + inst.Namespace,
		"--instance-name=" + keyInstance,
	}
	if opts.Vault.CABundle != "" {
		args = append(args, "--vault-ca-file="+vaultCADir+"/"+VaultCAKey)
	}
	return args
}

// destinationArgs name the policy's destination as destinationVolumes mount it.
func destinationArgs(policy *v1alpha1.BackupPolicy) []string {
	var args []string
	if s3 := policy.Spec.Destination.S3; s3 != nil {
		host, insecure := s3Endpoint(s3.Endpoint)
		args = append(args,
			"--s3-endpoint="+host,
			"--s3-bucket="+s3.Bucket,
			"--s3-access-key-file="+s3SecretDir+"/access-key",
			"--s3-secret-key-file="+s3SecretDir+"/secret-key",
			"--s3-force-path-style="+strconv.FormatBool(ptr.Deref(s3.ForcePathStyle, true)),
		)
		if s3.Prefix != "" {
			args = append(args, "--s3-prefix="+s3.Prefix)
		}
		if s3.Region != "" {
			args = append(args, "--s3-region="+s3.Region)
		}
		if insecure {
			args = append(args, "--s3-insecure=true")
		}
		if s3.CASecretRef != nil {
			args = append(args, "--s3-ca-file="+s3CADir+"/ca.crt")
		}
	}
	if pvc := policy.Spec.Destination.PersistentVolumeClaim; pvc != nil {
		args = append(args, "--path="+path.Join(backupDestinationMount, pvc.SubPath))
	}
	return args
}

// s3Endpoint turns the policy's endpoint URL into the host[:port] the backup binary
// wants, and says whether it is plain HTTP.
func s3Endpoint(endpoint string) (string, bool) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://"), strings.HasPrefix(endpoint, "http://")
	}
	return u.Host, u.Scheme == "http"
}

// s3Port is the TCP port of the endpoint.
func s3Port(endpoint string) int32 {
	u, err := url.Parse(endpoint)
	if err == nil {
		if p, err := strconv.Atoi(u.Port()); err == nil && p > 0 && p < 65536 {
			return int32(p)
		}
		if u.Scheme == "http" {
			return 80
		}
	}
	return 443
}

// BackupEgressCIDRs are the addresses the backup pods may reach for an S3 destination:
// spec.destination.s3.egressCIDRs, else the endpoint's address when it is an IP literal;
// nil when neither (a host name: NetworkPolicies cannot name hosts).
func BackupEgressCIDRs(s3 *v1alpha1.S3Destination) []string {
	if s3 == nil {
		return nil
	}
	if len(s3.EgressCIDRs) > 0 {
		return append([]string(nil), s3.EgressCIDRs...)
	}
	u, err := url.Parse(s3.Endpoint)
	if err != nil {
		return nil
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil
	}
	return []string{netip.PrefixFrom(ip, ip.BitLen()).String()}
}
