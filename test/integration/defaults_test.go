package integration

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// TestDefaultsAreVisibleAfterCreation creates each kind with the least a user must write
// and reads back what the API server filled in.
func TestDefaultsAreVisibleAfterCreation(t *testing.T) {
	ctx := context.Background()
	namespace := createNamespace(t, "defaults")
	meta := metav1.ObjectMeta{Name: "minimal", Namespace: namespace}

	t.Run("HelpdeskInstance", func(t *testing.T) {
		created := &v1alpha1.HelpdeskInstance{ObjectMeta: meta, Spec: v1alpha1.HelpdeskInstanceSpec{Hostname: "support.example.com"}}
		got := createAndRead(ctx, t, created, &v1alpha1.HelpdeskInstance{})
		spec := got.Spec
		want := []struct {
			field string
			got   any
			want  any
		}{
			{"deletionPolicy", spec.DeletionPolicy, v1alpha1.DeletionPolicyRetain},
			{"encryption.keyRotationPeriod", spec.Encryption.KeyRotationPeriod, &metav1.Duration{Duration: 30 * 24 * time.Hour}},
			{"encryption.secretDelivery", spec.Encryption.SecretDelivery, v1alpha1.SecretDeliverySecret},
			{"app.profile", spec.App.Profile, v1alpha1.AppProfileHelpy},
			{"app.replicas", spec.App.Replicas, ptr.To[int32](1)},
			{"database.instances", spec.Database.Instances, int32(1)},
			{"database.postgresVersion", spec.Database.PostgresVersion, int32(16)},
			{"database.storage.size", spec.Database.Storage.Size.String(), "10Gi"},
			{"attachments.size", spec.Attachments.Size.String(), "5Gi"},
		}
		for _, w := range want {
			if diff := cmp.Diff(w.want, w.got); diff != "" {
				t.Errorf("spec.%s default (-want +got):\n%s", w.field, diff)
			}
		}
	})

	t.Run("AccessPolicy", func(t *testing.T) {
		got := createAndRead(ctx, t, &v1alpha1.AccessPolicy{ObjectMeta: meta}, &v1alpha1.AccessPolicy{})
		spec := got.Spec
		if spec.MFA.Required == nil || !*spec.MFA.Required {
			t.Errorf("spec.mfa.required defaults to %v, want true", spec.MFA.Required)
		}
		if diff := cmp.Diff([]v1alpha1.MFAMethod{"TOTP", "WebAuthn"}, spec.MFA.Methods); diff != "" {
			t.Errorf("spec.mfa.methods default (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(v1alpha1.SessionSpec{IdleTimeout: &metav1.Duration{Duration: 30 * time.Minute}, AbsoluteTimeout: &metav1.Duration{Duration: 12 * time.Hour}}, spec.Session); diff != "" {
			t.Errorf("spec.session defaults (-want +got):\n%s", diff)
		}
		if spec.Uploads.MaxSize.String() != "10Mi" {
			t.Errorf("spec.uploads.maxSize defaults to %s, want 10Mi", spec.Uploads.MaxSize.String())
		}
	})

	t.Run("RetentionPolicy", func(t *testing.T) {
		created := &v1alpha1.RetentionPolicy{ObjectMeta: meta, Spec: v1alpha1.RetentionPolicySpec{
			Rules: []v1alpha1.RetentionRule{{DataClass: v1alpha1.DataClassLogs, OlderThan: metav1.Duration{Duration: 720 * time.Hour}}},
		}}
		got := createAndRead(ctx, t, created, &v1alpha1.RetentionPolicy{})
		if got.Spec.Schedule != "0 3 * * *" {
			t.Errorf("spec.schedule defaults to %q, want \"0 3 * * *\"", got.Spec.Schedule)
		}
		if got.Spec.Rules[0].Action != v1alpha1.RetentionActionDelete {
			t.Errorf("spec.rules[0].action defaults to %q, want Delete", got.Spec.Rules[0].Action)
		}
	})

	t.Run("BackupPolicy", func(t *testing.T) {
		created := &v1alpha1.BackupPolicy{ObjectMeta: meta, Spec: v1alpha1.BackupPolicySpec{
			Destination: v1alpha1.BackupDestination{S3: &v1alpha1.S3Destination{
				Endpoint: "https://s3.example.com", Bucket: "backups", Credentials: v1alpha1.S3Credentials{SecretName: "s3"},
			}},
		}}
		got := createAndRead(ctx, t, created, &v1alpha1.BackupPolicy{})
		spec := got.Spec
		s3 := spec.Destination.S3
		checks := []struct {
			field string
			got   any
			want  any
		}{
			{"schedule", spec.Schedule, v1alpha1.CronSchedule("0 2 * * *")},
			{"retention.keepLast", spec.Retention.KeepLast, int32(7)},
			{"include", spec.Include, v1alpha1.BackupContents{Database: ptr.To(true), Attachments: ptr.To(true)}},
			{"destination.s3.region", s3.Region, "us-east-1"},
			{"destination.s3.forcePathStyle", s3.ForcePathStyle, ptr.To(true)},
			{"destination.s3.credentials.accessKeyIDKey", s3.Credentials.AccessKeyIDKey, "AWS_ACCESS_KEY_ID"},
			{"destination.s3.credentials.secretAccessKeyKey", s3.Credentials.SecretAccessKeyKey, "AWS_SECRET_ACCESS_KEY"},
			{"job.activeDeadline", spec.Job.ActiveDeadline, &metav1.Duration{Duration: 6 * time.Hour}},
			{"job.startingDeadline", spec.Job.StartingDeadline, &metav1.Duration{Duration: time.Hour}},
			{"job.backoffLimit", spec.Job.BackoffLimit, int32(2)},
		}
		for _, c := range checks {
			if diff := cmp.Diff(c.want, c.got); diff != "" {
				t.Errorf("spec.%s default (-want +got):\n%s", c.field, diff)
			}
		}
	})
}

// createAndRead creates obj and reads it back into into, so the API server's defaults show.
func createAndRead[T client.Object](ctx context.Context, t *testing.T, obj client.Object, into T) T {
	t.Helper()
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T: %v", obj, err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), into); err != nil {
		t.Fatalf("reading %T back: %v", obj, err)
	}
	return into
}
