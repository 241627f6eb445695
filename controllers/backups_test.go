package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

func s3BackupPolicy(ns, name string) *v1alpha1.BackupPolicy {
	return &v1alpha1.BackupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.BackupPolicySpec{
			Schedule: "30 1 * * *",
			TimeZone: "Europe/Berlin",
			Destination: v1alpha1.BackupDestination{S3: &v1alpha1.S3Destination{
				Endpoint: "https://198.51.100.20:9000", Bucket: "backups", Prefix: "helpdesk/",
				Credentials: v1alpha1.S3Credentials{SecretName: "s3"},
				CASecretRef: &v1alpha1.SecretKeyReference{Name: "s3-ca", Key: "ca.pem"},
			}},
			RestoreDrill: &v1alpha1.RestoreDrillSpec{Schedule: "0 5 * * 0"},
			Job:          v1alpha1.BackupJobSpec{StartingDeadline: &metav1.Duration{Duration: 30 * time.Minute}, BackoffLimit: 1},
		},
	}
}

func pvcBackupPolicy(ns, name string) *v1alpha1.BackupPolicy {
	return &v1alpha1.BackupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.BackupPolicySpec{
			Destination: v1alpha1.BackupDestination{PersistentVolumeClaim: &v1alpha1.PVCDestination{ClaimName: "backups", SubPath: "desk"}},
		},
	}
}

func backupVolumeClaim(ns string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backups"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

func update(t *testing.T, obj client.Object, mutate func()) {
	t.Helper()
	eventually(t, wait, func() error {
		if err := get(obj); err != nil {
			return err
		}
		mutate()
		return k8sClient.Update(context.Background(), obj)
	})
}

func TestBackupCronJobsFollowThePolicyReference(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, secret(ns, "s3", map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"}))
	policy := s3BackupPolicy(ns, "offsite")
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.BackupPolicyRef = &v1alpha1.LocalObjectReference{Name: "offsite"}
	})
	mustCreate(t, inst)
	names := resources.BackupNamesFor(inst)

	backup := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.BackupCronJob}}
	eventually(t, wait, exists(backup))
	if !metav1.IsControlledBy(backup, inst) {
		t.Error("the backup CronJob is not owned by the instance")
	}
	spec := backup.Spec
	if spec.Schedule != "30 1 * * *" || ptr.Deref(spec.TimeZone, "") != "Europe/Berlin" || spec.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
		ptr.Deref(spec.StartingDeadlineSeconds, 0) != 1800 || ptr.Deref(spec.Suspend, true) {
		t.Errorf("CronJob schedule %q tz %v concurrency %q startingDeadline %v suspend %v", spec.Schedule, spec.TimeZone, spec.ConcurrencyPolicy, spec.StartingDeadlineSeconds, spec.Suspend)
	}
	job := spec.JobTemplate.Spec
	if ptr.Deref(job.BackoffLimit, -1) != 1 || ptr.Deref(job.ActiveDeadlineSeconds, 0) != 6*3600 {
		t.Errorf("Job backoffLimit %v activeDeadlineSeconds %v, want 1 and the defaulted 6h", job.BackoffLimit, job.ActiveDeadlineSeconds)
	}
	pod := job.Template.Spec
	if psc := pod.SecurityContext; psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v is not restricted", pod.SecurityContext)
	}
	for _, c := range append(append([]corev1.Container(nil), pod.InitContainers...), pod.Containers...) {
		if sc := c.SecurityContext; sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) || len(sc.Capabilities.Drop) != 1 {
			t.Errorf("container %s security context %+v is not restricted", c.Name, c.SecurityContext)
		}
	}
	if pod.ServiceAccountName != resources.NamesFor(inst).BackupServiceAccount || pod.InitContainers[0].Image != testResources.OperatorImage || pod.Containers[0].Image != resources.PostgresImage(inst, testResources) {
		t.Errorf("pod runs as %q with images %q and %q", pod.ServiceAccountName, pod.InitContainers[0].Image, pod.Containers[0].Image)
	}
	var volumes []string
	for _, v := range pod.Volumes {
		volumes = append(volumes, v.Name)
	}
	if want := []string{"bin", "tmp", "vault-token", "db-ca", "db", "vault-ca", "s3", "s3-ca", "attachments"}; !slices.Equal(volumes, want) {
		t.Errorf("volumes %v, want %v", volumes, want)
	}
	args := pod.Containers[0].Args
	for _, want := range []string{"--s3-endpoint=198.51.100.20:9000", "--s3-bucket=backups", "--s3-prefix=helpdesk/", "--s3-ca-file=/etc/helpdesk/s3-ca/ca.crt",
		"--vault-addr=" + vaultSrv.Addr, "--vault-k8s-role=helpdesk_" + ns + "_desk_backup", "--transit-key=helpdesk_" + ns + "_desk", "--time-zone=Europe/Berlin", "--keep-last=7",
		"--db-sslmode=verify-full", "--db-sslrootcert=/etc/helpdesk/db-ca/ca.crt"} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %s: %q", want, args)
		}
	}
	drill := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.DrillCronJob}}
	eventually(t, wait, exists(drill))
	if drill.Spec.Schedule != "0 5 * * 0" {
		t.Errorf("drill schedule %q", drill.Spec.Schedule)
	}
	egress := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.EgressPolicy}}
	eventually(t, wait, exists(egress))
	if len(egress.Spec.Egress) != 1 || egress.Spec.Egress[0].To[0].IPBlock.CIDR != "198.51.100.20/32" || egress.Spec.Egress[0].Ports[0].Port.IntVal != 9000 {
		t.Errorf("egress %+v, want 198.51.100.20/32 on 9000", egress.Spec.Egress)
	}

	// Suspending the policy suspends the CronJobs; dropping the drill removes its CronJob.
	update(t, policy, func() { policy.Spec.Suspend = true; policy.Spec.RestoreDrill = nil })
	eventually(t, wait, func() error {
		if err := get(backup); err != nil {
			return err
		}
		if !ptr.Deref(backup.Spec.Suspend, false) {
			return fmt.Errorf("the backup CronJob is not suspended")
		}
		return nil
	})
	eventually(t, wait, gone(drill))

	// Another policy, on a volume: the same CronJob now writes there, and no egress is needed.
	mustCreate(t, backupVolumeClaim(ns))
	mustCreate(t, pvcBackupPolicy(ns, "local"))
	update(t, inst, func() { inst.Spec.BackupPolicyRef.Name = "local" })
	eventually(t, wait, func() error {
		if err := get(backup); err != nil {
			return err
		}
		args := backup.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		if !slices.Contains(args, "--path=/backup/desk") || backup.Labels[resources.LabelBackupPolicy] != "local" || backup.Spec.Schedule != "0 2 * * *" {
			return fmt.Errorf("CronJob still follows the old policy: %q %v", args, backup.Labels)
		}
		return nil
	})
	eventually(t, wait, gone(egress))

	// No reference: nothing of the backups stays.
	update(t, inst, func() { inst.Spec.BackupPolicyRef = nil })
	eventually(t, wait, gone(backup))
}

// runBackupJob plays the CronJob, Job and kubelet for one run: a Job from the CronJob's
// template, a pod whose container terminated with message, and the Job's final status.
func runBackupJob(t *testing.T, cron *batchv1.CronJob, name string, succeeded bool, start, end time.Time, message string) {
	t.Helper()
	ctx := context.Background()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: cron.Namespace, Name: name, Labels: cron.Spec.JobTemplate.Labels},
		Spec:       *cron.Spec.JobTemplate.Spec.DeepCopy(),
	}
	mustCreate(t, job)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: cron.Namespace, Name: name + "-x", Labels: map[string]string{"batch.kubernetes.io/job-name": name}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "backup", Image: "postgres"}}},
	}
	mustCreate(t, pod)
	exitCode := int32(0)
	if !succeeded {
		exitCode = 1
	}
	pod.Status.Phase = corev1.PodSucceeded
	if !succeeded {
		pod.Status.Phase = corev1.PodFailed
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "backup", Image: "postgres", ImageID: "postgres@sha256:0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, Message: message, StartedAt: metav1.NewTime(start), FinishedAt: metav1.NewTime(end),
		}},
	}}
	if err := k8sClient.Status().Update(ctx, pod); err != nil {
		t.Fatalf("pod status: %v", err)
	}
	finishJob(t, job, start, end, succeeded)
}

func TestBackupPolicyStatusAndMetricsFromFinishedJobs(t *testing.T) {
	ns := newNamespace(t)
	saved := testClock.Now()
	defer func() { testClock.mu.Lock(); testClock.now = saved; testClock.mu.Unlock() }()
	now := saved

	mustCreate(t, backupVolumeClaim(ns))
	policy := pvcBackupPolicy(ns, "nightly") // 0 2 * * * in UTC: stale after 48h
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.BackupPolicyRef = &v1alpha1.LocalObjectReference{Name: "nightly"}
	})
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionBackupHealthy, metav1.ConditionFalse, v1alpha1.ReasonNoBackupYet))
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(inst).BackupCronJob}}
	eventually(t, wait, exists(cron))

	// A success.
	okStart, okEnd := now.Add(-time.Hour), now.Add(-50*time.Minute)
	runBackupJob(t, cron, cron.Name+"-1", true, okStart, okEnd,
		"backup log line\n"+`{"id":"20261124T093000Z-aa11","size":123456,"plainSize":999999,"durationSeconds":600,"objects":3,"keyVersion":1,"kept":1}`)
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionBackupHealthy, metav1.ConditionTrue, v1alpha1.ReasonBackupSucceeded))
	st := policy.Status
	if st.LastSuccessfulBackup == nil || st.LastSuccessfulBackup.ID != "20261124T093000Z-aa11" || st.LastSuccessfulBackup.SizeBytes != 123456 ||
		st.LastSuccessfulBackup.Duration.Duration != 10*time.Minute || st.LastSuccessfulBackup.Instance != "desk" || !st.LastSuccessfulBackup.CompletionTime.Time.Equal(okEnd.Truncate(time.Second)) {
		t.Errorf("lastSuccessfulBackup = %+v", st.LastSuccessfulBackup)
	}
	if st.LastBackup == nil || st.LastBackup.ID != st.LastSuccessfulBackup.ID || len(st.RecentBackups) != 1 {
		t.Errorf("lastBackup %+v, %d recent backups", st.LastBackup, len(st.RecentBackups))
	}
	labels := []string{ns, "desk", "nightly"}
	if got := testutil.ToFloat64(backupSuccessTotal.WithLabelValues(labels...)); got != 1 {
		t.Errorf("success total %v, want 1", got)
	}
	if got := testutil.ToFloat64(backupSizeBytes.WithLabelValues(labels...)); got != 123456 {
		t.Errorf("size %v, want 123456", got)
	}
	if got := testutil.ToFloat64(backupDurationSeconds.WithLabelValues(labels...)); got != 600 {
		t.Errorf("duration %v, want 600", got)
	}
	if got := testutil.ToFloat64(backupLastSuccessTimestamp.WithLabelValues(labels...)); got != float64(okEnd.Unix()) {
		t.Errorf("last success %v, want %d", got, okEnd.Unix())
	}

	// Then a failure: recorded first, counted once, one event; the recent success keeps
	// the policy healthy.
	runBackupJob(t, cron, cron.Name+"-2", false, now.Add(-20*time.Minute), now.Add(-15*time.Minute),
		`{"subcommand":"backup","error":"pg_dump: connection to server refused"}`)
	eventually(t, wait, func() error {
		if err := get(policy); err != nil {
			return err
		}
		if len(policy.Status.RecentBackups) != 2 {
			return fmt.Errorf("%d recent backups, want 2", len(policy.Status.RecentBackups))
		}
		return nil
	})
	st = policy.Status
	if first := st.RecentBackups[0]; first.Result != backupFailed || !strings.Contains(first.Message, "connection to server refused") || st.RecentBackups[1].Result != backupSucceeded {
		t.Errorf("recent backups not newest first with the failure's message: %+v", st.RecentBackups)
	}
	if st.LastBackup.Result != backupFailed || st.LastSuccessfulBackup.ID != "20261124T093000Z-aa11" {
		t.Errorf("lastBackup %+v lastSuccessfulBackup %+v", st.LastBackup, st.LastSuccessfulBackup)
	}
	if err := conditionIs(policy, v1alpha1.ConditionBackupHealthy, metav1.ConditionTrue, v1alpha1.ReasonBackupSucceeded)(); err != nil {
		t.Error(err)
	}

	// Two days later without a success the failure is what the condition reports.
	testClock.mu.Lock()
	testClock.now = now.Add(48 * time.Hour)
	testClock.mu.Unlock()
	update(t, policy, func() { policy.Annotations = map[string]string{"test/touch": "1"} })
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionBackupHealthy, metav1.ConditionFalse, v1alpha1.ReasonBackupFailed))
	if msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionBackupHealthy).Message; !strings.Contains(msg, "connection to server refused") {
		t.Errorf("BackupHealthy message %q does not carry the failure", msg)
	}
	if got := testutil.ToFloat64(backupFailureTotal.WithLabelValues(labels...)); got != 1 {
		t.Errorf("failure total %v after more reconciles, want each failed Job counted once", got)
	}
	if got := testutil.ToFloat64(backupSuccessTotal.WithLabelValues(labels...)); got != 1 {
		t.Errorf("success total %v, want 1", got)
	}
	failures := 0
	for _, e := range recorder.of(ns, "nightly") {
		if e.reason == v1alpha1.ReasonBackupFailed {
			failures++
		}
	}
	if failures != 1 {
		t.Errorf("%d BackupFailed events, want 1", failures)
	}

	// A success clears it; nothing newer fails, so an old success alone is stale.
	runBackupJob(t, cron, cron.Name+"-3", true, now.Add(47*time.Hour), now.Add(47*time.Hour+time.Minute), `{"id":"20261126T093000Z-bb22","size":1,"durationSeconds":60}`)
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionBackupHealthy, metav1.ConditionTrue, v1alpha1.ReasonBackupSucceeded))
	testClock.mu.Lock()
	testClock.now = now.Add(96 * time.Hour)
	testClock.mu.Unlock()
	update(t, policy, func() { policy.Annotations = map[string]string{"test/touch": "2"} })
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionBackupHealthy, metav1.ConditionFalse, v1alpha1.ReasonBackupStale))

	// No secret value reaches the status.
	if strings.Contains(fmt.Sprintf("%+v", policy.Status), "AWS_SECRET") {
		t.Error("the status mentions a secret")
	}
}

func TestRestoreFromRunsBeforeTheMigration(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, backupVolumeClaim(ns))
	mustCreate(t, pvcBackupPolicy(ns, "local"))
	old := newInstance(ns, "old")
	mustCreate(t, old)
	eventually(t, wait, conditionIs(old, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))
	oldKey := old.Status.Encryption.KeyName
	sealed, err := vaultSrv.Client(t).Logical().Write("transit/encrypt/"+oldKey, map[string]any{"plaintext": "ZmlsZSBrZXk="})
	if err != nil {
		t.Fatal(err)
	}
	decryptOld := func(c *vaultapi.Client) error {
		_, err := c.Logical().Write("transit/decrypt/"+oldKey, map[string]any{"ciphertext": sealed.Data["ciphertext"]})
		return err
	}

	inst := newInstance(ns, "restored", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupPolicyName: "local", InstanceName: "old", BackupID: "latest"}
	})
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonRestoring))
	if inst.Status.Restore == nil || inst.Status.Restore.Phase != v1alpha1.RestorePhasePending {
		t.Errorf("status.restore = %+v before the database is ready, want Pending", inst.Status.Restore)
	}
	markDatabaseReady(t, inst)

	restore := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(inst).RestoreJob}}
	eventually(t, wait, exists(restore))
	c := restore.Spec.Template.Spec.Containers[0]
	if c.Command[len(c.Command)-1] != "restore" || !slices.Contains(c.Args, "--id=latest") || !slices.Contains(c.Args, "--instance-name=old") || !slices.Contains(c.Args, "--path=/backup/desk") {
		t.Errorf("restore Job runs %q %q", c.Command, c.Args)
	}
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		if inst.Status.Restore == nil || inst.Status.Restore.Phase != v1alpha1.RestorePhaseRunning {
			return fmt.Errorf("status.restore = %+v, want Running", inst.Status.Restore)
		}
		return nil
	})
	migrations := &batchv1.JobList{}
	if err := k8sClient.List(context.Background(), migrations, client.InNamespace(ns), client.MatchingLabels{resources.LabelComponent: resources.ComponentMigration}); err != nil {
		t.Fatal(err)
	}
	if len(migrations.Items) != 0 {
		t.Fatal("the migration Job started before the restore finished")
	}
	// While it restores, the restore workload (and only it) may decrypt with the old
	// instance's key, never encrypt; the app's and the backup's roles never may.
	restoreSA := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(inst).RestoreServiceAccount}}
	if err := get(restoreSA); err != nil || restoreSA.Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)] != "old" {
		t.Fatalf("while restoring, the restore ServiceAccount names restore source %q (err %v), want old", restoreSA.Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)], err)
	}
	restoring, err := vaultLogin(t, inst, vault.WorkloadRestore)
	if err != nil {
		t.Fatal(err)
	}
	if err := decryptOld(restoring); err != nil {
		t.Errorf("the restore cannot decrypt the old instance's backup: %v", err)
	}
	if _, err := restoring.Logical().Write("transit/encrypt/"+oldKey, map[string]any{"plaintext": "eA=="}); !vault.IsPermissionDenied(err) {
		t.Errorf("the restore encrypting with the old instance's key: %v, want permission denied", err)
	}
	backupRole, err := vaultLogin(t, inst, vault.WorkloadBackup)
	if err != nil {
		t.Fatal(err)
	}
	if err := decryptOld(backupRole); !vault.IsPermissionDenied(err) {
		t.Errorf("the backup workload decrypting the old instance's backup: %v, want permission denied", err)
	}

	// The restore succeeds: the migration runs, then the app serves the restored data.
	playRestore(t, restore, true, `{"id":"20261120T020000Z-cc33","size":42,"durationSeconds":12,"attachments":3}`)
	completeMigration(t, inst)
	markDeploymentAvailable(t, inst, 1)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
	if inst.Status.Restore.Phase != v1alpha1.RestorePhaseSucceeded || inst.Status.Restore.BackupID != "20261120T020000Z-cc33" {
		t.Errorf("status.restore = %+v, want Succeeded with the resolved ID", inst.Status.Restore)
	}
	// The grant ends with the restore: the annotation goes, and a new login gets nothing.
	eventually(t, wait, func() error {
		if err := get(restoreSA); err != nil {
			return err
		}
		if v, ok := restoreSA.Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)]; ok {
			return fmt.Errorf("after the restore the ServiceAccount still names restore source %q", v)
		}
		return nil
	})
	after, err := vaultLogin(t, inst, vault.WorkloadRestore)
	if err != nil {
		t.Fatal(err)
	}
	if err := decryptOld(after); !vault.IsPermissionDenied(err) {
		t.Errorf("after the restore, a new restore login decrypting the old instance's backup: %v, want permission denied", err)
	}

	// A failed restore stops the instance with the engine's message; nothing migrates.
	broken := newInstance(ns, "broken", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupPolicyName: "local", BackupID: "20261101T020000Z-dd44"}
	})
	mustCreate(t, broken)
	markDatabaseReady(t, broken)
	failedJob := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(broken).RestoreJob}}
	eventually(t, wait, exists(failedJob))
	playRestore(t, failedJob, false, `{"subcommand":"restore","error":"backup 20261101T020000Z-dd44 not found"}`)
	eventually(t, wait, conditionIs(broken, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonRestoreFailed))
	if st := broken.Status.Restore; st == nil || st.Phase != v1alpha1.RestorePhaseFailed || !strings.Contains(st.Message, "not found") {
		t.Errorf("status.restore = %+v, want Failed with the engine's error", st)
	}
	if msg := meta.FindStatusCondition(broken.Status.Conditions, v1alpha1.ConditionAppReady).Message; !strings.Contains(msg, "not found") {
		t.Errorf("AppReady message %q lacks the error", msg)
	}
	if err := k8sClient.List(context.Background(), migrations, client.InNamespace(ns), client.MatchingLabels{resources.LabelComponent: resources.ComponentMigration, resources.LabelInstance: "broken"}); err != nil {
		t.Fatal(err)
	}
	if len(migrations.Items) != 0 {
		t.Error("a migration started after a failed restore")
	}
}

// playRestore plays the Job controller and kubelet for a restore Job.
func playRestore(t *testing.T, job *batchv1.Job, succeeded bool, message string) {
	t.Helper()
	now := time.Now()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: job.Name + "-x", Labels: map[string]string{"batch.kubernetes.io/job-name": job.Name}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "restore", Image: "postgres"}}},
	}
	mustCreate(t, pod)
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "restore", Image: "postgres", ImageID: "postgres@sha256:0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: message, StartedAt: metav1.NewTime(now.Add(-time.Minute)), FinishedAt: metav1.NewTime(now)}},
	}}
	if err := k8sClient.Status().Update(context.Background(), pod); err != nil {
		t.Fatalf("pod status: %v", err)
	}
	if err := get(job); err != nil {
		t.Fatal(err)
	}
	finishJob(t, job, now.Add(-time.Minute), now, succeeded)
}

// TestRestoreSourceMustResolve: a restore source that is neither an instance of the
// namespace nor a key the operator retained is not granted anything, and the restore
// waits saying why; the source appearing later is noticed.
func TestRestoreSourceMustResolve(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, backupVolumeClaim(ns))
	mustCreate(t, pvcBackupPolicy(ns, "local"))
	inst := newInstance(ns, "orphan", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupPolicyName: "local", InstanceName: "ghost"}
	})
	mustCreate(t, inst)
	markDatabaseReady(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonRestoreSourceNotFound))
	restoreSA := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(inst).RestoreServiceAccount}}
	eventually(t, wait, exists(restoreSA))
	if v, ok := restoreSA.Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)]; ok {
		t.Errorf("an unresolved restore source was granted: %q", v)
	}
	if err := get(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(inst).RestoreJob}}); !apierrors.IsNotFound(err) {
		t.Errorf("a restore Job exists for an unresolved source (err %v)", err)
	}
	// The source appearing is noticed through the watch alone, and granted.
	mustCreate(t, newInstance(ns, "ghost"))
	eventually(t, wait, exists(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(inst).RestoreJob}}))
	if err := get(restoreSA); err != nil || restoreSA.Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)] != "ghost" {
		t.Errorf("the live source is not granted: %v %v", restoreSA.Annotations, err)
	}
	// A restore that fails for good takes the grant back.
	orphanJob := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(inst).RestoreJob}}
	if err := get(orphanJob); err != nil {
		t.Fatal(err)
	}
	playRestore(t, orphanJob, false, `{"subcommand":"restore","error":"no backup of ghost in the destination"}`)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonRestoreFailed))
	eventually(t, wait, func() error {
		if err := get(restoreSA); err != nil {
			return err
		}
		if v, granted := restoreSA.Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)]; granted {
			return fmt.Errorf("after the failed restore the restore ServiceAccount still grants %q", v)
		}
		return nil
	})

	// The key a deleted instance retained is a valid source too.
	retained := newInstance(ns, "retained")
	mustCreate(t, retained)
	eventually(t, wait, conditionIs(retained, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))
	if err := k8sClient.Delete(context.Background(), retained); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, gone(retained))
	heir := newInstance(ns, "heir", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupPolicyName: "local", InstanceName: "retained"}
	})
	mustCreate(t, heir)
	markDatabaseReady(t, heir)
	eventually(t, wait, exists(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(heir).RestoreJob}}))
	heirSA := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(heir).RestoreServiceAccount}}
	if err := get(heirSA); err != nil || heirSA.Annotations[vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)] != "retained" {
		t.Errorf("the retained source is not granted: %v %v", heirSA.Annotations, err)
	}
}
