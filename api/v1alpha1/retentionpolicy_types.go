package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DataClass is a kind of personal data the helpdesk keeps.
// +kubebuilder:validation:Enum=ClosedTickets;AllTickets;Attachments;InactiveCustomers;Logs
type DataClass string

const (
	// DataClassClosedTickets: tickets closed for longer than the rule's age.
	DataClassClosedTickets DataClass = "ClosedTickets"
	// DataClassAllTickets: every ticket, open or not, older than the rule's age.
	DataClassAllTickets DataClass = "AllTickets"
	// DataClassAttachments: uploaded files older than the rule's age.
	DataClassAttachments DataClass = "Attachments"
	// DataClassInactiveCustomers: customer profiles with no sign-in and no ticket activity
	// for the rule's age.
	DataClassInactiveCustomers DataClass = "InactiveCustomers"
	// DataClassLogs: application and access logs kept by the helpdesk.
	DataClassLogs DataClass = "Logs"
)

// RetentionAction is what happens to data past its age.
// +kubebuilder:validation:Enum=Delete;Anonymize
type RetentionAction string

const (
	// RetentionActionDelete removes the data.
	RetentionActionDelete RetentionAction = "Delete"
	// RetentionActionAnonymize keeps the records for statistics but erases every field
	// that identifies a person.
	RetentionActionAnonymize RetentionAction = "Anonymize"
)

// RetentionPolicySpec ages out personal data inside the helpdesks that reference it.
type RetentionPolicySpec struct {
	// Rules, at most one per data class.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +listType=map
	// +listMapKey=dataClass
	// +kubebuilder:validation:XValidation:rule="!(self.exists(r, r.dataClass == 'AllTickets') && self.exists(r, r.dataClass == 'ClosedTickets')) || duration(self.filter(r, r.dataClass == 'AllTickets')[0].olderThan) >= duration(self.filter(r, r.dataClass == 'ClosedTickets')[0].olderThan)",message="spec.rules: the AllTickets age must be at least the ClosedTickets age, or open tickets would be removed before closed ones"
	// +required
	Rules []RetentionRule `json:"rules"`

	// Schedule on which retention runs (cron, in TimeZone).
	// +optional
	// +kubebuilder:default="0 3 * * *"
	Schedule CronSchedule `json:"schedule,omitempty"`

	// TimeZone of the schedule, an IANA name such as Europe/Berlin; empty means UTC.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`
	TimeZone string `json:"timeZone,omitempty"`

	// LegalHold suspends every deletion and anonymization while it is enabled, for
	// litigation or an investigation. Runs still report what they would have done.
	// +optional
	LegalHold *LegalHoldSpec `json:"legalHold,omitempty"`

	// DryRun reports what each run would delete or anonymize without changing anything.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// RetentionRule ages out one class of data.
// +kubebuilder:validation:XValidation:rule="self.action == 'Delete' || !(self.dataClass in ['Attachments', 'Logs'])",message="attachments and logs can only be deleted: set action: Delete for dataClass Attachments and Logs"
type RetentionRule struct {
	// DataClass the rule applies to.
	// +required
	DataClass DataClass `json:"dataClass"`

	// OlderThan is the age past which the rule acts, e.g. 8760h for one year. At least 1h.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="olderThan must be a positive age of at least 1h, e.g. 8760h for one year"
	// +required
	OlderThan metav1.Duration `json:"olderThan"`

	// Action on data past its age: Delete or Anonymize.
	// +optional
	// +kubebuilder:default=Delete
	Action RetentionAction `json:"action,omitempty"`
}

// LegalHoldSpec suspends deletion.
// +kubebuilder:validation:XValidation:rule="!self.enabled || size(self.reason) > 0",message="spec.legalHold.reason is required while the legal hold is enabled (e.g. a case number)"
type LegalHoldSpec struct {
	// Enabled suspends deletion and anonymization.
	// +required
	Enabled bool `json:"enabled"`

	// Reason for the hold, e.g. a case number. Required while enabled.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// RetentionRunStatus summarizes one retention run. It holds counts, never data.
type RetentionRunStatus struct {
	// Instance the run was on.
	// +optional
	Instance string `json:"instance,omitempty"`

	// StartTime of the run.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime of the run.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Result is Succeeded or Failed.
	// +optional
	Result string `json:"result,omitempty"`

	// Reason classifies a failure (LockTimeout, ConnectionFailed, UnsupportedDataClass,
	// SchemaMismatch, ...); batches committed before it stay committed.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message explains a failure, in words that never quote a value of the data.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`

	// Duration of the run.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// DryRun is true when the run changed nothing (a dry run or a legal hold).
	// +optional
	DryRun bool `json:"dryRun,omitempty"`

	// LegalHold is true when a legal hold kept the run from changing anything.
	// +optional
	LegalHold bool `json:"legalHold,omitempty"`

	// Affected counts the records acted on (or that would have been), per data class.
	// +optional
	Affected map[string]int64 `json:"affected,omitempty"`

	// Rules says what each rule did, in the order they ran.
	// +optional
	// +kubebuilder:validation:MaxItems=5
	// +listType=atomic
	Rules []RetentionRuleRun `json:"rules,omitempty"`
}

// RetentionRuleRun is what one rule of a run did.
type RetentionRuleRun struct {
	// DataClass of the rule.
	DataClass DataClass `json:"dataClass"`

	// Action of the rule.
	Action RetentionAction `json:"action"`

	// Records acted on (or that would have been).
	// +optional
	Records int64 `json:"records,omitempty"`

	// Files removed from the attachments volume (or that would have been).
	// +optional
	Files int64 `json:"files,omitempty"`

	// Completed is false for the rule a failed run stopped in.
	// +optional
	Completed bool `json:"completed,omitempty"`
}

// RetentionInstanceStatus is the policy's execution on one instance.
type RetentionInstanceStatus struct {
	// Name of the HelpdeskInstance.
	Name string `json:"name"`

	// CronJob that runs the policy on the instance; empty until the instance created it.
	// +optional
	CronJob string `json:"cronJob,omitempty"`

	// LastRun on the instance.
	// +optional
	LastRun *RetentionRunStatus `json:"lastRun,omitempty"`
}

// RetentionPolicyStatus is the observed state of a RetentionPolicy.
type RetentionPolicyStatus struct {
	// Conditions: Ready (the policy runs on every instance that references it and their
	// last runs succeeded), LegalHold (present while a hold is enabled),
	// BackupRetentionAligned (backups are not kept longer than the personal data), Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the spec generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// NextRun is when retention runs next. Under a legal hold the run still happens, and
	// only reports what it would do.
	// +optional
	NextRun *metav1.Time `json:"nextRun,omitempty"`

	// LastRun summarizes the latest run on any instance.
	// +optional
	LastRun *RetentionRunStatus `json:"lastRun,omitempty"`

	// Instances lists every instance that references the policy, with its CronJob and
	// last run.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=name
	Instances []RetentionInstanceStatus `json:"instances,omitempty"`
}

// RetentionPolicy ages out personal data inside the helpdesks that reference it, as
// GDPR, CCPA and LGPD ask: per data class an age and an action (delete or anonymize),
// on a schedule, with a legal hold that suspends it and a dry run that only reports.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hrp,categories=helpdesk
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Legal Hold",type=boolean,JSONPath=`.spec.legalHold.enabled`
// +kubebuilder:printcolumn:name="Dry Run",type=boolean,JSONPath=`.spec.dryRun`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RetentionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec RetentionPolicySpec `json:"spec"`
	// +optional
	Status RetentionPolicyStatus `json:"status,omitempty"`
}

// RetentionPolicyList is a list of RetentionPolicies.
// +kubebuilder:object:root=true
type RetentionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RetentionPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RetentionPolicy{}, &RetentionPolicyList{})
}
