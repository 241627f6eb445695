//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/scheme"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// stopVault stops the host Vault until the test ends (or restartVault); its state stays.
func stopVault(t *testing.T) {
	t.Helper()
	if err := vaultServer.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Log("Vault stopped")
	t.Cleanup(func() { restartVault(t) })
}

// restartVault starts the host Vault again on its address with the same state; it does
// nothing while Vault answers.
func restartVault(t *testing.T) {
	t.Helper()
	if health, err := vaultAdmin.Sys().HealthWithContext(context.Background()); err == nil && !health.Sealed {
		return
	}
	if err := vaultServer.Restart(); err != nil {
		t.Fatalf("restarting Vault: %v", err)
	}
	t.Log("Vault restarted")
}

// TestBackupFailsCleanlyWhileVaultIsDown: with Vault stopped, a run of tenant B's backup
// fails at once (one attempt, no data read), with the Vault error as its result and in
// the BackupPolicy's status; with Vault back, the next run succeeds and is recorded.
func TestBackupFailsCleanlyWhileVaultIsDown(t *testing.T) {
	b := readyTenants(t).b
	cronJob := resources.BackupNamesFor(b.inst).BackupCronJob
	setBackoffLimit(t, b, 0)

	stopVault(t)
	failed := runCronJob(t, b.inst.Namespace, cronJob)
	t.Logf("%s", failed)
	if failed.succeeded || failed.attempts != 1 {
		t.Fatalf("with Vault down, want one failed attempt: %s", failed)
	}
	msg := failed.result(t).Error
	if !strings.Contains(msg, "vault") || !strings.Contains(msg, cluster.NodeIP) {
		t.Errorf("the failed run's error does not name Vault at %s: %s", cluster.NodeIP, msg)
	}
	policy := waitPolicy(t, b.policy, "lastBackup recording the failed run", func(st v1alpha1.BackupPolicyStatus) bool {
		return st.LastBackup != nil && st.LastBackup.Result == "Failed" && !st.LastBackup.StartTime.Time.Before(failed.job.CreationTimestamp.Time)
	})
	if rec := policy.Status.LastBackup; rec.Instance != b.inst.Name || rec.Message != msg {
		t.Errorf("status.lastBackup = %+v; want instance %s and the run's error %q", rec, b.inst.Name, msg)
	}

	restartVault(t)
	ok := runCronJob(t, b.inst.Namespace, cronJob)
	if !ok.succeeded {
		t.Fatalf("with Vault back, the next run failed: %s", ok)
	}
	id := ok.result(t).ID
	policy = waitPolicy(t, b.policy, "lastSuccessfulBackup "+id, func(st v1alpha1.BackupPolicyStatus) bool {
		return st.LastSuccessfulBackup != nil && st.LastSuccessfulBackup.ID == id
	})
	if rec := policy.Status.LastBackup; rec == nil || rec.ID != id || rec.Result != "Succeeded" {
		t.Errorf("status.lastBackup = %+v, want the successful run %s", rec, id)
	}
}

// setBackoffLimit sets the tenant's policy's job.backoffLimit until the test ends and
// waits until the backup CronJob follows.
func setBackoffLimit(t *testing.T, tn tenant, limit int32) {
	t.Helper()
	set := func(limit int32) {
		t.Helper()
		patch := fmt.Appendf(nil, `{"spec":{"job":{"backoffLimit":%d}}}`, limit)
		if err := cluster.Client.Patch(context.Background(), tn.policy.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
		err := framework.Eventually(context.Background(), time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			cj := &batchv1.CronJob{}
			err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: tn.inst.Namespace, Name: resources.BackupNamesFor(tn.inst).BackupCronJob}, cj)
			if err != nil {
				return false, "", err
			}
			got := cj.Spec.JobTemplate.Spec.BackoffLimit
			return got != nil && *got == limit, fmt.Sprintf("backoffLimit %v", got), nil
		})
		if err != nil {
			t.Fatalf("the backup CronJob did not follow backoffLimit %d: %v", limit, err)
		}
	}
	was := tn.policy.Spec.Job.BackoffLimit
	set(limit)
	t.Cleanup(func() { set(was) })
}

// TestDeletionDuringVaultOutage: an instance deleted while Vault is down waits (its
// finalizer stays) and EncryptionReady says why and names the annotation that ends the
// wait; once an administrator (the tests' client is one) sets it, the instance goes, and
// an Event says what stayed in Vault.
func TestDeletionDuringVaultOutage(t *testing.T) {
	ctx := context.Background()
	inst := &v1alpha1.HelpdeskInstance{}
	if err := readSample("helpdeskinstance_minimal.yaml", inst); err != nil {
		t.Fatal(err)
	}
	inst.Namespace = testNamespace(t, "e2e-vault-outage")
	inst.Spec.Hostname = "outage." + inst.Namespace + ".e2e.example"
	inst.Spec.Database.PostgresVersion = 15
	if err := cluster.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	// Its Vault state exists once EncryptionReady is True; its database need not be up.
	waitCondition(t, inst, v1alpha1.ConditionEncryptionReady, 2*time.Minute)

	stopVault(t)
	if err := cluster.Client.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	var waiting *metav1.Condition
	err := framework.Eventually(ctx, 2*time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		got := &v1alpha1.HelpdeskInstance{}
		if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
			return false, "", err
		}
		waiting = meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionEncryptionReady)
		return waiting != nil && waiting.Status == metav1.ConditionFalse && strings.Contains(waiting.Message, v1alpha1.AnnotationSkipVaultCleanup),
			fmt.Sprintf("EncryptionReady %+v, finalizers %v", waiting, got.Finalizers), nil
	})
	if err != nil {
		t.Fatalf("the deleted instance does not say it waits for Vault and how to end the wait: %v", err)
	}
	t.Logf("waiting: EncryptionReady=%s %s: %s", waiting.Status, waiting.Reason, waiting.Message)

	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"e2e: Vault is down on purpose"}}}`, v1alpha1.AnnotationSkipVaultCleanup)
	if err := cluster.Client.Patch(ctx, inst, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatalf("annotating as an administrator: %v", err)
	}
	waitGone(t, inst, 2*time.Minute)
	t.Logf("event: %s", waitEvent(t, inst, v1alpha1.ReasonVaultCleanupSkipped))
}

// TestPrimaryPodKilled: when the only PostgreSQL pod of an instance is killed, the
// instance reports DatabaseReady False, and then True again without help, as
// CloudNativePG brings the pod back.
func TestPrimaryPodKilled(t *testing.T) {
	inst := minimalInstance(t)
	db := waitDatabase(t, inst)
	waitCondition(t, inst, v1alpha1.ConditionDatabaseReady, databaseTimeout)
	primary := primaryPod(t, db)

	// A watch sees every status the operator writes, however short the outage.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wc, err := client.NewWithWatch(cluster.RESTConfig, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, &v1alpha1.HelpdeskInstanceList{}, client.InNamespace(inst.Namespace), client.MatchingFields{"metadata.name": inst.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	if err := cluster.Client.Delete(ctx, primary, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s", primary.Name)
	sawFalse := false
	for !sawFalse {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended before DatabaseReady turned False")
			}
			got, isInstance := ev.Object.(*v1alpha1.HelpdeskInstance)
			if ev.Type != watch.Modified || !isInstance {
				continue
			}
			if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDatabaseReady); c != nil && c.Status == metav1.ConditionFalse {
				t.Logf("DatabaseReady=False %s: %s", c.Reason, c.Message)
				sawFalse = true
			}
		case <-ctx.Done():
			t.Fatalf("DatabaseReady never turned False after the primary pod was killed\n%s", describe(inst.Namespace))
		}
	}
	waitCondition(t, inst, v1alpha1.ConditionDatabaseReady, 5*time.Minute)
	again := primaryPod(t, waitDatabase(t, inst))
	t.Logf("recovered: primary %s (uid %s, was %s)", again.Name, again.UID, primary.UID)
	if again.UID == primary.UID {
		t.Errorf("the primary pod %s is the one that was killed", again.Name)
	}
}
