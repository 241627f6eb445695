package controllers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// refusedClasses are data classes the test profile refuses on top of Helpy's; a test sets
// them for its own namespace's instances only.
var refusedClasses = struct {
	sync.Mutex
	byClass map[v1alpha1.DataClass]string
}{}

// testRetentionProfiles is Helpy's retention data, refusing refusedClasses.
func testRetentionProfiles(app v1alpha1.AppProfile) (appprofile.Retention, error) {
	r, err := appprofile.RetentionFor(app)
	if err != nil {
		return r, err
	}
	refusedClasses.Lock()
	defer refusedClasses.Unlock()
	if len(refusedClasses.byClass) > 0 {
		r.Unsupported = maps.Clone(refusedClasses.byClass)
	}
	return r, nil
}

func gdprPolicy(ns, name string) *v1alpha1.RetentionPolicy {
	return &v1alpha1.RetentionPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RetentionPolicySpec{
			Rules: []v1alpha1.RetentionRule{
				{DataClass: v1alpha1.DataClassClosedTickets, OlderThan: metav1.Duration{Duration: 4380 * time.Hour}, Action: v1alpha1.RetentionActionDelete},
				{DataClass: v1alpha1.DataClassInactiveCustomers, OlderThan: metav1.Duration{Duration: 8760 * time.Hour}, Action: v1alpha1.RetentionActionAnonymize},
			},
			Schedule: "0 3 * * *",
			TimeZone: "Europe/Berlin",
		},
	}
}

// retentionResultLine is what `helpdesk-operator retention` prints last, for a run that
// acted on closed tickets and inactive customers.
func retentionResultLine(result string, tickets, customers int64, extra string) string {
	return fmt.Sprintf(`{"subcommand":"retention","appProfile":"Helpy","result":%q,"dryRun":false,"legalHold":false,"changed":true,`+
		`"startTime":"2026-11-24T02:00:00Z","completionTime":"2026-11-24T02:00:24Z","durationSeconds":23.9,`+
		`"affected":{"ClosedTickets":%d,"InactiveCustomers":%d},`+
		`"rules":[{"dataClass":"ClosedTickets","action":"Delete","olderThan":"4380h0m0s","records":%d,"files":12,"batches":3,"completed":true},`+
		`{"dataClass":"InactiveCustomers","action":"Anonymize","olderThan":"8760h0m0s","records":%d,"files":0,"batches":1,"completed":%t}],"maxBatchMillis":120%s}`,
		result, tickets, customers, tickets, customers, result == "Succeeded", extra)
}

func TestRetentionPolicyRunsOnEveryInstanceAndReportsTruthfully(t *testing.T) {
	ns := newNamespace(t)
	policy := gdprPolicy(ns, "gdpr")
	mustCreate(t, policy)
	// Nothing references it: nothing runs, and Ready says so.
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotReferenced))

	inst := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RetentionPolicyRef = &v1alpha1.LocalObjectReference{Name: "gdpr"}
	})
	mustCreate(t, inst)
	cron := &batchv1.CronJob{}
	cron.Namespace, cron.Name = ns, resources.RetentionCronJobName(inst)
	eventually(t, wait, exists(cron))
	if !metav1.IsControlledBy(cron, inst) || cron.Labels[resources.LabelRetentionPolicy] != "gdpr" {
		t.Errorf("CronJob owners %v labels %v", cron.OwnerReferences, cron.Labels)
	}
	if cron.Spec.Schedule != "0 3 * * *" || ptr.Deref(cron.Spec.TimeZone, "") != "Europe/Berlin" {
		t.Errorf("schedule %q in %v", cron.Spec.Schedule, cron.Spec.TimeZone)
	}
	args := cron.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--rule=ClosedTickets:Delete:4380h0m0s", "--rule=InactiveCustomers:Anonymize:8760h0m0s"} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %s: %q", want, args)
		}
	}
	// Executed on its one instance; no run yet, so none failed.
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonRunsSucceeded))
	if st := policy.Status; len(st.Instances) != 1 || st.Instances[0].Name != "desk" || st.Instances[0].CronJob != cron.Name || st.NextRun == nil {
		t.Errorf("status %+v", st)
	}
	// The instance no longer claims retention is not enforced.
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionReady); c == nil || strings.Contains(c.Message, "retention") {
			return fmt.Errorf("instance Ready %+v", c)
		}
		return nil
	})

	now := testClock.Now()
	labels := []string{ns, "desk", "gdpr"}
	runBackupJob(t, cron, cron.Name+"-1", true, now.Add(-time.Hour), now.Add(-59*time.Minute), "progress line\n"+retentionResultLine("Succeeded", 52, 7, ""))
	eventually(t, wait, func() error {
		if err := get(policy); err != nil {
			return err
		}
		if policy.Status.LastRun == nil {
			return fmt.Errorf("no lastRun yet")
		}
		return nil
	})
	run := policy.Status.LastRun
	if run.Result != "Succeeded" || run.Instance != "desk" || run.Affected["ClosedTickets"] != 52 || run.Affected["InactiveCustomers"] != 7 ||
		run.Duration.Duration != 24*time.Second || run.DryRun || run.LegalHold || len(run.Rules) != 2 || run.Rules[0].Files != 12 || !run.Rules[1].Completed {
		t.Errorf("lastRun %+v", run)
	}
	if got := testutil.ToFloat64(retentionLastRunTimestamp.WithLabelValues(labels...)); got != float64(now.Add(-59*time.Minute).Unix()) {
		t.Errorf("last run timestamp %v", got)
	}
	if got := testutil.ToFloat64(retentionRecordsTotal.WithLabelValues(ns, "desk", "gdpr", "ClosedTickets", "Delete")); got != 52 {
		t.Errorf("records affected %v, want 52", got)
	}

	// A failed run: committed batches count, the reason is classified, Ready says it.
	runBackupJob(t, cron, cron.Name+"-2", false, now.Add(-30*time.Minute), now.Add(-29*time.Minute),
		retentionResultLine("Failed", 10, 3, `,"reason":"LockTimeout","error":"rule InactiveCustomers:Anonymize:8760h0m0s batch 2: SQLSTATE 55P03 on table users: a lock was not granted within the lock timeout (the application holds the rows)"`))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRunFailed))
	ready := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady)
	if !strings.Contains(ready.Message, "instance desk failed (LockTimeout)") || !strings.Contains(ready.Message, "SQLSTATE 55P03") {
		t.Errorf("Ready message %q", ready.Message)
	}
	if run := policy.Status.LastRun; run.Result != "Failed" || run.Reason != "LockTimeout" || run.Affected["ClosedTickets"] != 10 || run.Rules[1].Completed {
		t.Errorf("failed lastRun %+v", run)
	}
	if got := testutil.ToFloat64(retentionFailureTotal.WithLabelValues(labels...)); got != 1 {
		t.Errorf("failures %v, want 1", got)
	}
	if got := testutil.ToFloat64(retentionRecordsTotal.WithLabelValues(ns, "desk", "gdpr", "ClosedTickets", "Delete")); got != 62 {
		t.Errorf("records affected %v, want 62: the failed run's committed batches count", got)
	}
	if got := testutil.ToFloat64(retentionLastRunSuccess.WithLabelValues(labels...)); got != 0 {
		t.Errorf("last run success %v", got)
	}
	var reasons []string
	for _, e := range recorder.of(ns, "gdpr") {
		reasons = append(reasons, e.reason)
		if strings.Contains(e.message, "@") {
			t.Errorf("event %q carries an address", e.message)
		}
	}
	if !slices.Equal(reasons, []string{"RetentionRunSucceeded", "RetentionRunFailed"}) {
		t.Errorf("events %v, want one per run", reasons)
	}

	// A Job that died without a result (a deadline) is a failure too.
	runBackupJob(t, cron, cron.Name+"-3", false, now.Add(-20*time.Minute), now.Add(-19*time.Minute), "")
	eventually(t, wait, func() error {
		if err := get(policy); err != nil {
			return err
		}
		if run := policy.Status.LastRun; run.StartTime.Time.Unix() != now.Add(-20*time.Minute).Unix() || !strings.Contains(run.Message, "failed without a result") {
			return fmt.Errorf("lastRun %+v", run)
		}
		return nil
	})

	// The next run succeeds: Ready again.
	runBackupJob(t, cron, cron.Name+"-4", true, now.Add(-10*time.Minute), now.Add(-9*time.Minute), retentionResultLine("Succeeded", 0, 0, ""))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonRunsSucceeded))

	// A legal hold: the runs change nothing, and the status says so everywhere.
	update(t, policy, func() { policy.Spec.LegalHold = &v1alpha1.LegalHoldSpec{Enabled: true, Reason: "case 2026-17"} })
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionLegalHold, metav1.ConditionTrue, v1alpha1.ReasonLegalHold))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonLegalHold))
	eventually(t, wait, func() error {
		if err := get(cron); err != nil {
			return err
		}
		if !slices.Contains(cron.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, "--legal-hold=true") {
			return fmt.Errorf("the CronJob does not pass the hold on")
		}
		return nil
	})
	held := strings.Replace(retentionResultLine("Succeeded", 40, 2, `,"note":"legal hold: nothing was changed"`), `"legalHold":false,"changed":true`, `"legalHold":true,"changed":false`, 1)
	runBackupJob(t, cron, cron.Name+"-5", true, now.Add(-5*time.Minute), now.Add(-4*time.Minute), held)
	eventually(t, wait, func() error {
		if err := get(policy); err != nil {
			return err
		}
		if run := policy.Status.LastRun; !run.LegalHold || !run.DryRun || run.Affected["ClosedTickets"] != 40 {
			return fmt.Errorf("lastRun under the hold %+v", run)
		}
		return nil
	})
	if got := testutil.ToFloat64(retentionRecordsTotal.WithLabelValues(ns, "desk", "gdpr", "ClosedTickets", "Delete")); got != 62 {
		t.Errorf("records affected %v after a held run, want still 62", got)
	}
	if got := testutil.ToFloat64(retentionLastRunRecords.WithLabelValues(ns, "desk", "gdpr", "ClosedTickets", "Delete")); got != 40 {
		t.Errorf("last run records %v, want the 40 a run would have deleted", got)
	}
	update(t, policy, func() { policy.Spec.LegalHold = nil })
	eventually(t, wait, func() error {
		if err := get(policy); err != nil {
			return err
		}
		if meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionLegalHold) != nil {
			return fmt.Errorf("LegalHold still present after the hold was lifted")
		}
		return nil
	})

	// No reference any more: the CronJob goes, and nothing runs.
	update(t, inst, func() { inst.Spec.RetentionPolicyRef = nil })
	eventually(t, wait, gone(cron))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotReferenced))
}

func TestRetentionRuleTheProfileRefusesIsAConditionNeverASkip(t *testing.T) {
	ns := newNamespace(t)
	policy := gdprPolicy(ns, "gdpr")
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RetentionPolicyRef = &v1alpha1.LocalObjectReference{Name: "gdpr"}
	})
	mustCreate(t, inst)
	cron := &batchv1.CronJob{}
	cron.Namespace, cron.Name = ns, resources.RetentionCronJobName(inst)
	eventually(t, wait, exists(cron))

	refusedClasses.Lock()
	refusedClasses.byClass = map[v1alpha1.DataClass]string{v1alpha1.DataClassInactiveCustomers: "this helpdesk keeps no customer accounts"}
	refusedClasses.Unlock()
	t.Cleanup(func() { refusedClasses.Lock(); refusedClasses.byClass = nil; refusedClasses.Unlock() })
	touch(t, inst)
	update(t, policy, func() { policy.Annotations = map[string]string{"test/touch": "1"} })

	// Nothing runs on the instance (not even the supported rule), and both say why.
	eventually(t, wait, gone(cron))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonUnsupportedDataClass))
	msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady).Message
	if !strings.Contains(msg, "instance desk refuses dataClass InactiveCustomers (Anonymize)") || !strings.Contains(msg, "keeps no customer accounts") {
		t.Errorf("Ready message %q", msg)
	}
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonUnsupportedDataClass))

	// Without the refused rule the policy runs again.
	update(t, policy, func() { policy.Spec.Rules = policy.Spec.Rules[:1] })
	eventually(t, wait, exists(cron))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonRunsSucceeded))
}

func TestBackupsThatOutliveRetentionAreReportedOnBothPolicies(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, backupVolumeClaim(ns))
	retention := gdprPolicy(ns, "gdpr") // personal data at most 8760h
	mustCreate(t, retention)
	backups := pvcBackupPolicy(ns, "local")
	backups.Spec.Retention.MaxAge = &metav1.Duration{Duration: 17520 * time.Hour}
	mustCreate(t, backups)
	// Neither is used by an instance with the other: no condition at all.
	mustCreate(t, newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RetentionPolicyRef = &v1alpha1.LocalObjectReference{Name: "gdpr"}
		i.Spec.BackupPolicyRef = &v1alpha1.LocalObjectReference{Name: "local"}
	}))
	for _, obj := range []conditioned{retention, backups} {
		eventually(t, wait, conditionIs(obj, v1alpha1.ConditionBackupRetention, metav1.ConditionFalse, v1alpha1.ReasonBackupsOutliveRetention))
		msg := meta.FindStatusCondition(obj.GetConditions(), v1alpha1.ConditionBackupRetention).Message
		for _, want := range []string{"instance desk", "up to 17520h", "at most 8760h", "cannot reach into encrypted backups", "spec.retention.maxAge"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%T message %q lacks %q", obj, msg, want)
			}
		}
	}
	update(t, backups, func() { backups.Spec.Retention.MaxAge = &metav1.Duration{Duration: 8760 * time.Hour} })
	for _, obj := range []conditioned{retention, backups} {
		eventually(t, wait, conditionIs(obj, v1alpha1.ConditionBackupRetention, metav1.ConditionTrue, v1alpha1.ReasonWithinRetention))
	}
	// Shortening the retention side is noticed through the other policy's watch.
	update(t, retention, func() { retention.Spec.Rules[1].OlderThan = metav1.Duration{Duration: 4380 * time.Hour} })
	eventually(t, wait, conditionIs(backups, v1alpha1.ConditionBackupRetention, metav1.ConditionFalse, v1alpha1.ReasonBackupsOutliveRetention))
	update(t, backups, func() { backups.Spec.Retention.MaxAge = nil })
	eventually(t, wait, func() error {
		if err := conditionIs(retention, v1alpha1.ConditionBackupRetention, metav1.ConditionFalse, v1alpha1.ReasonBackupsOutliveRetention)(); err != nil {
			return err
		}
		if msg := meta.FindStatusCondition(retention.Status.Conditions, v1alpha1.ConditionBackupRetention).Message; !strings.Contains(msg, "sets no spec.retention.maxAge") {
			return fmt.Errorf("message %q", msg)
		}
		return nil
	})
}
