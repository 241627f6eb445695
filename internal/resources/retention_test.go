package resources

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
)

// gdprPolicy is config/samples/retentionpolicy.yaml as the API server defaults it.
func gdprPolicy() *v1alpha1.RetentionPolicy {
	year := 8760 * time.Hour
	return &v1alpha1.RetentionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "gdpr", Namespace: "tenant-a"},
		Spec: v1alpha1.RetentionPolicySpec{
			Rules: []v1alpha1.RetentionRule{
				{DataClass: v1alpha1.DataClassClosedTickets, OlderThan: metav1.Duration{Duration: 2 * year}, Action: v1alpha1.RetentionActionAnonymize},
				{DataClass: v1alpha1.DataClassAllTickets, OlderThan: metav1.Duration{Duration: 3 * year}, Action: v1alpha1.RetentionActionDelete},
				{DataClass: v1alpha1.DataClassAttachments, OlderThan: metav1.Duration{Duration: year}, Action: v1alpha1.RetentionActionDelete},
				{DataClass: v1alpha1.DataClassLogs, OlderThan: metav1.Duration{Duration: 720 * time.Hour}, Action: v1alpha1.RetentionActionDelete},
			},
			Schedule: "30 3 * * *",
			TimeZone: "Europe/Berlin",
		},
	}
}

func heldPolicy() *v1alpha1.RetentionPolicy {
	p := gdprPolicy()
	p.Name = "held"
	p.Spec.TimeZone = ""
	p.Spec.LegalHold = &v1alpha1.LegalHoldSpec{Enabled: true, Reason: "case 2026-17"}
	p.Spec.DryRun = true
	return p
}

func TestRetentionGolden(t *testing.T) {
	prof := helpyProfile(t)
	opts := backupOptions()
	compareGolden(t, "retention.yaml", []runtime.Object{
		RetentionCronJob(minimalInstance(), prof, opts, gdprPolicy()),
		RetentionCronJob(haInstance(), prof, func() Options { o := opts; o.AttachmentsAccessMode = corev1.ReadWriteMany; return o }(), heldPolicy()),
	})
}

// TestRetentionCronJob checks what the golden file cannot say by itself: the pod is the
// backup pods' (hardening, credentials, termination message) minus Vault, and the rules,
// the dry run and the legal hold reach the command line.
func TestRetentionCronJob(t *testing.T) {
	prof := helpyProfile(t)
	inst := minimalInstance()
	cron := RetentionCronJob(inst, prof, backupOptions(), gdprPolicy())
	if cron.Name != "support-retention" || cron.Labels[LabelRetentionPolicy] != "gdpr" || cron.Spec.JobTemplate.Labels[LabelRetentionPolicy] != "gdpr" {
		t.Errorf("name %q labels %v", cron.Name, cron.Labels)
	}
	if cron.Spec.Schedule != "30 3 * * *" || ptr.Deref(cron.Spec.TimeZone, "") != "Europe/Berlin" || cron.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("schedule %q tz %v concurrency %q", cron.Spec.Schedule, cron.Spec.TimeZone, cron.Spec.ConcurrencyPolicy)
	}
	job := cron.Spec.JobTemplate.Spec
	if rules := job.PodFailurePolicy.Rules; len(rules) != 1 || rules[0].Action != batchv1.PodFailurePolicyActionFailJob || !slices.Equal(rules[0].OnExitCodes.Values, []int32{2}) {
		t.Errorf("pod failure policy %+v: exit code 2 must fail the Job at once", job.PodFailurePolicy)
	}
	pod := job.Template.Spec
	backupPod := BackupCronJob(inst, prof, backupOptions(), s3Policy()).Spec.JobTemplate.Spec.Template.Spec
	if !equalJSON(pod.SecurityContext, backupPod.SecurityContext) || !equalJSON(pod.Containers[0].SecurityContext, backupPod.Containers[0].SecurityContext) ||
		!equalJSON(pod.InitContainers, backupPod.InitContainers) || pod.Containers[0].Image != backupPod.Containers[0].Image ||
		!slices.Equal(pod.Containers[0].Command[:3], backupPod.Containers[0].Command[:3]) {
		t.Error("the retention pod is not hardened and started like the backup pod")
	}
	if pod.Containers[0].TerminationMessagePath != terminationLog || pod.Containers[0].TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Error("the result line does not become the termination message")
	}
	if ptr.Deref(pod.AutomountServiceAccountToken, true) || pod.ServiceAccountName != NamesFor(inst).App {
		t.Errorf("service account %q automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	var volumes []string
	for _, v := range pod.Volumes {
		volumes = append(volumes, v.Name)
	}
	if want := []string{"bin", "tmp", "db-ca", "db", "attachments"}; !slices.Equal(volumes, want) {
		t.Errorf("volumes %v, want %v (no Vault token: retention needs no Vault)", volumes, want)
	}
	for _, m := range pod.Containers[0].VolumeMounts {
		if m.Name == attachmentsVolume && (m.ReadOnly || m.MountPath != prof.UploadsPath) {
			t.Errorf("the attachments volume is mounted %+v; retention removes files, so it must be writable at %s", m, prof.UploadsPath)
		}
	}
	args := pod.Containers[0].Args
	for _, want := range []string{"--rule=ClosedTickets:Anonymize:17520h0m0s", "--rule=AllTickets:Delete:26280h0m0s", "--rule=Attachments:Delete:8760h0m0s",
		"--rule=Logs:Delete:720h0m0s", "--attachments-dir=" + prof.UploadsPath, "--app-profile=Helpy",
		"--db-sslmode=verify-full", "--db-sslrootcert=/etc/helpdesk/db-ca/ca.crt", "--db-password-file=/etc/helpdesk/db/password", "--db-host=support-db-rw"} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %s: %q", want, args)
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--dry-run") || strings.HasPrefix(a, "--legal-hold") || strings.Contains(a, "vault") {
			t.Errorf("unexpected arg %s", a)
		}
	}
	held := RetentionCronJob(inst, prof, backupOptions(), heldPolicy()).Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(held, "--legal-hold=true") || !slices.Contains(held, "--dry-run=true") {
		t.Errorf("a held dry-run policy's args %q lack --legal-hold and --dry-run", held)
	}
}

func TestRetentionRefusals(t *testing.T) {
	helpy, err := appprofile.RetentionFor(v1alpha1.AppProfileHelpy)
	if err != nil {
		t.Fatal(err)
	}
	if got := RetentionRefusals(gdprPolicy(), helpy); len(got) != 0 {
		t.Errorf("Helpy refuses %v of the sample policy", got)
	}
	refusing := helpy
	refusing.Unsupported = map[v1alpha1.DataClass]string{v1alpha1.DataClassLogs: "it keeps no logs"}
	got := RetentionRefusals(gdprPolicy(), refusing)
	if len(got) != 1 || !strings.Contains(got[0], "dataClass Logs (Delete)") || !strings.Contains(got[0], "it keeps no logs") {
		t.Errorf("refusals %q, want the Logs rule with the profile's reason", got)
	}
	p := gdprPolicy()
	p.Spec.Rules = append(p.Spec.Rules, v1alpha1.RetentionRule{DataClass: "Chats", OlderThan: metav1.Duration{Duration: time.Hour}})
	if got := RetentionRefusals(p, helpy); len(got) != 1 || !strings.Contains(got[0], "no meaning") {
		t.Errorf("refusals %q, want the unknown class", got)
	}
}

// TestJobPodsAreAdmitted creates the retention and data-subject request pods, dry run,
// in a namespace that enforces the restricted Pod Security Standard, and applies their
// objects twice with one field manager: the second apply must change nothing.
func TestJobPodsAreAdmitted(t *testing.T) {
	_, c := kubeenv.StartForTest(t)
	ctx := context.Background()
	opts := backupOptions()
	prof := helpyProfile(t)
	inst := minimalInstance()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: inst.Namespace, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	inst.UID = ""
	if err := c.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	templates := map[string]corev1.PodTemplateSpec{}
	cron := RetentionCronJob(inst, prof, opts, gdprPolicy())
	objs = append(objs, cron)
	templates["retention"] = cron.Spec.JobTemplate.Spec.Template
	for _, req := range []*v1alpha1.DataSubjectRequest{accessRequest(), erasureRequest(), rectificationRequest()} {
		req.UID = ""
		if err := c.Create(ctx, req); err != nil {
			t.Fatalf("creating request %s: %v", req.Name, err)
		}
		job := DataSubjectRequestJob(inst, prof, opts, req, s3Policy(), "sha256:ab")
		cleanup := DataSubjectExportCleanupJob(inst, prof, opts, req, s3Policy(), "default")
		objs = append(objs, job, cleanup, DataSubjectRequestNetworkPolicy(inst, prof, opts, req, s3Policy()))
		templates[req.Name] = job.Spec.Template
		templates[req.Name+"-cleanup"] = cleanup.Spec.Template
	}
	for name, tmpl := range templates {
		pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		pod.Name, pod.Namespace = name, inst.Namespace
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("%s pod: %v", name, err)
		}
	}
	first := map[string]string{}
	for _, obj := range objs {
		u := apply(ctx, t, c, obj)
		first[u.GetKind()+"/"+u.GetName()] = u.GetResourceVersion()
	}
	for _, obj := range objs {
		u := apply(ctx, t, c, obj)
		if first[u.GetKind()+"/"+u.GetName()] != u.GetResourceVersion() {
			t.Errorf("%s %s: applying the same object again changed it", u.GetKind(), u.GetName())
		}
	}
}

func accessRequest() *v1alpha1.DataSubjectRequest {
	return &v1alpha1.DataSubjectRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "DataSubjectRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: "dsr-0042", Namespace: "tenant-a", UID: types.UID("6f1c2d3e-4a5b-4c6d-8e7f-000000000042")},
		Spec: v1alpha1.DataSubjectRequestSpec{
			InstanceName: "support", Type: v1alpha1.DataSubjectAccess,
			Subject: v1alpha1.DataSubjectReference{SecretKeyRef: v1alpha1.SecretKeyReference{Name: "dsr-0042", Key: "email"}},
		},
	}
}

func erasureRequest() *v1alpha1.DataSubjectRequest {
	r := accessRequest()
	r.Name, r.UID, r.Spec.Type = "dsr-0043", "6f1c2d3e-4a5b-4c6d-8e7f-000000000043", v1alpha1.DataSubjectErasure
	return r
}

func rectificationRequest() *v1alpha1.DataSubjectRequest {
	r := accessRequest()
	r.Name, r.UID, r.Spec.Type = "dsr-0044", "6f1c2d3e-4a5b-4c6d-8e7f-000000000044", v1alpha1.DataSubjectRectification
	r.Spec.Rectification = []v1alpha1.RectificationField{
		{Field: "work_phone", ValueFrom: v1alpha1.SecretKeyReference{Name: "dsr-0044-values", Key: "phone"}},
		{Field: "name", ValueFrom: v1alpha1.SecretKeyReference{Name: "dsr-0044", Key: "new-name"}},
	}
	return r
}
