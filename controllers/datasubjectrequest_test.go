package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

const subjectAddress = "greta.subject@example.com"

func dataSubjectRequest(ns, name, instance string, typ v1alpha1.DataSubjectRequestType) *v1alpha1.DataSubjectRequest {
	return &v1alpha1.DataSubjectRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.DataSubjectRequestSpec{
			InstanceName: instance, Type: typ,
			Subject: v1alpha1.DataSubjectReference{SecretKeyRef: v1alpha1.SecretKeyReference{Name: "subject", Key: "email"}},
		},
	}
}

// runRequestJob plays the Job controller and the kubelet for a request's Job.
func runRequestJob(t *testing.T, job *batchv1.Job, succeeded bool, start, end time.Time, message string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: job.Name + "-x", Labels: map[string]string{jobNameLabel: job.Name}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "dsr", Image: "postgres"}}},
	}
	mustCreate(t, pod)
	exit := int32(0)
	pod.Status.Phase = corev1.PodSucceeded
	if !succeeded {
		exit, pod.Status.Phase = 2, corev1.PodFailed
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "dsr", Image: "postgres", ImageID: "postgres@sha256:0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Message: message, StartedAt: metav1.NewTime(start), FinishedAt: metav1.NewTime(end)}}}}
	if err := k8sClient.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	finishJob(t, job, start, end, succeeded)
}

// noPersonalData fails when the request's status or events carry the subject's address.
func noPersonalData(t *testing.T, req *v1alpha1.DataSubjectRequest) {
	t.Helper()
	if err := get(req); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v", req.Status); strings.Contains(s, subjectAddress) || strings.Contains(s, "greta") {
		t.Errorf("the status carries the subject: %s", s)
	}
	for _, e := range recorder.of(req.Namespace, req.Name) {
		if strings.Contains(e.message, subjectAddress) || strings.Contains(e.message, "greta") {
			t.Errorf("event %s carries the subject: %s", e.reason, e.message)
		}
	}
}

func requestJob(req *v1alpha1.DataSubjectRequest) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: resources.DataSubjectRequestNamesFor(req).Job}}
}

func TestAccessRequestRunsOnceAndItsExportExpires(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, backupVolumeClaim(ns))
	mustCreate(t, pvcBackupPolicy(ns, "local"))
	inst := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.BackupPolicyRef = &v1alpha1.LocalObjectReference{Name: "local"}
	})
	bringUp(t, inst)
	mustCreate(t, secret(ns, "subject", map[string]string{"email": subjectAddress}))
	req := dataSubjectRequest(ns, "dsr-42", "desk", v1alpha1.DataSubjectAccess)
	req.Spec.ExportRetention = &metav1.Duration{Duration: 24 * time.Hour}
	mustCreate(t, req)

	job := requestJob(req)
	eventually(t, wait, exists(job))
	eventually(t, wait, func() error {
		if err := get(req); err != nil {
			return err
		}
		if req.Status.Phase != v1alpha1.DataSubjectRunning || req.Status.Export == nil {
			return fmt.Errorf("status %+v", req.Status)
		}
		return nil
	})
	if !slices.Contains(req.Finalizers, exportFinalizer) {
		t.Errorf("finalizers %v: an Access request must hold itself until its export is gone", req.Finalizers)
	}
	wantLocation := "pvc://backups/desk/" + ns + "/desk/exports/" + string(req.UID) + ".tar.zst.age"
	if e := req.Status.Export; e.Location != wantLocation || e.BackupPolicy != "local" || e.ID != string(req.UID) {
		t.Errorf("export %+v, want location %s", e, wantLocation)
	}
	if req.Status.SubjectHash != "" {
		t.Error("the subject hash is shown before the request finished")
	}
	pod := job.Spec.Template.Spec
	if pod.ServiceAccountName != resources.NamesFor(inst).BackupServiceAccount || !slices.Contains(pod.Containers[0].Args, "--export-id="+string(req.UID)) ||
		!slices.Contains(pod.Containers[0].Args, "--path=/backup/desk") {
		t.Errorf("Access Job runs as %q with %q", pod.ServiceAccountName, pod.Containers[0].Args)
	}
	if !metav1.IsControlledBy(job, req) {
		t.Error("the Job is not the request's")
	}
	wantHash := subjectHash(string(req.UID), subjectAddress)
	if job.Annotations[resources.AnnotationSubjectHash] != wantHash {
		t.Errorf("Job annotations %v, want the hash %s", job.Annotations, wantHash)
	}
	noPersonalData(t, req)

	now := testClock.Now()
	runRequestJob(t, job, true, now.Add(-time.Minute), now,
		`{"subcommand":"dsr","type":"Access","result":"Succeeded","accountFound":true,"records":{"account":1,"tickets":3,"messages":14},"files":8,"bytes":30720,"redacted":17,"durationSeconds":0.4,`+
			`"export":{"id":"`+string(req.UID)+`","object":"exports/x.tar.zst.age","size":4242,"keyVersion":3}}`)
	eventually(t, wait, conditionIs(req, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded))
	st := req.Status
	if st.Phase != v1alpha1.DataSubjectSucceeded || st.SubjectHash != wantHash || st.Result.Records["messages"] != 14 || st.Result.Files != 8 ||
		st.Result.Redacted != 17 || !st.Result.AccountFound || st.CompletionTime == nil {
		t.Errorf("status after success %+v %+v", st, st.Result)
	}
	if e := st.Export; e.KeyVersion != 3 || e.SizeBytes != 4242 || e.ExpiresAt == nil || !e.ExpiresAt.Time.Equal(now.Add(24*time.Hour).Truncate(time.Second)) || e.DeletedAt != nil {
		t.Errorf("export after success %+v", e)
	}
	if got := testutil.ToFloat64(dataSubjectRequestsTotal.WithLabelValues(ns, "desk", "Access", "Succeeded")); got != 1 {
		t.Errorf("requests counted %v, want 1", got)
	}
	noPersonalData(t, req)

	// The request ran once: its Job gone, nothing starts it again.
	if err := k8sClient.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, gone(job))
	cleanup := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.DataSubjectRequestNamesFor(req).CleanupJob}}
	time.Sleep(time.Second)
	if err := get(requestJob(req)); err == nil {
		t.Fatal("a finished request was run again")
	}
	if err := get(cleanup); err == nil {
		t.Fatal("the export was deleted before it expired")
	}

	// It expires: the operator deletes it with a Job that needs neither the database nor Vault.
	testClock.advance(25 * time.Hour)
	t.Cleanup(func() { testClock.advance(-25 * time.Hour) })
	update(t, req, func() { req.Labels = map[string]string{"touch": "1"} })
	eventually(t, wait, exists(cleanup))
	args := cleanup.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--delete-export="+string(req.UID)) || !slices.Contains(args, "--path=/backup/desk") {
		t.Errorf("cleanup args %q", args)
	}
	runRequestJob(t, cleanup, true, testClock.Now(), testClock.Now(), `{"subcommand":"dsr","mode":"delete-export","result":"Succeeded"}`)
	eventually(t, wait, conditionIs(req, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonExportDeleted))
	eventually(t, wait, func() error {
		if err := get(req); err != nil {
			return err
		}
		if req.Status.Export.DeletedAt == nil || slices.Contains(req.Finalizers, exportFinalizer) {
			return fmt.Errorf("after the deletion: export %+v finalizers %v", req.Status.Export, req.Finalizers)
		}
		return nil
	})
	// Settled: nothing more to do, so nothing more is written.
	settle(t)
	before := writes.snapshot()
	update(t, req, func() { req.Labels["touch"] = "2" })
	time.Sleep(time.Second)
	for path, n := range writes.snapshot() {
		if strings.Contains(path, "/namespaces/"+ns+"/") && n != before[path] {
			t.Errorf("a reconcile of a finished request wrote %s %d times", path, n-before[path])
		}
	}
	var reasons []string
	for _, e := range recorder.of(ns, req.Name) {
		reasons = append(reasons, e.reason)
	}
	if !slices.Equal(reasons, []string{"Started", v1alpha1.ReasonSucceeded, v1alpha1.ReasonExportDeleted}) {
		t.Errorf("events %v: the audit trail", reasons)
	}
	noPersonalData(t, req)
}

func TestDataSubjectRequestsWaitAndFailWithAReason(t *testing.T) {
	ns := newNamespace(t)
	retention := gdprPolicy(ns, "gdpr")
	retention.Spec.LegalHold = &v1alpha1.LegalHoldSpec{Enabled: true, Reason: "case 2026-17"}
	mustCreate(t, retention)
	inst := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RetentionPolicyRef = &v1alpha1.LocalObjectReference{Name: "gdpr"}
	})

	// No instance yet.
	erasure := dataSubjectRequest(ns, "erase-1", "desk", v1alpha1.DataSubjectErasure)
	mustCreate(t, erasure)
	eventually(t, wait, conditionIs(erasure, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInstanceNotFound))

	// Under a legal hold the request waits, and says so.
	bringUp(t, inst)
	eventually(t, wait, conditionIs(erasure, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonLegalHold))
	if msg := meta.FindStatusCondition(erasure.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "legal hold of RetentionPolicy gdpr") {
		t.Errorf("Ready message %q", msg)
	}
	if erasure.Status.Phase != v1alpha1.DataSubjectPending {
		t.Errorf("phase %q under a legal hold", erasure.Status.Phase)
	}
	// An Access request waits too, and also for an export destination.
	access := dataSubjectRequest(ns, "access-1", "desk", v1alpha1.DataSubjectAccess)
	mustCreate(t, access)
	eventually(t, wait, conditionIs(access, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonLegalHold))

	// Lifting the hold: the Secret is missing next.
	update(t, retention, func() { retention.Spec.LegalHold = nil })
	eventually(t, wait, conditionIs(erasure, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing))
	if msg := meta.FindStatusCondition(erasure.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, `Secret "subject" does not exist`) {
		t.Errorf("Ready message %q", msg)
	}
	eventually(t, wait, conditionIs(access, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNoExportDestination))
	if err := get(requestJob(erasure)); err == nil {
		t.Fatal("a Job started while the request waited")
	}

	// With the Secret the erasure runs, as the app (no Vault), with the attachments.
	mustCreate(t, secret(ns, "subject", map[string]string{"email": subjectAddress}))
	job := requestJob(erasure)
	eventually(t, wait, exists(job))
	pod := job.Spec.Template.Spec
	if pod.ServiceAccountName != resources.NamesFor(inst).App || !slices.Contains(pod.Containers[0].Args, "--type=Erasure") {
		t.Errorf("Erasure Job runs as %q with %q", pod.ServiceAccountName, pod.Containers[0].Args)
	}
	for _, v := range pod.Volumes {
		if v.Name == "vault-token" {
			t.Error("the Erasure pod has a Vault token")
		}
	}
	// The subject turns out to be an administrator: refused, for good, with the reason.
	now := testClock.Now()
	runRequestJob(t, job, false, now.Add(-time.Minute), now,
		`{"subcommand":"dsr","type":"Erasure","result":"Refused","accountFound":true,"records":{},"files":0,"protection":"Administrator","durationSeconds":0.1,"reason":"Refused",`+
			`"error":"the address belongs to an administrator: another administrator must first give the account a non-administrator role in the helpdesk, then repeat the request"}`)
	eventually(t, wait, conditionIs(erasure, v1alpha1.ConditionReady, metav1.ConditionFalse, "Refused"))
	st := erasure.Status
	if st.Phase != v1alpha1.DataSubjectFailed || st.Result.Outcome != "Refused" || st.Result.Protection != "Administrator" ||
		!strings.Contains(meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady).Message, "belongs to an administrator") || st.SubjectHash == "" {
		t.Errorf("status after the refusal %+v %+v", st, st.Result)
	}
	if got := testutil.ToFloat64(dataSubjectRequestsTotal.WithLabelValues(ns, "desk", "Erasure", "Refused")); got != 1 {
		t.Errorf("refused requests %v", got)
	}
	noPersonalData(t, erasure)

	// A field the app profile does not let anyone set fails at once, without a Job.
	rect := dataSubjectRequest(ns, "rectify-1", "desk", v1alpha1.DataSubjectRectification)
	rect.Spec.Rectification = []v1alpha1.RectificationField{{Field: "role", ValueFrom: v1alpha1.SecretKeyReference{Name: "subject", Key: "email"}}}
	mustCreate(t, rect)
	eventually(t, wait, conditionIs(rect, v1alpha1.ConditionReady, metav1.ConditionFalse, "InvalidRequest"))
	if msg := meta.FindStatusCondition(rect.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "role cannot be set on a Helpy account") {
		t.Errorf("Ready message %q", msg)
	}
	if err := get(requestJob(rect)); err == nil {
		t.Error("a Job ran for an invalid rectification")
	}
}

func TestDeletingAnAccessRequestDeletesItsExport(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, backupVolumeClaim(ns))
	mustCreate(t, pvcBackupPolicy(ns, "local"))
	bringUp(t, newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.BackupPolicyRef = &v1alpha1.LocalObjectReference{Name: "local"}
	}))
	mustCreate(t, secret(ns, "subject", map[string]string{"email": subjectAddress}))
	req := dataSubjectRequest(ns, "dsr-early", "desk", v1alpha1.DataSubjectAccess)
	mustCreate(t, req)
	job := requestJob(req)
	eventually(t, wait, exists(job))
	now := testClock.Now()
	runRequestJob(t, job, true, now, now, `{"subcommand":"dsr","type":"Access","result":"Succeeded","accountFound":true,"records":{"account":1},"files":0,"export":{"id":"x","size":1,"keyVersion":1}}`)
	eventually(t, wait, conditionIs(req, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded))

	// Deleted a week before its export expires: the export goes first.
	if err := k8sClient.Delete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	cleanup := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.DataSubjectRequestNamesFor(req).CleanupJob}}
	eventually(t, wait, exists(cleanup))
	if err := get(req); err != nil {
		t.Fatalf("the request went before its export: %v", err)
	}
	runRequestJob(t, cleanup, true, now, now, `{"subcommand":"dsr","mode":"delete-export","result":"Succeeded"}`)
	eventually(t, wait, gone(req))
}
