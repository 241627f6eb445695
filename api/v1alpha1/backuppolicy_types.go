package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupPolicySpec says when and where the helpdesks that reference it are backed up,
// how long backups are kept and how often a restore is rehearsed.
type BackupPolicySpec struct {
	// Schedule of backups (cron, in TimeZone).
	// +optional
	// +kubebuilder:default="0 2 * * *"
	Schedule CronSchedule `json:"schedule,omitempty"`

	// TimeZone of the schedules, an IANA name such as Europe/Berlin; empty means UTC.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`
	TimeZone string `json:"timeZone,omitempty"`

	// Suspend stops new backups and drills; existing backups are kept.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Destination where the encrypted backups are written: exactly one of s3 or
	// persistentVolumeClaim.
	// +required
	Destination BackupDestination `json:"destination"`

	// Retention says which backups to keep after each successful backup.
	// +optional
	// +kubebuilder:default={}
	Retention BackupRetention `json:"retention,omitempty"`

	// Include says what a backup contains.
	// +optional
	// +kubebuilder:default={}
	Include BackupContents `json:"include,omitempty"`

	// RestoreDrill restores the newest backup into a scratch database on its own
	// schedule and checks it against the backup's manifest.
	// +optional
	RestoreDrill *RestoreDrillSpec `json:"restoreDrill,omitempty"`

	// Job tunes the Jobs that run backups and drills.
	// +optional
	// +kubebuilder:default={}
	Job BackupJobSpec `json:"job,omitempty"`
}

// BackupDestination is where backups go.
// +kubebuilder:validation:XValidation:rule="has(self.s3) != has(self.persistentVolumeClaim)",message="spec.destination must set exactly one of s3 or persistentVolumeClaim"
type BackupDestination struct {
	// S3 writes to an S3-compatible object store.
	// +optional
	S3 *S3Destination `json:"s3,omitempty"`

	// PersistentVolumeClaim writes to a volume in the instance's namespace: the
	// small-install default.
	// +optional
	PersistentVolumeClaim *PVCDestination `json:"persistentVolumeClaim,omitempty"`
}

// S3Destination is a bucket in an S3-compatible object store.
// +kubebuilder:validation:XValidation:rule="self.endpoint.startsWith('https://') || self.allowInsecureEndpoint",message="spec.destination.s3.endpoint must be https://; set allowInsecureEndpoint: true to accept plain http (credentials and metadata would cross the network in clear text)"
type S3Destination struct {
	// Endpoint URL of the object store, e.g. https://s3.eu-central-1.amazonaws.com.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))",message="spec.destination.s3.endpoint must be a URL such as https://s3.example.com"
	// +required
	Endpoint string `json:"endpoint"`

	// AllowInsecureEndpoint accepts an http:// endpoint. Backups stay encrypted, but
	// credentials and object names do not.
	// +optional
	AllowInsecureEndpoint bool `json:"allowInsecureEndpoint,omitempty"`

	// Bucket name (3 to 63 lowercase letters, digits, '.' and '-').
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')",message="spec.destination.s3.bucket must be 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
	// +required
	Bucket string `json:"bucket"`

	// Prefix inside the bucket, e.g. helpdesk/; each instance writes below
	// <prefix><namespace>/<instance>/.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.contains('..')",message="spec.destination.s3.prefix must be relative (no leading '/') and must not contain '..'"
	Prefix string `json:"prefix,omitempty"`

	// Region of the bucket.
	// +optional
	// +kubebuilder:default=us-east-1
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// Credentials name the Secret with the access key pair.
	// +required
	Credentials S3Credentials `json:"credentials"`

	// CASecretRef is the Secret key holding a PEM CA bundle for an endpoint with a
	// private certificate authority.
	// +optional
	CASecretRef *SecretKeyReference `json:"caSecretRef,omitempty"`

	// ForcePathStyle addresses the bucket as <endpoint>/<bucket> instead of
	// <bucket>.<endpoint>; most self-hosted object stores need it.
	// +optional
	// +kubebuilder:default=true
	ForcePathStyle *bool `json:"forcePathStyle,omitempty"`

	// EgressCIDRs are the addresses of the object store, e.g. 203.0.113.10/32. Every pod
	// of an instance is denied all egress but what its NetworkPolicies allow, and a
	// NetworkPolicy can only name addresses, not host names, so the backup and drill
	// pods may reach exactly these ranges on the endpoint's port. Empty derives a /32
	// (or /128) when the endpoint's host is an IP address; with a host name and no
	// CIDRs the pods get no route to the store and the policy is not Ready.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="spec.destination.s3.egressCIDRs must be CIDRs such as 203.0.113.10/32"
	// +listType=atomic
	EgressCIDRs []string `json:"egressCIDRs,omitempty"`
}

// S3Credentials names the Secret holding an access key pair.
type S3Credentials struct {
	// SecretName is the Secret, in the instance's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	SecretName string `json:"secretName"`

	// AccessKeyIDKey is the Secret key holding the access key ID.
	// +optional
	// +kubebuilder:default=AWS_ACCESS_KEY_ID
	// +kubebuilder:validation:MaxLength=253
	AccessKeyIDKey string `json:"accessKeyIDKey,omitempty"`

	// SecretAccessKeyKey is the Secret key holding the secret access key.
	// +optional
	// +kubebuilder:default=AWS_SECRET_ACCESS_KEY
	// +kubebuilder:validation:MaxLength=253
	SecretAccessKeyKey string `json:"secretAccessKeyKey,omitempty"`
}

// PVCDestination is a folder on a PersistentVolumeClaim.
type PVCDestination struct {
	// ClaimName of the PersistentVolumeClaim, in the instance's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	ClaimName string `json:"claimName"`

	// SubPath inside the volume.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.contains('..')",message="spec.destination.persistentVolumeClaim.subPath must be relative (no leading '/') and must not contain '..'"
	SubPath string `json:"subPath,omitempty"`
}

// BackupRetention keeps backups grandfather-father-son style: the newest KeepLast, plus
// the newest of each of the last KeepDaily days, KeepWeekly weeks and KeepMonthly
// months; anything older than MaxAge goes regardless. The newest backup that passed a
// restore drill is always kept.
type BackupRetention struct {
	// KeepLast is how many of the newest backups to keep (at least 1).
	// +optional
	// +kubebuilder:default=7
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	KeepLast int32 `json:"keepLast,omitempty"`

	// KeepDaily keeps the newest backup of each of this many days.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	KeepDaily int32 `json:"keepDaily,omitempty"`

	// KeepWeekly keeps the newest backup of each of this many ISO weeks.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	KeepWeekly int32 `json:"keepWeekly,omitempty"`

	// KeepMonthly keeps the newest backup of each of this many months.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	KeepMonthly int32 `json:"keepMonthly,omitempty"`

	// MaxAge deletes backups older than this, e.g. 8760h; at least 24h.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('24h')",message="spec.retention.maxAge must be at least 24h, e.g. 8760h for one year"
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// BackupContents says what a backup holds.
// +kubebuilder:validation:XValidation:rule="!has(self.database) || !has(self.attachments) || self.database || self.attachments",message="spec.include must include the database, the attachments, or both"
type BackupContents struct {
	// Database includes a pg_dump of the instance's database.
	// +optional
	// +kubebuilder:default=true
	Database *bool `json:"database,omitempty"`

	// Attachments includes the uploaded files.
	// +optional
	// +kubebuilder:default=true
	Attachments *bool `json:"attachments,omitempty"`
}

// RestoreDrillSpec schedules restore rehearsals.
type RestoreDrillSpec struct {
	// Schedule of drills (cron, in the policy's TimeZone), e.g. "0 5 * * 0" weekly.
	// +required
	Schedule CronSchedule `json:"schedule"`

	// ScratchSize bounds the emptyDir the drill pod restores into: a throwaway PostgreSQL
	// server inside the drill pod, never the instance's own database server. Make it at
	// least the database's size on disk, indexes included.
	// +optional
	// +kubebuilder:default="10Gi"
	ScratchSize *resource.Quantity `json:"scratchSize,omitempty"`
}

// BackupJobSpec tunes backup and drill Jobs.
type BackupJobSpec struct {
	// ActiveDeadline stops a Job that runs longer than this.
	// +optional
	// +kubebuilder:default="6h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="spec.job.activeDeadline must be at least 1m, e.g. 6h"
	ActiveDeadline *metav1.Duration `json:"activeDeadline,omitempty"`

	// StartingDeadline skips a run that could not start within this long of its time.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="spec.job.startingDeadline must be at least 10s, e.g. 1h"
	StartingDeadline *metav1.Duration `json:"startingDeadline,omitempty"`

	// BackoffLimit is how often a failed Job is retried.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	BackoffLimit int32 `json:"backoffLimit,omitempty"`

	// Resources of the backup container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// BackupRecord describes one backup.
type BackupRecord struct {
	// ID of the backup.
	// +optional
	ID string `json:"id,omitempty"`

	// Instance the backup was taken of.
	// +optional
	Instance string `json:"instance,omitempty"`

	// StartTime of the backup.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime of the backup.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// SizeBytes of the encrypted backup.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`

	// Duration of the backup.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// Result is Succeeded or Failed.
	// +optional
	Result string `json:"result,omitempty"`

	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`

	// KeyVersion is the version of the instance's transit key the backup was encrypted with.
	// +optional
	KeyVersion int `json:"keyVersion,omitempty"`

	// OldestKeyVersion is the oldest transit key version any backup of the instance still
	// kept after this run's pruning needs; 0 when the run did not report it (pruning
	// failed or was skipped). Crypto-shredding never trims this version or a newer one.
	// +optional
	OldestKeyVersion int `json:"oldestKeyVersion,omitempty"`
}

// DrillRecord describes one restore drill.
type DrillRecord struct {
	// BackupID the drill restored.
	// +optional
	BackupID string `json:"backupID,omitempty"`

	// Instance whose backup was restored.
	// +optional
	Instance string `json:"instance,omitempty"`

	// Time the drill finished.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`

	// Result is Passed or Failed.
	// +optional
	Result string `json:"result,omitempty"`

	// RestoreDuration is how long the restore took.
	// +optional
	RestoreDuration *metav1.Duration `json:"restoreDuration,omitempty"`

	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
}

// BackupPolicyStatus is the observed state of a BackupPolicy.
type BackupPolicyStatus struct {
	// Conditions: Ready, BackupHealthy, BackupRetentionAligned (backups are not kept longer
	// than the referencing instances' RetentionPolicies keep personal data), Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the spec generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastBackup is the newest backup attempt.
	// +optional
	LastBackup *BackupRecord `json:"lastBackup,omitempty"`

	// LastSuccessfulBackup is the newest backup that succeeded.
	// +optional
	LastSuccessfulBackup *BackupRecord `json:"lastSuccessfulBackup,omitempty"`

	// LastDrill is the newest restore drill.
	// +optional
	LastDrill *DrillRecord `json:"lastDrill,omitempty"`

	// NextRun is when the next backup is due.
	// +optional
	NextRun *metav1.Time `json:"nextRun,omitempty"`

	// RecentBackups lists the newest backups, newest first.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	RecentBackups []BackupRecord `json:"recentBackups,omitempty"`
}

// BackupPolicy backs up the helpdesks that reference it: on a schedule, encrypted on the
// client side with each instance's Vault-managed key, to S3 or a volume, pruned by
// retention, and proven restorable by scheduled drills.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hbp,categories=helpdesk
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Last Backup",type=date,JSONPath=`.status.lastSuccessfulBackup.completionTime`
// +kubebuilder:printcolumn:name="Healthy",type=string,JSONPath=`.status.conditions[?(@.type=="BackupHealthy")].status`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec BackupPolicySpec `json:"spec"`
	// +optional
	Status BackupPolicyStatus `json:"status,omitempty"`
}

// BackupPolicyList is a list of BackupPolicies.
// +kubebuilder:object:root=true
type BackupPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BackupPolicy{}, &BackupPolicyList{})
}
