package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/ssa"
)

// retentionResult is the one-line JSON result of `helpdesk-operator retention`
// (docs/retention.md), read from the Job's termination message. It holds counts, never data.
type retentionResult struct {
	Result          string           `json:"result"`
	DryRun          bool             `json:"dryRun"`
	LegalHold       bool             `json:"legalHold"`
	DurationSeconds float64          `json:"durationSeconds"`
	Affected        map[string]int64 `json:"affected"`
	Rules           []struct {
		DataClass v1alpha1.DataClass       `json:"dataClass"`
		Action    v1alpha1.RetentionAction `json:"action"`
		Records   int64                    `json:"records"`
		Files     int64                    `json:"files"`
		Completed bool                     `json:"completed"`
	} `json:"rules"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// parseRetentionResult reads the last line of a termination message; a message that is
// no result (the log tail of a pod that died early) becomes the error.
func parseRetentionResult(message string) (retentionResult, bool) {
	var r retentionResult
	if errText, ok := decodeResultLine(message, &r, func() bool { return r.Result != "" }); !ok {
		return retentionResult{Error: errText}, false
	}
	r.Error = clipMessage(r.Error)
	return r, true
}

// retentionExecution is the policy on one referencing instance.
type retentionExecution struct {
	inst    *v1alpha1.HelpdeskInstance
	cronJob string
	lastRun *v1alpha1.RetentionRunStatus
	// refused says why the instance's app profile refuses rules of the policy.
	refused []string
}

func anyCronJob(executions []retentionExecution) bool {
	for _, e := range executions {
		if e.cronJob != "" {
			return true
		}
	}
	return false
}

// observe fills status.instances and status.lastRun from the referencing instances, the
// CronJobs they created and the Jobs that finished since the status last recorded a run
// on each; each new run is counted in the metrics and gets an Event, once: the status is
// the memory across restarts.
func (r *RetentionPolicyReconciler) observe(ctx context.Context, policy *v1alpha1.RetentionPolicy) ([]retentionExecution, error) {
	list := &v1alpha1.HelpdeskInstanceList{}
	// The instances are read, never changed: no copy of each per reconcile.
	if err := r.List(ctx, list, client.InNamespace(policy.Namespace), client.MatchingFields{instancePolicyIndex: "RetentionPolicy/" + policy.Name},
		client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	label := client.MatchingLabels{resources.LabelRetentionPolicy: resources.RetentionPolicyLabel(policy.Name)}
	cronJobs := ssa.MetadataList(batchv1.SchemeGroupVersion.WithKind("CronJobList"))
	if err := r.List(ctx, cronJobs, client.InNamespace(policy.Namespace), label); err != nil {
		return nil, err
	}
	jobs := &batchv1.JobList{}
	if err := r.List(ctx, jobs, client.InNamespace(policy.Namespace), label); err != nil {
		return nil, err
	}
	known := map[string]*v1alpha1.RetentionRunStatus{}
	for i := range policy.Status.Instances {
		known[policy.Status.Instances[i].Name] = policy.Status.Instances[i].LastRun
	}

	cronJobOf := map[types.UID]string{}
	for j := range cronJobs.Items {
		if owner := metav1.GetControllerOf(&cronJobs.Items[j]); owner != nil {
			cronJobOf[owner.UID] = cronJobs.Items[j].Name
		}
	}
	var executions []retentionExecution
	for i := range list.Items {
		inst := &list.Items[i]
		if !inst.DeletionTimestamp.IsZero() {
			continue
		}
		e := retentionExecution{inst: inst, lastRun: known[inst.Name], refused: retentionRefusals(r.RetentionProfiles, inst, policy), cronJob: cronJobOf[inst.UID]}
		runs, err := r.newRuns(ctx, inst, jobs.Items, e.lastRun)
		if err != nil {
			return nil, err
		}
		for _, run := range runs {
			r.recordRun(policy, inst, run)
			e.lastRun = run
		}
		if e.lastRun != nil {
			setRetentionGauges(policy, inst.Name, e.lastRun)
		}
		executions = append(executions, e)
	}
	sort.Slice(executions, func(i, j int) bool { return executions[i].inst.Name < executions[j].inst.Name })

	policy.Status.Instances = nil
	policy.Status.LastRun = nil
	for _, e := range executions {
		// The schema bounds the list; Ready and lastRun still judge every instance.
		if len(policy.Status.Instances) < maxRetentionInstances {
			policy.Status.Instances = append(policy.Status.Instances, v1alpha1.RetentionInstanceStatus{Name: e.inst.Name, CronJob: e.cronJob, LastRun: e.lastRun})
		}
		if e.lastRun != nil && (policy.Status.LastRun == nil || runEnd(e.lastRun).After(runEnd(policy.Status.LastRun))) {
			policy.Status.LastRun = e.lastRun.DeepCopy()
		}
	}
	return executions, nil
}

func runEnd(run *v1alpha1.RetentionRunStatus) time.Time {
	if run.CompletionTime != nil {
		return run.CompletionTime.Time
	}
	if run.StartTime != nil {
		return run.StartTime.Time
	}
	return time.Time{}
}

// newRuns are the runs on inst that finished after last, oldest first. A Job is only
// finished once its pods terminated, so its pods are read now, once.
func (r *RetentionPolicyReconciler) newRuns(ctx context.Context, inst *v1alpha1.HelpdeskInstance, jobs []batchv1.Job, last *v1alpha1.RetentionRunStatus) ([]*v1alpha1.RetentionRunStatus, error) {
	instanceLabel := resources.InstanceLabel(inst)
	var finishedRuns []finishedRun
	for i := range jobs {
		job := &jobs[i]
		if job.Labels[resources.LabelHelpdeskInstance] != instanceLabel {
			continue
		}
		run, done := finished(job)
		if !done || (last != nil && last.StartTime != nil && run.start.Unix() <= last.StartTime.Unix()) {
			continue
		}
		finishedRuns = append(finishedRuns, run)
	}
	sort.Slice(finishedRuns, func(i, j int) bool { return finishedRuns[i].start.Before(finishedRuns[j].start) })
	var out []*v1alpha1.RetentionRunStatus
	for _, run := range finishedRuns {
		message, err := terminationMessage(ctx, r.APIReader, run.job)
		if err != nil {
			return nil, err
		}
		out = append(out, retentionRun(inst.Name, run, message))
	}
	return out, nil
}

// terminationMessage is the termination message of the newest terminated container of a
// finished Job's pods; "" when there is none.
func terminationMessage(ctx context.Context, reader client.Reader, job *batchv1.Job) (string, error) {
	pods := &corev1.PodList{}
	if err := reader.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{jobNameLabel: job.Name}); err != nil {
		return "", fmt.Errorf("reading the pods of Job %s/%s: %w", job.Namespace, job.Name, err)
	}
	var newest *corev1.ContainerStateTerminated
	for i := range pods.Items {
		for _, cs := range pods.Items[i].Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && (newest == nil || t.FinishedAt.After(newest.FinishedAt.Time)) {
				newest = t
			}
		}
	}
	if newest == nil {
		return "", nil
	}
	return newest.Message, nil
}

// retentionRun turns a finished Job and its result line into a run record.
func retentionRun(instance string, run finishedRun, message string) *v1alpha1.RetentionRunStatus {
	res, ok := parseRetentionResult(message)
	rec := &v1alpha1.RetentionRunStatus{
		Instance:       instance,
		StartTime:      &metav1.Time{Time: run.start.Truncate(time.Second)},
		CompletionTime: &metav1.Time{Time: run.end.Truncate(time.Second)},
		Result:         retentionFailedResult,
		Reason:         res.Reason,
		Message:        res.Error,
		DryRun:         res.DryRun || res.LegalHold,
		LegalHold:      res.LegalHold,
		Affected:       res.Affected,
	}
	duration := run.end.Sub(run.start)
	if res.DurationSeconds > 0 {
		duration = time.Duration(res.DurationSeconds * float64(time.Second))
	}
	rec.Duration = &metav1.Duration{Duration: duration.Round(time.Second)}
	for _, rule := range res.Rules {
		rec.Rules = append(rec.Rules, v1alpha1.RetentionRuleRun{DataClass: rule.DataClass, Action: rule.Action, Records: rule.Records, Files: rule.Files, Completed: rule.Completed})
	}
	switch {
	case run.succeeded && ok && res.Result == retentionSucceededResult:
		rec.Result, rec.Reason, rec.Message = retentionSucceededResult, "", ""
	case rec.Message == "":
		rec.Reason = jobFailureReason(run.job)
		rec.Message = fmt.Sprintf("Job %s failed without a result; read its logs (kubectl logs job/%s)", run.job.Name, run.job.Name)
	}
	return rec
}

// maxRetentionInstances is the schema's bound on status.instances.
const maxRetentionInstances = 256

// Results of retention runs, as the engine writes them.
const (
	retentionSucceededResult = "Succeeded"
	retentionFailedResult    = "Failed"
)

// jobFailureReason is the Job controller's reason (DeadlineExceeded, BackoffLimitExceeded).
func jobFailureReason(job *batchv1.Job) string {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue && c.Reason != "" {
			return c.Reason
		}
	}
	return "JobFailed"
}

// setRetentionGauges sets the gauges from an instance's last run, on every reconcile, so
// they survive a restart of the operator.
func setRetentionGauges(policy *v1alpha1.RetentionPolicy, instance string, run *v1alpha1.RetentionRunStatus) {
	labels := []string{policy.Namespace, instance, policy.Name}
	retentionLastRunTimestamp.WithLabelValues(labels...).Set(float64(runEnd(run).Unix()))
	if run.Duration != nil {
		retentionLastRunDuration.WithLabelValues(labels...).Set(run.Duration.Seconds())
	}
	success := 0.0
	if run.Result == retentionSucceededResult {
		success = 1
	}
	retentionLastRunSuccess.WithLabelValues(labels...).Set(success)
	for _, rule := range policy.Spec.Rules {
		action := rule.Action
		if action == "" {
			action = v1alpha1.RetentionActionDelete
		}
		retentionLastRunRecords.WithLabelValues(append(labels, string(rule.DataClass), string(action))...).Set(0)
	}
	for _, rule := range run.Rules {
		retentionLastRunRecords.WithLabelValues(append(labels, string(rule.DataClass), string(rule.Action))...).Set(float64(rule.Records))
	}
}

// recordRun counts a new run in the metrics and emits its Event, once per run.
func (r *RetentionPolicyReconciler) recordRun(policy *v1alpha1.RetentionPolicy, inst *v1alpha1.HelpdeskInstance, run *v1alpha1.RetentionRunStatus) {
	labels := []string{policy.Namespace, inst.Name, policy.Name}
	retentionFailureTotal.WithLabelValues(labels...).Add(0)
	retentionSuccessTotal.WithLabelValues(labels...).Add(0)
	if run.Result == retentionSucceededResult {
		retentionSuccessTotal.WithLabelValues(labels...).Inc()
	} else {
		retentionFailureTotal.WithLabelValues(labels...).Inc()
	}
	var done []string
	for _, rule := range run.Rules {
		classLabels := append(append([]string(nil), labels...), string(rule.DataClass), string(rule.Action))
		if !run.DryRun {
			retentionRecordsTotal.WithLabelValues(classLabels...).Add(float64(rule.Records))
		}
		done = append(done, fmt.Sprintf("%s %s %d records, %d files", rule.DataClass, rule.Action, rule.Records, rule.Files))
	}
	if r.Recorder == nil {
		return
	}
	summary := strings.Join(done, "; ")
	if summary == "" {
		summary = "no rule ran"
	}
	mode := ""
	switch {
	case run.LegalHold:
		mode = " (legal hold: nothing was changed, these are the counts a run would have acted on)"
	case run.DryRun:
		mode = " (dry run: nothing was changed)"
	}
	if run.Result == retentionSucceededResult {
		r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "RetentionRunSucceeded", "Retention",
			"Retention on instance %s: %s%s", inst.Name, summary, mode)
		return
	}
	r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, "RetentionRunFailed", "Retention",
		"Retention on instance %s failed (%s): %s; batches committed before the failure stay: %s%s", inst.Name, run.Reason, run.Message, summary, mode)
}

// judgeRetention decides Ready: the policy is executed on every instance that references
// it (its CronJob exists) and the last run on each, if any, succeeded. Messages name
// instances and reasons, never times, so the condition does not churn.
func judgeRetention(policy *v1alpha1.RetentionPolicy, executions []retentionExecution) (metav1.ConditionStatus, string, string) {
	if len(executions) == 0 {
		return metav1.ConditionFalse, v1alpha1.ReasonNotReferenced, "No HelpdeskInstance references the policy, so it runs nowhere: no data is deleted or anonymized"
	}
	var refused, failed, waiting []string
	for _, e := range executions {
		switch {
		case len(e.refused) > 0:
			refused = append(refused, fmt.Sprintf("instance %s refuses %s", e.inst.Name, strings.Join(e.refused, "; ")))
		case e.lastRun != nil && e.lastRun.Result != retentionSucceededResult:
			failed = append(failed, fmt.Sprintf("the last run on instance %s failed (%s): %s", e.inst.Name, e.lastRun.Reason, e.lastRun.Message))
		case e.cronJob == "":
			waiting = append(waiting, e.inst.Name)
		}
	}
	switch {
	case len(refused) > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonUnsupportedDataClass, joinSome(refused, "; ") +
			": no retention runs on those instances until the rules are removed from the policy (no rule is skipped silently)"
	case len(failed) > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonRunFailed, joinSome(failed, "; ") +
			"; batches committed before the failure stay, the next scheduled run goes on from there"
	case len(waiting) > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonWaitingForInstance, fmt.Sprintf(
			"Instance %s has no retention CronJob yet: an instance creates it once its network perimeter and keys are in place (see its conditions)", joinSome(waiting, ", "))
	}
	what := fmt.Sprintf("The policy runs on %d instance(s), with a CronJob each, and no last run failed", len(executions))
	switch {
	case policy.Spec.LegalHold != nil && policy.Spec.LegalHold.Enabled:
		return metav1.ConditionTrue, v1alpha1.ReasonLegalHold, what + ", but a legal hold is in force: nothing is deleted or anonymized, runs only report what they would do"
	case policy.Spec.DryRun:
		return metav1.ConditionTrue, v1alpha1.ReasonDryRun, what + ", as a dry run: nothing is deleted or anonymized, runs only report what they would do"
	}
	return metav1.ConditionTrue, v1alpha1.ReasonRunsSucceeded, what + ": data past its age is deleted or anonymized on schedule"
}

func removeCondition(conditions *[]metav1.Condition, conditionType string) {
	meta.RemoveStatusCondition(conditions, conditionType)
}
