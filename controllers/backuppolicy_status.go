package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/schedule"
)

// Results of backup and drill records.
const (
	backupSucceeded = "Succeeded"
	backupFailed    = "Failed"
	drillPassed     = "Passed"
	drillFailed     = "Failed"

	// maxRecentBackups is the schema's bound on status.recentBackups.
	maxRecentBackups = 20
	// maxRecordMessage keeps a failure's message readable in kubectl and the status small.
	maxRecordMessage = 1024

	// jobNameLabel is the label the Job controller puts on a Job's pods.
	jobNameLabel = "batch.kubernetes.io/job-name"
)

// runResult is the one-line JSON result internal/backup/cli prints last, which the
// backup pods write to their termination message. It never holds a secret.
type runResult struct {
	ID              string  `json:"id"`
	Size            int64   `json:"size"`
	DurationSeconds float64 `json:"durationSeconds"`
	Passed          *bool   `json:"passed"`
	RestoreSeconds  float64 `json:"restoreSeconds"`
	Error           string  `json:"error"`
	PruneError      string  `json:"pruneError"`
	// KeyVersion is the transit key version the backup used; OldestKeyVersion the oldest
	// one any backup kept after pruning needs (only reported when pruning succeeded).
	KeyVersion       int `json:"keyVersion"`
	OldestKeyVersion int `json:"oldestKeyVersion"`
}

// parseRunResult reads the last non-empty line of a termination message. A message that
// is not a result (the log tail of a pod that died early) becomes the error.
func parseRunResult(message string) runResult {
	lines := strings.Split(strings.TrimSpace(message), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	var r runResult
	if last == "" {
		return r
	}
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return runResult{Error: clipMessage(last)}
	}
	r.Error = clipMessage(r.Error)
	return r
}

func clipMessage(s string) string {
	if len(s) <= maxRecordMessage {
		return s
	}
	return s[:maxRecordMessage] + "…"
}

// finishedRun is a Job of the policy that has ended.
type finishedRun struct {
	job        *batchv1.Job
	instance   string
	start, end time.Time
	succeeded  bool
}

// finished reports whether the Job ended, how, and when.
func finished(job *batchv1.Job) (finishedRun, bool) {
	run := finishedRun{job: job, instance: job.Labels[resources.LabelHelpdeskInstance], start: job.CreationTimestamp.Time}
	if job.Status.StartTime != nil {
		run.start = job.Status.StartTime.Time
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue || (c.Type != batchv1.JobComplete && c.Type != batchv1.JobFailed) {
			continue
		}
		run.succeeded = c.Type == batchv1.JobComplete
		run.end = c.LastTransitionTime.Time
		if run.succeeded && job.Status.CompletionTime != nil {
			run.end = job.Status.CompletionTime.Time
		}
		return run, true
	}
	return run, false
}

// recordKey identifies a run in status: an instance starts at most one run of a policy
// per second (the CronJob forbids overlap). Seconds, because status times are stored so.
func recordKey(instance string, start time.Time) string {
	return fmt.Sprintf("%s/%d", instance, start.Unix())
}

// runOutcome is what the Job's pods said, read once per run.
func (r *BackupPolicyReconciler) runOutcome(ctx context.Context, job *batchv1.Job) (runResult, error) {
	return readRunResult(ctx, r.APIReader, job)
}

// readRunResult reads the result line from the termination message of the newest
// terminated pod of a finished Job. Uncached: the operator keeps no Pods in memory, and
// this runs once per finished Job.
func readRunResult(ctx context.Context, reader client.Reader, job *batchv1.Job) (runResult, error) {
	pods := &corev1.PodList{}
	if err := reader.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{jobNameLabel: job.Name}); err != nil {
		return runResult{}, fmt.Errorf("reading the pods of Job %s/%s: %w", job.Namespace, job.Name, err)
	}
	var newest *corev1.ContainerStateTerminated
	var newestAt time.Time
	for i := range pods.Items {
		for _, cs := range pods.Items[i].Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && (newest == nil || t.FinishedAt.After(newestAt)) {
				newest, newestAt = t, t.FinishedAt.Time
			}
		}
	}
	if newest == nil {
		return runResult{}, nil
	}
	return parseRunResult(newest.Message), nil
}

// backupObservation is what observeRuns learned beyond the status it filled.
type backupObservation struct {
	// newRecords are backups finished since the last status write, newest first.
	newRecords []v1alpha1.BackupRecord
	// newDrill is a drill finished since the last status write.
	newDrill *v1alpha1.DrillRecord
}

// observeRuns fills lastBackup, lastSuccessfulBackup, recentBackups and lastDrill from
// the policy's Jobs. Runs already in the status are not read again, so the pods of a
// Job are read once; the status is the memory across restarts.
func (r *BackupPolicyReconciler) observeRuns(ctx context.Context, policy *v1alpha1.BackupPolicy) (backupObservation, error) {
	var obs backupObservation
	jobs := &batchv1.JobList{}
	if err := r.List(ctx, jobs, client.InNamespace(policy.Namespace), client.MatchingLabels{resources.LabelBackupPolicy: resources.BackupPolicyLabel(policy.Name)}); err != nil {
		return obs, err
	}
	st := &policy.Status
	known := map[string]bool{}
	for _, rec := range st.RecentBackups {
		known[recordKey(rec.Instance, startOf(rec))] = true
	}
	for _, rec := range []*v1alpha1.BackupRecord{st.LastBackup, st.LastSuccessfulBackup} {
		if rec != nil {
			known[recordKey(rec.Instance, startOf(*rec))] = true
		}
	}
	// Runs older than a full history's oldest were already recorded and dropped.
	var horizon time.Time
	if len(st.RecentBackups) >= maxRecentBackups {
		horizon = endOf(st.RecentBackups[len(st.RecentBackups)-1])
	}

	var drill *finishedRun
	for i := range jobs.Items {
		run, done := finished(&jobs.Items[i])
		if !done {
			continue
		}
		switch run.job.Labels[resources.LabelBackupRun] {
		case resources.BackupRunBackup:
			if known[recordKey(run.instance, run.start)] || !run.end.After(horizon) {
				continue
			}
			result, err := r.runOutcome(ctx, run.job)
			if err != nil {
				return obs, err
			}
			obs.newRecords = append(obs.newRecords, backupRecord(run, result))
		case resources.BackupRunDrill:
			if drill == nil || run.end.After(drill.end) {
				drill = &run
			}
		}
	}
	if drill != nil && (st.LastDrill == nil || st.LastDrill.Time == nil || drill.end.Unix() > st.LastDrill.Time.Unix()) {
		result, err := r.runOutcome(ctx, drill.job)
		if err != nil {
			return obs, err
		}
		obs.newDrill = drillRecord(*drill, result)
		st.LastDrill = obs.newDrill
	}

	sortRecords(obs.newRecords)
	all := append(append([]v1alpha1.BackupRecord(nil), obs.newRecords...), st.RecentBackups...)
	sortRecords(all)
	if len(all) > maxRecentBackups {
		all = all[:maxRecentBackups]
	}
	st.RecentBackups = all
	for i := range obs.newRecords {
		rec := obs.newRecords[i]
		if st.LastBackup == nil || endOf(rec).After(endOf(*st.LastBackup)) {
			st.LastBackup = rec.DeepCopy()
		}
		if rec.Result == backupSucceeded && (st.LastSuccessfulBackup == nil || endOf(rec).After(endOf(*st.LastSuccessfulBackup))) {
			st.LastSuccessfulBackup = rec.DeepCopy()
		}
	}
	return obs, nil
}

func backupRecord(run finishedRun, result runResult) v1alpha1.BackupRecord {
	rec := v1alpha1.BackupRecord{
		ID:             result.ID,
		Instance:       run.instance,
		StartTime:      &metav1.Time{Time: run.start.Truncate(time.Second)},
		CompletionTime: &metav1.Time{Time: run.end.Truncate(time.Second)},
		SizeBytes:      result.Size,
		Result:         backupFailed,
	}
	duration := run.end.Sub(run.start)
	if result.DurationSeconds > 0 {
		duration = time.Duration(result.DurationSeconds * float64(time.Second))
	}
	rec.Duration = &metav1.Duration{Duration: duration.Round(time.Second)}
	switch {
	case run.succeeded:
		rec.Result = backupSucceeded
		rec.KeyVersion = result.KeyVersion
		if result.PruneError == "" {
			rec.OldestKeyVersion = result.OldestKeyVersion
		}
		if result.PruneError != "" {
			rec.Message = "Retention failed and is retried after the next backup: " + clipMessage(result.PruneError)
		}
	case result.Error != "":
		rec.Message = result.Error
	default:
		rec.Message = fmt.Sprintf("Job %s failed without a result; read its logs (kubectl logs job/%s)", run.job.Name, run.job.Name)
	}
	return rec
}

func drillRecord(run finishedRun, result runResult) *v1alpha1.DrillRecord {
	rec := &v1alpha1.DrillRecord{
		BackupID: result.ID,
		Instance: run.instance,
		Time:     &metav1.Time{Time: run.end.Truncate(time.Second)},
		Result:   drillFailed,
		Message:  result.Error,
	}
	if result.RestoreSeconds > 0 {
		rec.RestoreDuration = &metav1.Duration{Duration: time.Duration(result.RestoreSeconds * float64(time.Second)).Round(time.Second)}
	}
	if run.succeeded && (result.Passed == nil || *result.Passed) {
		rec.Result, rec.Message = drillPassed, ""
	} else if rec.Message == "" {
		rec.Message = fmt.Sprintf("Job %s failed; read its logs (kubectl logs job/%s)", run.job.Name, run.job.Name)
	}
	return rec
}

func startOf(rec v1alpha1.BackupRecord) time.Time {
	if rec.StartTime == nil {
		return time.Time{}
	}
	return rec.StartTime.Time
}

func endOf(rec v1alpha1.BackupRecord) time.Time {
	if rec.CompletionTime == nil {
		return startOf(rec)
	}
	return rec.CompletionTime.Time
}

// sortRecords orders records newest first, deterministically.
func sortRecords(recs []v1alpha1.BackupRecord) {
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := endOf(recs[i]), endOf(recs[j])
		if !a.Equal(b) {
			return a.After(b)
		}
		return recs[i].Instance < recs[j].Instance
	})
}

// instanceBackups is what one instance's records say.
type instanceBackups struct {
	lastSuccess *v1alpha1.BackupRecord
	lastAttempt *v1alpha1.BackupRecord
}

// backupsByInstance groups the status' records by instance label value.
func backupsByInstance(st *v1alpha1.BackupPolicyStatus) map[string]instanceBackups {
	out := map[string]instanceBackups{}
	recs := append([]v1alpha1.BackupRecord(nil), st.RecentBackups...)
	for _, rec := range []*v1alpha1.BackupRecord{st.LastSuccessfulBackup, st.LastBackup} {
		if rec != nil {
			recs = append(recs, *rec)
		}
	}
	for i := range recs {
		rec := &recs[i]
		b := out[rec.Instance]
		if b.lastAttempt == nil || endOf(*rec).After(endOf(*b.lastAttempt)) {
			b.lastAttempt = rec
		}
		if rec.Result == backupSucceeded && (b.lastSuccess == nil || endOf(*rec).After(endOf(*b.lastSuccess))) {
			b.lastSuccess = rec
		}
		out[rec.Instance] = b
	}
	return out
}

// backupHealth is the BackupHealthy verdict and when, at the latest, it must be
// evaluated again because time alone can flip it (zero: only a new run can).
type backupHealth struct {
	status  metav1.ConditionStatus
	reason  string
	message string
	recheck time.Time
}

// judgeBackupHealth decides BackupHealthy for the instances that reference the policy:
// each needs a success younger than twice the schedule's interval. The worst instance
// decides; messages name instances, never times, so the condition does not churn.
func judgeBackupHealth(instances []string, byInstance map[string]instanceBackups, sched schedule.Schedule, now time.Time) backupHealth {
	if len(instances) == 0 {
		return backupHealth{status: metav1.ConditionUnknown, reason: v1alpha1.ReasonNoBackupYet, message: "No HelpdeskInstance references the policy"}
	}
	maxAge := 2 * sched.Interval(now)
	var failed, stale, none []string
	var failMessage string
	var recheck time.Time
	for _, name := range instances {
		b := byInstance[name]
		lastFailed := b.lastAttempt != nil && b.lastAttempt.Result == backupFailed
		fresh := b.lastSuccess != nil && now.Sub(endOf(*b.lastSuccess)) < maxAge
		switch {
		case fresh:
			if flip := endOf(*b.lastSuccess).Add(maxAge); recheck.IsZero() || flip.Before(recheck) {
				recheck = flip
			}
		case lastFailed:
			failed = append(failed, name)
			if failMessage == "" {
				failMessage = b.lastAttempt.Message
			}
		case b.lastSuccess != nil:
			stale = append(stale, name)
		default:
			none = append(none, name)
		}
	}
	switch {
	case len(failed) > 0:
		return backupHealth{status: metav1.ConditionFalse, reason: v1alpha1.ReasonBackupFailed, recheck: recheck,
			message: fmt.Sprintf("The newest backup of %s failed and no recent one succeeded: %s", joinSome(failed, ", "), failMessage)}
	case len(stale) > 0:
		return backupHealth{status: metav1.ConditionFalse, reason: v1alpha1.ReasonBackupStale, recheck: recheck,
			message: fmt.Sprintf("No backup of %s succeeded within twice the schedule's interval (%s)", joinSome(stale, ", "), maxAge)}
	case len(none) > 0:
		return backupHealth{status: metav1.ConditionFalse, reason: v1alpha1.ReasonNoBackupYet, recheck: recheck,
			message: fmt.Sprintf("No backup of %s has completed yet", joinSome(none, ", "))}
	}
	return backupHealth{status: metav1.ConditionTrue, reason: v1alpha1.ReasonBackupSucceeded, recheck: recheck,
		message: fmt.Sprintf("Every instance has a backup younger than twice the schedule's interval (%s)", maxAge)}
}

// referencingInstances are the instance label values of the instances naming the policy.
func (r *BackupPolicyReconciler) referencingInstances(ctx context.Context, policy *v1alpha1.BackupPolicy) ([]string, error) {
	list := &v1alpha1.HelpdeskInstanceList{}
	if err := r.List(ctx, list, client.InNamespace(policy.Namespace), client.MatchingFields{instancePolicyIndex: "BackupPolicy/" + policy.Name},
		client.UnsafeDisableDeepCopy); err != nil { // names only
		return nil, err
	}
	names := make([]string, 0, len(list.Items))
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			names = append(names, resources.NamesFor(&list.Items[i]).InstanceLabel)
		}
	}
	sort.Strings(names)
	return names, nil
}

// updateBackupMetrics counts the new runs once and sets the gauges from each
// instance's newest success.
func updateBackupMetrics(policy *v1alpha1.BackupPolicy, instances []string, obs backupObservation, byInstance map[string]instanceBackups) {
	ns := policy.Namespace
	for _, name := range instances {
		// Zero-valued series exist from the start, so increase() sees the first failure.
		backupFailureTotal.WithLabelValues(ns, name, policy.Name).Add(0)
		backupSuccessTotal.WithLabelValues(ns, name, policy.Name).Add(0)
	}
	for _, rec := range obs.newRecords {
		if rec.Result == backupSucceeded {
			backupSuccessTotal.WithLabelValues(ns, rec.Instance, policy.Name).Inc()
		} else {
			backupFailureTotal.WithLabelValues(ns, rec.Instance, policy.Name).Inc()
		}
	}
	for name, b := range byInstance {
		if b.lastSuccess == nil {
			continue
		}
		backupLastSuccessTimestamp.WithLabelValues(ns, name, policy.Name).Set(float64(endOf(*b.lastSuccess).Unix()))
		if b.lastSuccess.Duration != nil {
			backupDurationSeconds.WithLabelValues(ns, name, policy.Name).Set(b.lastSuccess.Duration.Seconds())
		}
		backupSizeBytes.WithLabelValues(ns, name, policy.Name).Set(float64(b.lastSuccess.SizeBytes))
	}
}

// recordRunEvents emits one event per newly failed backup or drill.
func (r *BackupPolicyReconciler) recordRunEvents(policy *v1alpha1.BackupPolicy, obs backupObservation) {
	if r.Recorder == nil {
		return
	}
	for _, rec := range obs.newRecords {
		if rec.Result == backupFailed {
			r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, v1alpha1.ReasonBackupFailed, "Backup",
				"Backup of instance %s failed: %s", rec.Instance, rec.Message)
		}
	}
	if d := obs.newDrill; d != nil && d.Result == drillFailed {
		r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, "RestoreDrillFailed", "RestoreDrill",
			"Restore drill of instance %s failed: %s", d.Instance, d.Message)
	}
}
