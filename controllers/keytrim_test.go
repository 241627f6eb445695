package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// TestCryptoShreddingTrimsOnlyWhatNoKeptBackupNeeds runs the crypto-shredding phase
// against the real Vault: key versions go only once the newest backup reported that no
// kept backup needs them and they are older than the backups' maxAge, never under a
// legal hold, and each trim is in the status and an Event. What the trimmed versions
// encrypted no longer decrypts; newer versions still do.
func TestCryptoShreddingTrimsOnlyWhatNoKeptBackupNeeds(t *testing.T) {
	ns := newNamespace(t)
	saved := testClock.Now()
	t.Cleanup(func() { testClock.mu.Lock(); testClock.now = saved; testClock.mu.Unlock() })
	setClock := func(at time.Time) { testClock.mu.Lock(); testClock.now = at; testClock.mu.Unlock() }
	// Vault stamps key versions with its own clock: start the test clock there.
	setClock(time.Now())

	mustCreate(t, backupVolumeClaim(ns))
	backups := pvcBackupPolicy(ns, "local")
	backups.Spec.Retention.MaxAge = &metav1.Duration{Duration: 24 * time.Hour}
	mustCreate(t, backups)
	retention := gdprPolicy(ns, "gdpr")
	mustCreate(t, retention)
	inst := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.BackupPolicyRef = &v1alpha1.LocalObjectReference{Name: "local"}
		i.Spec.RetentionPolicyRef = &v1alpha1.LocalObjectReference{Name: "gdpr"}
	})
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))
	key := inst.Status.Encryption.KeyName

	// Something encrypted under each of versions 1 to 4.
	root := vaultSrv.Client(t)
	var sealed []string
	for v := 1; v <= 4; v++ {
		if v > 1 {
			if _, err := root.Logical().Write("transit/keys/"+key+"/rotate", nil); err != nil {
				t.Fatal(err)
			}
		}
		s, err := root.Logical().Write("transit/encrypt/"+key, map[string]any{"plaintext": "ZmlsZSBrZXk="})
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s.Data["ciphertext"].(string))
	}
	decrypts := func(v int) error {
		_, err := root.Logical().Write("transit/decrypt/"+key, map[string]any{"ciphertext": sealed[v-1]})
		return err
	}
	minDecryption := func(want int) func() error {
		return func() error {
			if err := get(inst); err != nil {
				return err
			}
			if e := inst.Status.Encryption; e == nil || e.MinDecryptionVersion != want {
				return fmt.Errorf("status.encryption %+v, want minDecryptionVersion %d", e, want)
			}
			return nil
		}
	}

	cron := &batchv1.CronJob{}
	cron.Namespace, cron.Name = ns, resources.BackupNamesFor(inst).BackupCronJob
	eventually(t, wait, exists(cron))
	backupReports := func(name string, oldest int) {
		t.Helper()
		now := testClock.Now()
		runBackupJob(t, cron, cron.Name+"-"+name, true, now.Add(-2*time.Minute), now.Add(-time.Minute),
			fmt.Sprintf(`{"id":"20261130T020000Z-%s","size":1,"durationSeconds":60,"keyVersion":4,"oldestKeyVersion":%d,"kept":2}`, name, oldest))
		eventually(t, wait, func() error {
			if err := get(backups); err != nil {
				return err
			}
			if retainedKeyFloor(&backups.Status, "desk") != oldest {
				return fmt.Errorf("the policy's records do not report %d yet: %+v", oldest, backups.Status.RecentBackups)
			}
			return nil
		})
	}

	// The kept backups need version 3 and up, but versions 1 and 2 were in use less than
	// maxAge ago: backups made with them may still be within their age. Nothing goes.
	backupReports("aaaaaa", 3)
	eventually(t, wait, minDecryption(1))
	settle(t)
	if err := decrypts(1); err != nil {
		t.Fatalf("version 1 was trimmed while it was younger than maxAge: %v", err)
	}

	// Two days on: 1 and 2 are past maxAge and no kept backup needs them.
	setClock(time.Now().Add(48 * time.Hour))
	touch(t, inst)
	eventually(t, wait, minDecryption(3))
	trims := inst.Status.Encryption.Trims
	if len(trims) != 1 || trims[0].MinAvailableVersion != 3 || !strings.Contains(trims[0].Message, "Versions 1 to 2 of transit key "+key) ||
		!strings.Contains(trims[0].Message, "older than spec.retention.maxAge (24h0m0s) of BackupPolicy local and pruned") {
		t.Errorf("trims %+v", trims)
	}
	for v := 1; v <= 4; v++ {
		err := decrypts(v)
		if v < 3 && (err == nil || !strings.Contains(err.Error(), "too old")) {
			t.Errorf("version %d still decrypts after the trim (%v)", v, err)
		}
		if v >= 3 && err != nil {
			t.Errorf("version %d no longer decrypts: %v", v, err)
		}
	}
	if got := testutil.ToFloat64(keyMinDecryptionVersion.WithLabelValues(ns, "desk")); got != 3 {
		t.Errorf("min decryption version metric %v", got)
	}
	var trimmed []string
	for _, e := range recorder.of(ns, "desk") {
		if e.reason == "KeyVersionsTrimmed" {
			trimmed = append(trimmed, e.message)
		}
	}
	if len(trimmed) != 1 || !strings.Contains(trimmed[0], "can no longer be decrypted") {
		t.Errorf("KeyVersionsTrimmed events %q", trimmed)
	}

	// A legal hold suspends crypto-shredding, whatever the backups report.
	update(t, retention, func() { retention.Spec.LegalHold = &v1alpha1.LegalHoldSpec{Enabled: true, Reason: "case 2026-17"} })
	backupReports("bbbbbb", 4)
	touch(t, inst)
	settle(t)
	if err := minDecryption(3)(); err != nil {
		t.Errorf("under a legal hold: %v", err)
	}
	if err := decrypts(3); err != nil {
		t.Errorf("version 3 was trimmed under a legal hold: %v", err)
	}
	// Lifted: the versions no kept backup needs go.
	update(t, retention, func() { retention.Spec.LegalHold = nil })
	touch(t, inst)
	eventually(t, wait, minDecryption(4))
	if len(inst.Status.Encryption.Trims) != 2 || inst.Status.Encryption.Trims[0].MinAvailableVersion != 4 {
		t.Errorf("trims %+v, want the newest first", inst.Status.Encryption.Trims)
	}
	// Without maxAge backups may be kept for ever: crypto-shredding stops.
	update(t, backups, func() { backups.Spec.Retention.MaxAge = nil })
	if _, err := root.Logical().Write("transit/keys/"+key+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	setClock(time.Now().Add(96 * time.Hour))
	backupReports("cccccc", 5)
	touch(t, inst)
	settle(t)
	if err := minDecryption(4)(); err != nil {
		t.Errorf("without maxAge: %v", err)
	}
	if err := decrypts(4); err != nil {
		t.Errorf("version 4 was trimmed without a maxAge: %v", err)
	}
}
