package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

const wait = 20 * time.Second

func TestAccessPolicyWaitsForItsSecrets(t *testing.T) {
	ns := newNamespace(t)
	policy := &v1alpha1.AccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sso"},
		Spec: v1alpha1.AccessPolicySpec{
			SSO: &v1alpha1.SSOSpec{OIDC: &v1alpha1.OIDCSpec{
				IssuerURL: "https://login.example.com", ClientID: "helpdesk",
				ClientSecretRef: v1alpha1.SecretKeyReference{Name: "oidc", Key: "client-secret"},
			}},
		},
	}
	mustCreate(t, policy)
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing))
	if msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, `Secret "oidc" does not exist`) {
		t.Errorf("Ready message %q does not name the missing Secret", msg)
	}
	if policy.Status.SSOProvider != "OIDC" {
		t.Errorf("status.ssoProvider = %q, want OIDC", policy.Status.SSOProvider)
	}

	// The wrong key is still not enough; the right one makes the policy Ready through the
	// Secret watch alone.
	wrong := secret(ns, "oidc", map[string]string{"secret": "x"})
	mustCreate(t, wrong)
	eventually(t, wait, func() error {
		if err := conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing)(); err != nil {
			return err
		}
		if msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, `Secret "oidc" has no key "client-secret"`) {
			return fmt.Errorf("Ready message %q does not name the missing key", msg)
		}
		return nil
	})
	wrong.Data["client-secret"] = []byte("s3cr3t-value")
	if err := k8sClient.Update(context.Background(), wrong); err != nil {
		t.Fatal(err)
	}
	// Valid and complete; no instance uses it yet, so nothing is left unenforced.
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
	for _, c := range policy.Status.Conditions {
		if strings.Contains(c.Message, "s3cr3t-value") {
			t.Errorf("condition %s leaks the secret value", c.Type)
		}
	}
}

func TestRetentionPolicyScheduleIsCheckedStrictly(t *testing.T) {
	ns := newNamespace(t)
	policy := &v1alpha1.RetentionPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gdpr"},
		Spec: v1alpha1.RetentionPolicySpec{
			// The schema's loose check lets this through; only the controller can tell.
			Schedule: "61 3 * * *",
			Rules:    []v1alpha1.RetentionRule{{DataClass: v1alpha1.DataClassLogs, OlderThan: metav1.Duration{Duration: 720 * time.Hour}}},
		},
	}
	mustCreate(t, policy)
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec))
	stalled := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionStalled)
	if !strings.Contains(stalled.Message, `schedule "61 3 * * *" is not a valid cron expression`) {
		t.Errorf("Stalled message %q does not explain the schedule", stalled.Message)
	}
	if err := conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)(); err != nil {
		t.Error(err)
	}

	policy.Spec.Schedule = "0 3 * * *"
	policy.Spec.TimeZone = "Europe/Berlin"
	if err := k8sClient.Update(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	// Valid, but no instance runs it: Ready says so, and no next run is promised.
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotReferenced))
	if meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionStalled) != nil {
		t.Error("Stalled is still present after the schedule was fixed")
	}
	if policy.Status.NextRun != nil {
		t.Errorf("status.nextRun = %v, but no run is scheduled", policy.Status.NextRun)
	}
}

func TestBackupPolicyChecksDestinationAndSchedules(t *testing.T) {
	ns := newNamespace(t)
	policy := &v1alpha1.BackupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly"},
		Spec: v1alpha1.BackupPolicySpec{
			Destination: v1alpha1.BackupDestination{S3: &v1alpha1.S3Destination{
				Endpoint: "https://s3.example.com", Bucket: "backups",
				Credentials: v1alpha1.S3Credentials{SecretName: "s3"},
			}},
			RestoreDrill: &v1alpha1.RestoreDrillSpec{Schedule: "0 5 * * 8"},
		},
	}
	mustCreate(t, policy)
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec))
	if msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionStalled).Message; !strings.HasPrefix(msg, "spec.restoreDrill.schedule:") {
		t.Errorf("Stalled message %q does not name spec.restoreDrill.schedule", msg)
	}

	policy.Spec.RestoreDrill.Schedule = "0 5 * * 0"
	if err := k8sClient.Update(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing))
	msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady).Message
	if !strings.Contains(msg, `Secret "s3" does not exist`) {
		t.Errorf("Ready message %q does not name the credentials Secret", msg)
	}

	mustCreate(t, secret(ns, "s3", map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"}))
	// A host name cannot go into a NetworkPolicy: without egressCIDRs no backup pod
	// could reach the store.
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNoEgress))
	policy.Spec.Destination.S3.EgressCIDRs = []string{"198.51.100.0/28"}
	if err := k8sClient.Update(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
	wantNext := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	if policy.Status.NextRun == nil || !policy.Status.NextRun.Time.Equal(wantNext) {
		t.Errorf("status.nextRun = %v, want %v", policy.Status.NextRun, wantNext)
	}

	// Nothing changed: reconciling again writes nothing.
	before := writes.snapshot()
	policy.Annotations = map[string]string{"touch": "1"}
	if err := k8sClient.Update(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // give the controller its chance to (not) write
	after := writes.snapshot()
	for path, n := range after {
		if strings.Contains(path, "backuppolicies") && n != before[path] {
			t.Errorf("a reconcile with nothing to change wrote %s %d times", path, n-before[path])
		}
	}

	policy.Spec.Suspend = true
	if err := k8sClient.Update(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSuspended))
	if policy.Status.NextRun != nil {
		t.Errorf("status.nextRun = %v while suspended, want none", policy.Status.NextRun)
	}
}

func TestBackupPolicyWaitsForItsVolume(t *testing.T) {
	ns := newNamespace(t)
	policy := &v1alpha1.BackupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "local"},
		Spec: v1alpha1.BackupPolicySpec{Destination: v1alpha1.BackupDestination{
			PersistentVolumeClaim: &v1alpha1.PVCDestination{ClaimName: "backups"},
		}},
	}
	mustCreate(t, policy)
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonReferenceNotFound))
	mustCreate(t, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backups"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	})
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
}
