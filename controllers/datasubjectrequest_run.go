package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// dsrResult is the one-line JSON result of `helpdesk-operator dsr` (docs/retention.md),
// read from the Job's termination message: counts and names, never a value.
type dsrResult struct {
	Result       string           `json:"result"`
	AccountFound bool             `json:"accountFound"`
	Records      map[string]int64 `json:"records"`
	Files        int64            `json:"files"`
	Redacted     int64            `json:"redacted"`
	Fields       []string         `json:"fields"`
	Protection   string           `json:"protection"`
	Reason       string           `json:"reason"`
	Error        string           `json:"error"`
	Export       *struct {
		ID         string `json:"id"`
		Size       int64  `json:"size"`
		KeyVersion int    `json:"keyVersion"`
	} `json:"export"`
}

func parseDSRResult(message string) (dsrResult, bool) {
	var r dsrResult
	if errText, ok := decodeResultLine(message, &r, func() bool { return r.Result != "" }); !ok {
		return dsrResult{Error: errText}, false
	}
	r.Error = clipMessage(r.Error)
	return r, true
}

// pending says why the request waits; the Job is not created.
func (s *dsrScope) pendingFor(reason, message string) {
	s.dsr.Status.Phase = v1alpha1.DataSubjectPending
	s.pending = reason
	setCondition(s.dsr, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
}

// startPlan is what the request's Job is built from.
type startPlan struct {
	inst        *v1alpha1.HelpdeskInstance
	profile     appprofile.Profile
	backups     *v1alpha1.BackupPolicy
	subjectHash string
}

// reconcileRun starts the request's Job once everything it needs is in place, or follows
// the Job it started.
func (r *DataSubjectRequestReconciler) reconcileRun(ctx context.Context, s *dsrScope) error {
	dsr := s.dsr
	names := resources.DataSubjectRequestNamesFor(dsr)
	job := &batchv1.Job{}
	err := r.Get(ctx, client.ObjectKey{Namespace: dsr.Namespace, Name: names.Job}, job)
	switch {
	case err == nil && metav1.IsControlledBy(job, dsr):
		return r.observeJob(ctx, s, job)
	case err == nil:
		s.pendingFor(v1alpha1.ReasonApplyFailed, fmt.Sprintf("A Job named %s that this request does not own exists; delete it, or recreate the request under another name", names.Job))
		return nil
	case !apierrors.IsNotFound(err):
		return err
	}
	plan, err := r.startPlan(ctx, s)
	if err != nil || plan == nil {
		return err
	}
	if plan.backups != nil {
		if np := resources.DataSubjectRequestNetworkPolicy(plan.inst, plan.profile, r.Resources, dsr, plan.backups); np != nil {
			if _, err := r.Applier.Apply(ctx, np); err != nil {
				return err
			}
		}
		dsr.Status.Export = &v1alpha1.DataSubjectExport{
			BackupPolicy: plan.backups.Name,
			ID:           resources.DataSubjectExportID(dsr),
			Location:     resources.DataSubjectExportLocation(dsr, plan.backups),
		}
	}
	// A Job's pod template is immutable: it is created once, then only read.
	desired := resources.DataSubjectRequestJob(plan.inst, plan.profile, r.Resources, dsr, plan.backups, plan.subjectHash)
	if _, err := r.Applier.Apply(ctx, desired); err != nil {
		s.pendingFor(v1alpha1.ReasonApplyFailed, "The request's Job could not be created: "+apiReason(err))
		return err
	}
	dsr.Status.Phase = v1alpha1.DataSubjectRunning
	dsr.Status.JobName = desired.Name
	dsr.Status.StartTime = &metav1.Time{Time: s.now.Truncate(time.Second)}
	setCondition(dsr, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRunning, fmt.Sprintf("Job %s carries the request out", desired.Name))
	if r.Recorder != nil {
		r.Recorder.Eventf(dsr, nil, corev1.EventTypeNormal, "Started", "DataSubjectRequest",
			"Started Job %s for the %s request on instance %s", desired.Name, dsr.Spec.Type, dsr.Spec.InstanceName)
	}
	return nil
}

// startPlan checks what the request needs before anything reads the helpdesk's data: the
// instance, ready and isolated, no legal hold, the export's destination, the Secrets. It
// returns nil (with the reason in the status) while the request waits, or fails it for
// good when the spec cannot work with this instance.
func (r *DataSubjectRequestReconciler) startPlan(ctx context.Context, s *dsrScope) (*startPlan, error) {
	dsr := s.dsr
	inst := &v1alpha1.HelpdeskInstance{}
	err := r.Get(ctx, client.ObjectKey{Namespace: dsr.Namespace, Name: dsr.Spec.InstanceName}, inst)
	switch {
	case apierrors.IsNotFound(err) || (err == nil && !inst.DeletionTimestamp.IsZero()):
		s.pendingFor(v1alpha1.ReasonInstanceNotFound, fmt.Sprintf("spec.instanceName: HelpdeskInstance %q does not exist in namespace %s; the request waits for it", dsr.Spec.InstanceName, dsr.Namespace))
		return nil, nil
	case err != nil:
		return nil, err
	}
	if held, err := r.legalHold(ctx, inst); err != nil || held != "" {
		if held != "" {
			s.pendingFor(v1alpha1.ReasonLegalHold, held)
		}
		return nil, err
	}
	profile, err := appprofile.For(inst.Spec.App.Profile)
	if err != nil {
		s.pendingFor(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("instance %s: %v", inst.Name, err))
		return nil, nil
	}
	if refused := r.unknownFields(inst, dsr); refused != "" {
		r.failBeforeRun(s, "InvalidRequest", refused)
		return nil, nil
	}
	wanted := []string{v1alpha1.ConditionNetworkIsolated, v1alpha1.ConditionDatabaseReady, v1alpha1.ConditionAppReady}
	if dsr.Spec.Type == v1alpha1.DataSubjectAccess {
		wanted = append(wanted, v1alpha1.ConditionEncryptionReady)
	}
	for _, conditionType := range wanted {
		if c := meta.FindStatusCondition(inst.Status.Conditions, conditionType); c == nil || c.Status != metav1.ConditionTrue {
			why := "not known yet"
			if c != nil {
				why = fmt.Sprintf("%s (%s)", c.Status, c.Reason)
			}
			s.pendingFor(v1alpha1.ReasonInstanceNotReady, fmt.Sprintf("Instance %s is not ready for the request: %s is %s; the request runs once its perimeter, database and app (and for Access its key) are in place",
				inst.Name, conditionType, why))
			return nil, nil
		}
	}
	plan := &startPlan{inst: inst, profile: profile}
	if dsr.Spec.Type == v1alpha1.DataSubjectAccess {
		if plan.backups, err = r.exportDestination(ctx, s, inst); err != nil || plan.backups == nil {
			return nil, err
		}
	}
	missing, err := missingSecretKeys(ctx, newSecretKeys(nil, r.APIReader), dsr.Namespace, dsrSecretRefs(dsr))
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		s.pendingFor(v1alpha1.ReasonSecretMissing, missingReferencesMessage(dsr.Namespace, missing))
		return nil, nil
	}
	subject := &corev1.Secret{}
	ref := dsr.Spec.Subject.SecretKeyRef
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: dsr.Namespace, Name: ref.Name}, subject); err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", dsr.Namespace, ref.Name, err)
	}
	address := string(subject.Data[ref.Key])
	if address == "" {
		address = subject.StringData[ref.Key]
	}
	plan.subjectHash = subjectHash(string(dsr.UID), address)
	return plan, nil
}

// legalHold describes the legal hold the instance is under; "" when none.
func (r *DataSubjectRequestReconciler) legalHold(ctx context.Context, inst *v1alpha1.HelpdeskInstance) (string, error) {
	ref := inst.Spec.RetentionPolicyRef
	if ref == nil {
		return "", nil
	}
	policy := &v1alpha1.RetentionPolicy{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: ref.Name}, policy); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	if hold := policy.Spec.LegalHold; hold != nil && hold.Enabled {
		return fmt.Sprintf("Instance %s is under the legal hold of RetentionPolicy %s: the request waits until the hold is lifted; nothing was read or changed", inst.Name, policy.Name), nil
	}
	return "", nil
}

// unknownFields describes rectification fields the instance's app profile does not let a
// request set; "" when all may be set.
func (r *DataSubjectRequestReconciler) unknownFields(inst *v1alpha1.HelpdeskInstance, dsr *v1alpha1.DataSubjectRequest) string {
	if dsr.Spec.Type != v1alpha1.DataSubjectRectification {
		return ""
	}
	app := inst.Spec.App.Profile
	if app == "" {
		app = v1alpha1.AppProfileHelpy
	}
	rp, err := r.RetentionProfiles.get(app)
	if err != nil {
		return err.Error()
	}
	var unknown, allowed []string
	for _, f := range dsr.Spec.Rectification {
		if _, ok := rp.Subject.Rectify.Fields[f.Field]; !ok {
			unknown = append(unknown, f.Field)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	for f := range rp.Subject.Rectify.Fields {
		allowed = append(allowed, f)
	}
	sort.Strings(allowed)
	return fmt.Sprintf("spec.rectification: %s cannot be set on a %s account; these fields can: %s; create a new request", strings.Join(unknown, ", "), app, strings.Join(allowed, ", "))
}

// exportDestination is the BackupPolicy whose destination an Access export goes to; nil
// (the request waits, and says why) when there is none that works.
func (r *DataSubjectRequestReconciler) exportDestination(ctx context.Context, s *dsrScope, inst *v1alpha1.HelpdeskInstance) (*v1alpha1.BackupPolicy, error) {
	wait := func(message string) (*v1alpha1.BackupPolicy, error) {
		s.pendingFor(v1alpha1.ReasonNoExportDestination, message+"; an Access export is written, encrypted with the instance's key, to the instance's backup destination")
		return nil, nil
	}
	if inst.Spec.BackupPolicyRef == nil {
		return wait(fmt.Sprintf("Instance %s has no spec.backupPolicyRef", inst.Name))
	}
	policy := &v1alpha1.BackupPolicy{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: inst.Spec.BackupPolicyRef.Name}, policy)
	switch {
	case apierrors.IsNotFound(err):
		return wait(fmt.Sprintf("BackupPolicy %s of instance %s does not exist", inst.Spec.BackupPolicyRef.Name, inst.Name))
	case err != nil:
		return nil, err
	}
	if ready := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		return wait(fmt.Sprintf("BackupPolicy %s of instance %s is not Ready (see its conditions)", policy.Name, inst.Name))
	}
	return policy, nil
}

// failBeforeRun ends a request that cannot run with this instance.
func (r *DataSubjectRequestReconciler) failBeforeRun(s *dsrScope, reason, message string) {
	dsr := s.dsr
	dsr.Status.Phase = v1alpha1.DataSubjectFailed
	dsr.Status.CompletionTime = &metav1.Time{Time: s.now.Truncate(time.Second)}
	dsr.Status.Result = &v1alpha1.DataSubjectRequestResult{Outcome: "Failed", Reason: reason, Message: message}
	setCondition(dsr, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	s.releaseFinalizer = true
	if r.Recorder != nil {
		r.Recorder.Eventf(dsr, nil, corev1.EventTypeWarning, reason, "DataSubjectRequest", "The %s request cannot run: %s", dsr.Spec.Type, message)
	}
}

// observeJob follows the request's Job and, once it finished, records its result: counts
// and reasons, and the subject's hash, never the data.
func (r *DataSubjectRequestReconciler) observeJob(ctx context.Context, s *dsrScope, job *batchv1.Job) error {
	dsr := s.dsr
	run, done := finished(job)
	dsr.Status.JobName = job.Name
	if dsr.Status.StartTime == nil {
		dsr.Status.StartTime = &metav1.Time{Time: job.CreationTimestamp.Truncate(time.Second)}
	}
	if !done {
		dsr.Status.Phase = v1alpha1.DataSubjectRunning
		setCondition(dsr, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRunning, fmt.Sprintf("Job %s carries the request out", job.Name))
		return nil
	}
	message, err := terminationMessage(ctx, r.APIReader, job)
	if err != nil {
		return err
	}
	res, ok := parseDSRResult(message)
	dsr.Status.CompletionTime = &metav1.Time{Time: run.end.Truncate(time.Second)}
	dsr.Status.SubjectHash = job.Annotations[resources.AnnotationSubjectHash]
	result := &v1alpha1.DataSubjectRequestResult{
		Outcome: res.Result, Reason: res.Reason, Message: res.Error, Protection: res.Protection, AccountFound: res.AccountFound,
		Records: res.Records, Files: res.Files, Redacted: res.Redacted, Fields: res.Fields,
	}
	dsr.Status.Result = result
	if e := dsr.Status.Export; e != nil {
		// Kept until it expires; a failed request's leftovers (if any) go at once.
		e.ExpiresAt = &metav1.Time{Time: run.end.Truncate(time.Second)}
	}
	if run.succeeded && ok && res.Result == "Succeeded" {
		dsr.Status.Phase = v1alpha1.DataSubjectSucceeded
		result.Reason, result.Message = "", ""
		summary := describeCounts(result)
		message := fmt.Sprintf("The %s request succeeded", dsr.Spec.Type)
		if e := dsr.Status.Export; e != nil && res.Export != nil {
			e.KeyVersion, e.SizeBytes = res.Export.KeyVersion, res.Export.Size
			e.ExpiresAt = &metav1.Time{Time: run.end.Add(exportRetention(dsr)).Truncate(time.Second)}
			s.requeue(e.ExpiresAt.Sub(s.now))
			message += ": the export, encrypted with the instance's key, is at status.export.location until status.export.expiresAt, when the operator deletes it"
			summary += fmt.Sprintf("; export written to %s, deleted at %s", e.Location, e.ExpiresAt.UTC().Format(time.RFC3339))
		}
		setCondition(dsr, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, message)
		if r.Recorder != nil {
			r.Recorder.Eventf(dsr, nil, corev1.EventTypeNormal, v1alpha1.ReasonSucceeded, "DataSubjectRequest",
				"The %s request on instance %s succeeded (subject %s): %s", dsr.Spec.Type, dsr.Spec.InstanceName, dsr.Status.SubjectHash, summary)
		}
		return nil
	}
	dsr.Status.Phase = v1alpha1.DataSubjectFailed
	if result.Outcome == "" {
		result.Outcome = "Failed"
	}
	if result.Reason == "" {
		result.Reason = jobFailureReason(job)
	}
	if result.Message == "" {
		result.Message = fmt.Sprintf("Job %s failed without a result; read its logs (kubectl logs job/%s)", job.Name, job.Name)
	}
	setCondition(dsr, v1alpha1.ConditionReady, metav1.ConditionFalse, result.Reason, fmt.Sprintf("The %s request %s: %s; create a new request to try again",
		dsr.Spec.Type, strings.ToLower(result.Outcome), result.Message))
	if dsr.Status.Export == nil {
		s.releaseFinalizer = true
	}
	if r.Recorder != nil {
		r.Recorder.Eventf(dsr, nil, corev1.EventTypeWarning, result.Reason, "DataSubjectRequest",
			"The %s request on instance %s %s (subject %s): %s", dsr.Spec.Type, dsr.Spec.InstanceName, strings.ToLower(result.Outcome), dsr.Status.SubjectHash, result.Message)
	}
	return nil
}

func exportRetention(dsr *v1alpha1.DataSubjectRequest) time.Duration {
	if d := dsr.Spec.ExportRetention; d != nil {
		return d.Duration
	}
	return defaultExportRetention
}

// describeCounts summarizes a result for an Event: names and counts only.
func describeCounts(res *v1alpha1.DataSubjectRequestResult) string {
	keys := make([]string, 0, len(res.Records))
	for k := range res.Records {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, res.Records[k]))
	}
	out := fmt.Sprintf("records %s; %d files", strings.Join(parts, ", "), res.Files)
	if len(res.Fields) > 0 {
		out += "; fields set: " + strings.Join(res.Fields, ", ")
	}
	if !res.AccountFound {
		out += "; the address belongs to no account"
	}
	return out
}

// reconcileExport deletes a finished Access request's export once it expired.
func (r *DataSubjectRequestReconciler) reconcileExport(ctx context.Context, s *dsrScope) error {
	e := s.dsr.Status.Export
	switch {
	case s.dsr.Spec.Type != v1alpha1.DataSubjectAccess || e == nil || e.DeletedAt != nil:
		s.releaseFinalizer = true
		return nil
	case e.ExpiresAt != nil && s.now.Before(e.ExpiresAt.Time):
		s.requeue(e.ExpiresAt.Sub(s.now))
		return nil
	}
	return r.deleteExportNow(ctx, s)
}

// exportCleanupRetry is how long a failed export deletion waits before the next attempt.
const exportCleanupRetry = 5 * time.Minute

// deleteExportNow stops the request's Job if it still runs, then runs the Job that deletes
// the export from the destination, and records the deletion.
func (r *DataSubjectRequestReconciler) deleteExportNow(ctx context.Context, s *dsrScope) error {
	dsr := s.dsr
	names := resources.DataSubjectRequestNamesFor(dsr)
	e := dsr.Status.Export
	if e == nil || e.DeletedAt != nil {
		s.releaseFinalizer = true
		return nil
	}
	// The request's Job must not write the export after it was deleted.
	running := &batchv1.Job{}
	err := r.Get(ctx, client.ObjectKey{Namespace: dsr.Namespace, Name: names.Job}, running)
	if client.IgnoreNotFound(err) != nil {
		return err
	}
	if err == nil {
		if _, done := finished(running); !done {
			if running.DeletionTimestamp.IsZero() {
				if err := r.Delete(ctx, running, client.PropagationPolicy(metav1.DeletePropagationForeground)); client.IgnoreNotFound(err) != nil {
					return err
				}
			}
			s.requeue(5 * time.Second)
			return nil
		}
	}
	policy := &v1alpha1.BackupPolicy{}
	err = r.Get(ctx, client.ObjectKey{Namespace: dsr.Namespace, Name: e.BackupPolicy}, policy)
	switch {
	case apierrors.IsNotFound(err):
		if r.Recorder != nil {
			r.Recorder.Eventf(dsr, nil, corev1.EventTypeWarning, "ExportLeftBehind", "DeleteExport",
				"The export at %s could not be deleted: BackupPolicy %s no longer exists, so its destination is unknown; delete the object and its .json manifest by hand", e.Location, e.BackupPolicy)
		}
		s.releaseFinalizer = true
		return nil
	case err != nil:
		return err
	}
	inst := &v1alpha1.HelpdeskInstance{}
	serviceAccount := "default"
	if err := r.Get(ctx, client.ObjectKey{Namespace: dsr.Namespace, Name: dsr.Spec.InstanceName}, inst); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		inst = &v1alpha1.HelpdeskInstance{ObjectMeta: metav1.ObjectMeta{Namespace: dsr.Namespace, Name: dsr.Spec.InstanceName}}
	}
	profile, err := appprofile.For(inst.Spec.App.Profile)
	if err != nil {
		return err
	}
	cleanup := &batchv1.Job{}
	err = r.Get(ctx, client.ObjectKey{Namespace: dsr.Namespace, Name: names.CleanupJob}, cleanup)
	switch {
	case apierrors.IsNotFound(err):
		if np := resources.DataSubjectRequestNetworkPolicy(inst, profile, r.Resources, dsr, policy); np != nil {
			if _, err := r.Applier.Apply(ctx, np); err != nil {
				return err
			}
		}
		_, err := r.Applier.Apply(ctx, resources.DataSubjectExportCleanupJob(inst, profile, r.Resources, dsr, policy, serviceAccount))
		return err
	case err != nil:
		return err
	}
	run, done := finished(cleanup)
	switch {
	case !done:
		return nil
	case run.succeeded:
		e.DeletedAt = &metav1.Time{Time: run.end.Truncate(time.Second)}
		if dsr.Status.Phase == v1alpha1.DataSubjectSucceeded {
			setCondition(dsr, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonExportDeleted,
				"The Access request succeeded; its export expired and was deleted from the backup destination")
		}
		s.releaseFinalizer = true
		if r.Recorder != nil {
			r.Recorder.Eventf(dsr, nil, corev1.EventTypeNormal, v1alpha1.ReasonExportDeleted, "DeleteExport", "Deleted the export at %s", e.Location)
		}
		return nil
	}
	// Failed for good: say so, and try again later with a new Job.
	if r.Recorder != nil {
		r.Recorder.Eventf(dsr, nil, corev1.EventTypeWarning, "ExportDeletionFailed", "DeleteExport",
			"Deleting the export at %s failed (Job %s); it is tried again in %s", e.Location, cleanup.Name, exportCleanupRetry)
	}
	if s.now.Sub(run.end) < exportCleanupRetry {
		s.requeue(exportCleanupRetry - s.now.Sub(run.end))
		return nil
	}
	_, err = r.Applier.Delete(ctx, cleanup)
	return err
}
