package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DataSubjectRequestType is what a data subject asks for.
// +kubebuilder:validation:Enum=Access;Erasure;Rectification
type DataSubjectRequestType string

const (
	// DataSubjectAccess exports every record of the subject (GDPR article 15).
	DataSubjectAccess DataSubjectRequestType = "Access"
	// DataSubjectErasure removes or anonymizes every record of the subject (article 17).
	DataSubjectErasure DataSubjectRequestType = "Erasure"
	// DataSubjectRectification corrects fields of the subject's account (article 16).
	DataSubjectRectification DataSubjectRequestType = "Rectification"
)

// DataSubjectRequestSpec says whose data, in which helpdesk, and what to do with it.
//
// The subject's address and the new values of a rectification are personal data, so the
// spec only references them in Secrets: the spec is readable by everyone who may view the
// namespace, lands in audit logs and cannot be changed afterwards, while the Secret is
// readable by fewer and can be deleted once the request is done, leaving the request
// (with a salted hash of the address) as the audit trail.
// +kubebuilder:validation:XValidation:rule="(self.type == 'Rectification') == (has(self.rectification) && size(self.rectification) > 0)",message="spec.rectification lists the fields to set: required for type Rectification and only for it"
// +kubebuilder:validation:XValidation:rule="!has(self.exportRetention) || self.type == 'Access'",message="spec.exportRetention is only for type Access"
type DataSubjectRequestSpec struct {
	// InstanceName is the HelpdeskInstance, in this namespace, that holds the data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.instanceName must be the name of a HelpdeskInstance in this namespace"
	// +required
	InstanceName string `json:"instanceName"`

	// Type is Access (export everything about the subject), Erasure (remove or
	// anonymize it) or Rectification (correct fields of their account).
	// +required
	Type DataSubjectRequestType `json:"type"`

	// Subject names the Secret key that holds the subject's e-mail address. The address
	// never appears in the request's spec, status or events.
	// +required
	Subject DataSubjectReference `json:"subject"`

	// Rectification lists the account fields to set, each new value in a Secret key.
	// Which fields may be set depends on the instance's app profile (Helpy: name, email,
	// login, company, title, phones, address fields, twitter, linkedin, bio, signature,
	// account_number).
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +listType=map
	// +listMapKey=field
	Rectification []RectificationField `json:"rectification,omitempty"`

	// ExportRetention is how long the encrypted export of an Access request is kept in the
	// instance's backup destination before the operator deletes it: 1h to 720h, default
	// 168h (a week).
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('720h')",message="spec.exportRetention must be between 1h and 720h, e.g. 168h for a week"
	ExportRetention *metav1.Duration `json:"exportRetention,omitempty"`
}

// DataSubjectReference says where the subject's e-mail address is.
type DataSubjectReference struct {
	// SecretKeyRef is the Secret key, in this namespace, holding the address (one bare
	// address such as name@example.com). Keep it until the request finished.
	// +required
	SecretKeyRef SecretKeyReference `json:"secretKeyRef"`
}

// RectificationField is one account field to set.
type RectificationField struct {
	// Field is the account field, e.g. name or work_phone.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9_]*$`
	// +required
	Field string `json:"field"`

	// ValueFrom is the Secret key, in this namespace, holding the new value.
	// +required
	ValueFrom SecretKeyReference `json:"valueFrom"`
}

// DataSubjectRequestPhase is how far a request has come.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed
type DataSubjectRequestPhase string

// Phases of a request.
const (
	// DataSubjectPending: the request waits (for the instance, a legal hold, a Secret).
	DataSubjectPending DataSubjectRequestPhase = "Pending"
	// DataSubjectRunning: its Job runs.
	DataSubjectRunning DataSubjectRequestPhase = "Running"
	// DataSubjectSucceeded is final: the request was carried out.
	DataSubjectSucceeded DataSubjectRequestPhase = "Succeeded"
	// DataSubjectFailed is final: the request was refused or failed; create a new one to
	// try again.
	DataSubjectFailed DataSubjectRequestPhase = "Failed"
)

// DataSubjectRequestStatus is the audit trail of a request: what was done and when,
// as counts, never the data.
type DataSubjectRequestStatus struct {
	// Conditions: Ready (True once the request succeeded).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the spec generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is Pending, Running, Succeeded or Failed.
	// +optional
	Phase DataSubjectRequestPhase `json:"phase,omitempty"`

	// SubjectHash identifies the subject once the request finished, without naming them:
	// "sha256:" and the hex SHA-256 of the request's UID, a colon and the lower-cased
	// address. Whoever knows the address can check that the request was about it.
	// +optional
	SubjectHash string `json:"subjectHash,omitempty"`

	// JobName is the Job that carries the request out.
	// +optional
	JobName string `json:"jobName,omitempty"`

	// StartTime and CompletionTime of the Job.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Result says what the request did.
	// +optional
	Result *DataSubjectRequestResult `json:"result,omitempty"`

	// Export is where an Access request's encrypted export is, and until when.
	// +optional
	Export *DataSubjectExport `json:"export,omitempty"`
}

// DataSubjectRequestResult is what the request's Job reported: counts, table and field
// names, never a value.
type DataSubjectRequestResult struct {
	// Outcome is Succeeded, Refused or Failed.
	// +optional
	Outcome string `json:"outcome,omitempty"`

	// Reason classifies a refusal or failure (Refused, InvalidRequest, LockTimeout, ...).
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message explains a refusal or failure.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`

	// Protection is why the account is protected from requests: SystemUser,
	// Administrator or LastAdministrator.
	// +optional
	Protection string `json:"protection,omitempty"`

	// AccountFound is false when the address belongs to no account (it may still appear
	// in other people's messages, which Access and Erasure cover).
	// +optional
	AccountFound bool `json:"accountFound,omitempty"`

	// Records counts, for Access, the exported records per section; for Erasure and
	// Rectification, the changed rows per table.
	// +optional
	Records map[string]int64 `json:"records,omitempty"`

	// Files exported (Access) or removed (Erasure).
	// +optional
	Files int64 `json:"files,omitempty"`

	// Redacted counts the mentions of other people an export replaced.
	// +optional
	Redacted int64 `json:"redacted,omitempty"`

	// Fields set by a Rectification.
	// +optional
	// +listType=atomic
	Fields []string `json:"fields,omitempty"`
}

// DataSubjectExport locates an Access export. It is encrypted like the instance's backups
// (age, with the file key wrapped by the instance's Vault transit key); reading it takes
// the right to decrypt with that key (`helpdesk-operator dsr --open-export`).
type DataSubjectExport struct {
	// BackupPolicy whose destination holds the export.
	// +optional
	BackupPolicy string `json:"backupPolicy,omitempty"`

	// Location of the encrypted archive: s3://bucket/<prefix><namespace>/<instance>/exports/<id>.tar.zst.age
	// or pvc://<claim>/<subPath>/<namespace>/<instance>/exports/<id>.tar.zst.age.
	// +optional
	Location string `json:"location,omitempty"`

	// ID of the export inside the instance's exports/ folder.
	// +optional
	ID string `json:"id,omitempty"`

	// KeyVersion of the instance's transit key the export is encrypted with.
	// +optional
	KeyVersion int `json:"keyVersion,omitempty"`

	// SizeBytes of the encrypted archive.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`

	// ExpiresAt is when the operator deletes the export.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// DeletedAt is when the operator deleted it.
	// +optional
	DeletedAt *metav1.Time `json:"deletedAt,omitempty"`
}

// DataSubjectRequest is one person's request about their data in one helpdesk: an
// export of everything about them, its erasure, or the correction of their account. It
// runs once, as a Job, and keeps an audit trail in its status and events that never holds
// the personal data itself.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dsr,categories=helpdesk
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataSubjectRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	// Durations compare as durations: a client that writes back 168h0m0s changes nothing.
	// +kubebuilder:validation:XValidation:rule="self.instanceName == oldSelf.instanceName && self.type == oldSelf.type && self.subject == oldSelf.subject && (has(self.rectification) ? has(oldSelf.rectification) && self.rectification == oldSelf.rectification : !has(oldSelf.rectification)) && (has(self.exportRetention) ? has(oldSelf.exportRetention) && duration(self.exportRetention) == duration(oldSelf.exportRetention) : !has(oldSelf.exportRetention))",message="spec is immutable: a data-subject request runs once; create a new request instead"
	Spec DataSubjectRequestSpec `json:"spec"`
	// +optional
	Status DataSubjectRequestStatus `json:"status,omitempty"`
}

// DataSubjectRequestList is a list of DataSubjectRequests.
// +kubebuilder:object:root=true
type DataSubjectRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataSubjectRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DataSubjectRequest{}, &DataSubjectRequestList{})
}
