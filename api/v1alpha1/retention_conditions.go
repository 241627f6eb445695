package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types of retention, data-subject requests and crypto-shredding.
const (
	// ConditionLegalHold is present (True) on a RetentionPolicy while its legal hold is
	// enabled: runs change nothing and only report what they would do.
	ConditionLegalHold = "LegalHold"
	// ConditionBackupRetention is on RetentionPolicies and BackupPolicies whose instances
	// use both: False when backups keep personal data longer than the RetentionPolicy
	// allows, because an erasure or a retention run cannot reach into encrypted backups.
	ConditionBackupRetention = "BackupRetentionAligned"
)

// RetentionPolicy reasons of Ready, LegalHold and BackupRetentionAligned.
const (
	// ReasonNotReferenced: no HelpdeskInstance references the policy, so nothing runs.
	ReasonNotReferenced = "NotReferenced"
	// ReasonWaitingForInstance: a referencing instance has not created the policy's
	// CronJob yet (its network perimeter and keys come first).
	ReasonWaitingForInstance = "WaitingForInstance"
	// ReasonUnsupportedDataClass: a rule names a data class (or action) the instance's
	// app profile refuses; no retention runs on that instance until the rule goes.
	ReasonUnsupportedDataClass = "UnsupportedDataClass"
	// ReasonRunFailed: the last run on an instance failed.
	ReasonRunFailed = "RunFailed"
	// ReasonRunsSucceeded: the policy runs on every instance and the last runs succeeded.
	ReasonRunsSucceeded = "Executed"
	// ReasonLegalHold: runs go on but change nothing while the legal hold is enabled.
	ReasonLegalHold = "LegalHold"
	// ReasonDryRun: runs go on but only report what they would change.
	ReasonDryRun = "DryRun"
	// ReasonBackupsOutliveRetention: backups are kept longer than personal data may be.
	ReasonBackupsOutliveRetention = "BackupsOutliveRetention"
	// ReasonWithinRetention: no backup outlives the retention of personal data.
	ReasonWithinRetention = "WithinRetention"
)

// DataSubjectRequest reasons of Ready (failures carry the engine's reasons: Refused,
// InvalidRequest, LockTimeout, ...).
const (
	ReasonInstanceNotFound    = "InstanceNotFound"
	ReasonInstanceNotReady    = "InstanceNotReady"
	ReasonNoExportDestination = "NoExportDestination"
	ReasonRunning             = "Running"
	ReasonSucceeded           = "Succeeded"
	ReasonRequestFailed       = "Failed"
	ReasonExportDeleted       = "ExportDeleted"
)

// GetConditions returns the request's conditions.
func (in *DataSubjectRequest) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the request's conditions.
func (in *DataSubjectRequest) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *DataSubjectRequest) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
