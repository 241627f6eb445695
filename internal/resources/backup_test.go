package resources

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func backupOptions() Options {
	o := testOptions()
	o.OperatorImage = "ghcr.io/privatedesk/helpdesk-operator:v0.3.0"
	o.Vault.Address = "https://vault.vault.svc:8200"
	return o
}

// s3Policy is a policy as the API server defaults it, with every S3 knob set.
func s3Policy() *v1alpha1.BackupPolicy {
	return &v1alpha1.BackupPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "tenant-a"},
		Spec: v1alpha1.BackupPolicySpec{
			Schedule: "0 2 * * *",
			TimeZone: "Europe/Berlin",
			Destination: v1alpha1.BackupDestination{S3: &v1alpha1.S3Destination{
				Endpoint: "https://203.0.113.10:9000", Bucket: "helpdesk-backups", Prefix: "prod/", Region: "eu-central-1",
				Credentials:    v1alpha1.S3Credentials{SecretName: "s3-credentials", AccessKeyIDKey: "AWS_ACCESS_KEY_ID", SecretAccessKeyKey: "AWS_SECRET_ACCESS_KEY"},
				CASecretRef:    &v1alpha1.SecretKeyReference{Name: "s3-ca", Key: "ca.crt"},
				ForcePathStyle: ptr.To(true),
			}},
			Retention:    v1alpha1.BackupRetention{KeepLast: 7, KeepDaily: 14, KeepWeekly: 8, KeepMonthly: 12, MaxAge: &metav1.Duration{Duration: 8760 * time.Hour}},
			Include:      v1alpha1.BackupContents{Database: ptr.To(true), Attachments: ptr.To(true)},
			RestoreDrill: &v1alpha1.RestoreDrillSpec{Schedule: "0 5 * * 0"},
			Job: v1alpha1.BackupJobSpec{
				ActiveDeadline: &metav1.Duration{Duration: 6 * time.Hour}, StartingDeadline: &metav1.Duration{Duration: time.Hour}, BackoffLimit: 2,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}},
			},
		},
	}
}

// pvcPolicy writes to a volume, without attachments and without drills, suspended.
func pvcPolicy() *v1alpha1.BackupPolicy {
	return &v1alpha1.BackupPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: "tenant-a"},
		Spec: v1alpha1.BackupPolicySpec{
			Schedule:    "@hourly",
			Suspend:     true,
			Destination: v1alpha1.BackupDestination{PersistentVolumeClaim: &v1alpha1.PVCDestination{ClaimName: "backups", SubPath: "helpdesk"}},
			Retention:   v1alpha1.BackupRetention{KeepLast: 3},
			Include:     v1alpha1.BackupContents{Database: ptr.To(true), Attachments: ptr.To(false)},
			Job:         v1alpha1.BackupJobSpec{ActiveDeadline: &metav1.Duration{Duration: time.Hour}, StartingDeadline: &metav1.Duration{Duration: time.Minute}},
		},
	}
}

func restoringInstance() *v1alpha1.HelpdeskInstance {
	inst := minimalInstance()
	inst.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupPolicyName: "nightly", BackupID: "20261124T020000Z-ab12"}
	return inst
}

// TestBackupGolden compares the backup objects of both policies with a reviewed file.
func TestBackupGolden(t *testing.T) {
	prof := helpyProfile(t)
	opts := backupOptions()
	inst := minimalInstance()
	objs := []runtime.Object{
		BackupCronJob(inst, prof, opts, s3Policy()),
		DrillCronJob(inst, prof, opts, s3Policy()),
		BackupNetworkPolicy(inst, prof, opts, s3Policy()),
		BackupCronJob(inst, prof, opts, pvcPolicy()),
		RestoreJob(restoringInstance(), prof, opts, s3Policy()),
	}
	compareGolden(t, "backup.yaml", objs)
}

func TestBackupCronJobs(t *testing.T) {
	prof := helpyProfile(t)
	opts := backupOptions()
	for _, tc := range []struct {
		name          string
		inst          *v1alpha1.HelpdeskInstance
		policy        *v1alpha1.BackupPolicy
		wantArgs      []string
		wantVolumes   []string
		wantReadOnly  map[string]bool
		wantTimeZone  *string
		wantSuspended bool
	}{
		{
			name: "S3", inst: minimalInstance(), policy: s3Policy(),
			wantArgs: []string{"--s3-endpoint=203.0.113.10:9000", "--s3-bucket=helpdesk-backups", "--s3-prefix=prod/", "--s3-region=eu-central-1",
				"--s3-access-key-file=/etc/helpdesk/s3/access-key", "--s3-secret-key-file=/etc/helpdesk/s3/secret-key", "--s3-ca-file=/etc/helpdesk/s3-ca/ca.crt",
				"--keep-last=7", "--keep-daily=14", "--keep-weekly=8", "--keep-monthly=12", "--max-age=8760h0m0s", "--time-zone=Europe/Berlin",
				"--attachments-dir=/helpy/public/uploads", "--vault-k8s-role=helpdesk_tenant-a_support_backup", "--transit-key=helpdesk_tenant-a_support",
				"--db-host=support-db-rw", "--db-password-file=/etc/helpdesk/db/password", "--pg-bin-dir=/usr/lib/postgresql/16/bin",
				"--vault-sa-token-file=/var/run/secrets/helpdesk/vault/token", "--vault-addr=https://vault.vault.svc:8200"},
			wantVolumes:  []string{"bin", "tmp", "vault-token", "db-ca", "db", "s3", "s3-ca", "attachments"},
			wantReadOnly: map[string]bool{"attachments": true, "db": true, "s3": true},
			wantTimeZone: ptr.To("Europe/Berlin"),
		},
		{
			name: "volume", inst: haInstance(), policy: pvcPolicy(),
			wantArgs:      []string{"--path=/backup/helpdesk", "--keep-last=3", "--pg-bin-dir=/usr/lib/postgresql/17/bin"},
			wantVolumes:   []string{"bin", "tmp", "vault-token", "db-ca", "db", "destination"},
			wantReadOnly:  map[string]bool{"destination": false},
			wantSuspended: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := BackupCronJob(tc.inst, prof, opts, tc.policy)
			spec := cj.Spec
			if spec.Schedule != string(tc.policy.Spec.Schedule) || !reflect.DeepEqual(spec.TimeZone, tc.wantTimeZone) {
				t.Errorf("schedule %q in %v, want %q in %v", spec.Schedule, spec.TimeZone, tc.policy.Spec.Schedule, tc.wantTimeZone)
			}
			if spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || ptr.Deref(spec.Suspend, !tc.wantSuspended) != tc.wantSuspended {
				t.Errorf("concurrency %q suspend %v", spec.ConcurrencyPolicy, spec.Suspend)
			}
			if ptr.Deref(spec.StartingDeadlineSeconds, 0) != int64(tc.policy.Spec.Job.StartingDeadline.Seconds()) ||
				ptr.Deref(spec.JobTemplate.Spec.ActiveDeadlineSeconds, 0) != int64(tc.policy.Spec.Job.ActiveDeadline.Seconds()) ||
				ptr.Deref(spec.JobTemplate.Spec.BackoffLimit, -1) != tc.policy.Spec.Job.BackoffLimit {
				t.Errorf("deadlines %v/%v backoff %v do not follow spec.job", spec.StartingDeadlineSeconds, spec.JobTemplate.Spec.ActiveDeadlineSeconds, spec.JobTemplate.Spec.BackoffLimit)
			}
			if ptr.Deref(spec.SuccessfulJobsHistoryLimit, 0) > 5 || ptr.Deref(spec.FailedJobsHistoryLimit, 0) > 5 {
				t.Error("history limits must stay small")
			}
			pod := spec.JobTemplate.Spec.Template.Spec
			checkRestricted(t, tc.name, pod)
			if pod.ServiceAccountName != NamesFor(tc.inst).BackupServiceAccount || ptr.Deref(pod.AutomountServiceAccountToken, true) {
				t.Errorf("service account %q automount %v; want the backup workload's, with only the projected token", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
			}
			labels := spec.JobTemplate.Spec.Template.Labels
			if labels[LabelHelpdeskRole] != RoleJob || labels[LabelBackupPolicy] != tc.policy.Name || labels[LabelBackupRun] != BackupRunBackup || labels[LabelComponent] != ComponentBackup {
				t.Errorf("pod labels %v", labels)
			}
			if spec.JobTemplate.Labels[LabelBackupPolicy] != tc.policy.Name {
				t.Errorf("Job labels %v lack the policy", spec.JobTemplate.Labels)
			}
			if len(pod.InitContainers) != 1 || pod.InitContainers[0].Image != opts.OperatorImage {
				t.Errorf("init containers %+v; want one copying the binary from the operator image", pod.InitContainers)
			}
			c := pod.Containers[0]
			if c.Image != PostgresImage(tc.inst, opts) {
				t.Errorf("image %q, want the instance's PostgreSQL image", c.Image)
			}
			if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError || !strings.Contains(c.Command[2], "/dev/termination-log") || !strings.Contains(c.Command[2], `exit "$rc"`) {
				t.Errorf("the result line must reach the termination message and the exit code must survive: %q", c.Command)
			}
			if c.Command[len(c.Command)-1] != "backup" {
				t.Errorf("command %q does not run the backup subcommand", c.Command)
			}
			for _, a := range tc.wantArgs {
				if !slices.Contains(c.Args, a) {
					t.Errorf("args lack %s: %q", a, c.Args)
				}
			}
			if len(c.Env) != 0 || len(c.EnvFrom) != 0 {
				t.Errorf("the backup container gets environment %v %v; secrets must be files", c.Env, c.EnvFrom)
			}
			var vols []string
			for _, v := range pod.Volumes {
				vols = append(vols, v.Name)
				if v.Secret != nil && len(v.Secret.Items) == 0 {
					t.Errorf("volume %s mounts the whole Secret %s; mount only the keys needed", v.Name, v.Secret.SecretName)
				}
			}
			for _, v := range pod.Volumes {
				if v.Name == "vault-token" && (v.Projected == nil || v.Projected.Sources[0].ServiceAccountToken.Audience != opts.Vault.Audience) {
					t.Errorf("the Vault token %+v is not for the Vault audience", v.VolumeSource)
				}
				if v.Name == "db-ca" && (v.Secret == nil || v.Secret.SecretName != NamesFor(tc.inst).DatabaseCA || v.Secret.Items[0].Key != "ca.crt") {
					t.Errorf("the database CA volume %+v must mount only ca.crt of CloudNativePG's CA Secret", v.VolumeSource)
				}
			}
			if !reflect.DeepEqual(vols, tc.wantVolumes) {
				t.Errorf("volumes %v, want %v", vols, tc.wantVolumes)
			}
			if hasAttachments := slices.Contains(tc.wantVolumes, attachmentsVolume); (pod.Affinity != nil) != hasAttachments {
				t.Errorf("affinity %+v; a pod needs to join the app's node exactly when it mounts the ReadWriteOnce attachments", pod.Affinity)
			}
			for _, m := range c.VolumeMounts {
				if want, ok := tc.wantReadOnly[m.Name]; ok && m.ReadOnly != want {
					t.Errorf("mount %s read-only %v, want %v", m.Name, m.ReadOnly, want)
				}
			}
		})
	}
}

func TestDrillCronJob(t *testing.T) {
	prof := helpyProfile(t)
	opts := backupOptions()
	if DrillCronJob(minimalInstance(), prof, opts, pvcPolicy()) != nil {
		t.Error("a policy without restoreDrill must get no drill CronJob")
	}
	cj := DrillCronJob(minimalInstance(), prof, opts, s3Policy())
	if cj.Spec.Schedule != "0 5 * * 0" || cj.Name == BackupCronJob(minimalInstance(), prof, opts, s3Policy()).Name {
		t.Errorf("drill CronJob %s on %q", cj.Name, cj.Spec.Schedule)
	}
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	if c.Command[len(c.Command)-1] != "verify" || !slices.Contains(c.Args, "--id=latest") || !slices.Contains(c.Args, "--scratch-dir=/scratch") {
		t.Errorf("drill runs %q %q", c.Command, c.Args)
	}
	// A drill restores into its own throwaway server: it never reaches the instance's
	// database, so it gets neither its password nor its host.
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--db-") {
			t.Errorf("drill arg %s: a drill must not connect to the instance's database", a)
		}
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if sc := pod.SecurityContext; ptr.Deref(sc.RunAsUser, 0) != opts.PostgresUID || ptr.Deref(sc.RunAsGroup, 0) != opts.PostgresUID || !ptr.Deref(sc.RunAsNonRoot, false) {
		t.Errorf("drill pod runs as %v:%v; want the PostgreSQL image's user %d, which its initdb can look up", sc.RunAsUser, sc.RunAsGroup, opts.PostgresUID)
	}
	if pod.ServiceAccountName != NamesFor(minimalInstance()).RestoreServiceAccount {
		t.Errorf("drill runs as %q, want the restore workload", pod.ServiceAccountName)
	}
	for _, v := range pod.Volumes {
		switch v.Name {
		case attachmentsVolume, "db":
			t.Errorf("a drill must never mount volume %s", v.Name)
		case "scratch":
			if v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.String() != "10Gi" {
				t.Errorf("scratch volume %+v, want an emptyDir sized from the policy", v.VolumeSource)
			}
		case "tmp":
			if v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
				t.Error("/tmp has no size limit")
			}
		}
	}
	if cj.Spec.JobTemplate.Spec.Template.Labels[LabelBackupRun] != BackupRunDrill {
		t.Error("drill pods must be told apart from backups")
	}
}

// A drill writes its record (drills/<id>.json) next to the backup it rehearsed, which
// retention keeps; a restore only reads. On a volume destination that is the mount's mode.
func TestDestinationVolumeIsWritableOnlyForWhatWritesThere(t *testing.T) {
	prof := helpyProfile(t)
	policy := pvcPolicy()
	policy.Spec.RestoreDrill = &v1alpha1.RestoreDrillSpec{Schedule: "0 5 * * 0"}
	pods := map[string]corev1.PodSpec{
		"backup":  BackupCronJob(minimalInstance(), prof, backupOptions(), policy).Spec.JobTemplate.Spec.Template.Spec,
		"drill":   DrillCronJob(minimalInstance(), prof, backupOptions(), policy).Spec.JobTemplate.Spec.Template.Spec,
		"restore": RestoreJob(restoringInstance(), prof, backupOptions(), policy).Spec.Template.Spec,
	}
	wantReadOnly := map[string]bool{"backup": false, "drill": false, "restore": true}
	for run, pod := range pods {
		found := false
		for _, m := range pod.Containers[0].VolumeMounts {
			if m.Name == "destination" {
				found = true
				if m.ReadOnly != wantReadOnly[run] {
					t.Errorf("%s mounts the destination volume read-only=%v, want %v", run, m.ReadOnly, wantReadOnly[run])
				}
			}
		}
		if !found {
			t.Errorf("%s does not mount the destination volume", run)
		}
	}
}

func TestRestoreJob(t *testing.T) {
	prof := helpyProfile(t)
	inst := restoringInstance()
	j := RestoreJob(inst, prof, backupOptions(), s3Policy())
	checkRestricted(t, "restore", j.Spec.Template.Spec)
	c := j.Spec.Template.Spec.Containers[0]
	if c.Command[len(c.Command)-1] != "restore" || !slices.Contains(c.Args, "--id=20261124T020000Z-ab12") {
		t.Errorf("restore runs %q %q", c.Command, c.Args)
	}
	if ptr.Deref(j.Spec.BackoffLimit, -1) != 0 {
		t.Error("a restore must not be retried into a half-filled database")
	}
	for _, m := range c.VolumeMounts {
		if m.Name == attachmentsVolume && m.ReadOnly {
			t.Error("the restore writes the attachments")
		}
	}
	inst.Spec.RestoreFrom.InstanceName = "old-desk"
	c = RestoreJob(inst, prof, backupOptions(), s3Policy()).Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--instance-name=old-desk") || !slices.Contains(c.Args, "--transit-key=helpdesk_tenant-a_old-desk") || !slices.Contains(c.Args, "--vault-k8s-role=helpdesk_tenant-a_support_restore") {
		t.Errorf("restoring another instance's backup reads its folder with its key, logged in as this one: %q", c.Args)
	}
}

func TestBackupNames(t *testing.T) {
	inst := minimalInstance()
	inst.Name = strings.Repeat("a", 253)
	n := BackupNamesFor(inst)
	if len(n.BackupCronJob) > 52 || len(n.DrillCronJob) > 52 || len(n.RestoreJob) > 63 || len(n.EgressPolicy) > 63 {
		t.Errorf("names too long: %+v", n)
	}
	other := minimalInstance()
	other.Name = strings.Repeat("a", 252) + "b"
	if BackupNamesFor(other).BackupCronJob == n.BackupCronJob {
		t.Error("two long instance names share a CronJob name")
	}
	if got := BackupNamesFor(minimalInstance()); got.BackupCronJob != "support-backup" || got.DrillCronJob != "support-drill" {
		t.Errorf("short names changed: %+v", got)
	}
	long := s3Policy()
	long.Name = strings.Repeat("p", 253)
	if v := BackupCronJob(minimalInstance(), helpyProfile(t), backupOptions(), long).Labels[LabelBackupPolicy]; len(v) > 63 {
		t.Errorf("policy label %q is not a label value", v)
	}
}

func TestBackupEgress(t *testing.T) {
	prof := helpyProfile(t)
	for _, tc := range []struct {
		endpoint string
		cidrs    []string
		want     []string
		port     int32
	}{
		{"https://203.0.113.10:9000", nil, []string{"203.0.113.10/32"}, 9000},
		{"https://[2001:db8::5]", nil, []string{"2001:db8::5/128"}, 443},
		{"http://198.51.100.7", nil, []string{"198.51.100.7/32"}, 80},
		{"https://s3.example.com", []string{"198.51.100.0/24", "192.0.2.0/28"}, []string{"198.51.100.0/24", "192.0.2.0/28"}, 443},
		{"https://s3.example.com", nil, nil, 0},
	} {
		policy := s3Policy()
		policy.Spec.Destination.S3.Endpoint, policy.Spec.Destination.S3.EgressCIDRs = tc.endpoint, tc.cidrs
		np := BackupNetworkPolicy(minimalInstance(), prof, backupOptions(), policy)
		if tc.want == nil {
			if np != nil {
				t.Errorf("%s: a host name without CIDRs must get no policy, got %+v", tc.endpoint, np.Spec)
			}
			continue
		}
		if np == nil {
			t.Fatalf("%s: no policy", tc.endpoint)
		}
		var got []string
		for _, peer := range np.Spec.Egress[0].To {
			got = append(got, peer.IPBlock.CIDR)
		}
		if !reflect.DeepEqual(got, tc.want) || np.Spec.Egress[0].Ports[0].Port.IntVal != tc.port || len(np.Spec.Egress) != 1 {
			t.Errorf("%s: egress to %v port %v, want %v port %d", tc.endpoint, got, np.Spec.Egress[0].Ports[0].Port, tc.want, tc.port)
		}
		if np.Spec.PodSelector.MatchLabels[LabelComponent] != ComponentBackup || np.Spec.PodSelector.MatchLabels[LabelHelpdeskInstance] != "support" {
			t.Errorf("%s: selects %v; want only the instance's backup pods", tc.endpoint, np.Spec.PodSelector.MatchLabels)
		}
	}
	if BackupNetworkPolicy(minimalInstance(), prof, backupOptions(), pvcPolicy()) != nil || RestoreNetworkPolicy(minimalInstance(), prof, backupOptions(), pvcPolicy()) != nil {
		t.Error("a volume destination needs no egress")
	}
	restore := RestoreNetworkPolicy(minimalInstance(), prof, backupOptions(), s3Policy())
	if restore.Name == BackupNamesFor(minimalInstance()).EgressPolicy || restore.Spec.PodSelector.MatchLabels[LabelBackupRun] != BackupRunRestore || restore.Labels[LabelBackupRun] != BackupRunRestore {
		t.Errorf("the restore egress %s selects %v; want its own policy for the restore pod only", restore.Name, restore.Spec.PodSelector.MatchLabels)
	}
}

func TestBackupLeavesTheDatabaseOutOnlyWhenAsked(t *testing.T) {
	prof, opts := helpyProfile(t), backupOptions()
	args := func(policy *v1alpha1.BackupPolicy) []string {
		return BackupCronJob(minimalInstance(), prof, opts, policy).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
	}
	if slices.Contains(args(s3Policy()), "--no-database") {
		t.Error("a default policy leaves the database out")
	}
	attachmentsOnly := s3Policy()
	attachmentsOnly.Spec.Include.Database = ptr.To(false)
	if got := args(attachmentsOnly); !slices.Contains(got, "--no-database") || !slices.Contains(got, "--attachments-dir=/helpy/public/uploads") {
		t.Errorf("include.database false: args %q, want --no-database and the attachments", got)
	}
}
