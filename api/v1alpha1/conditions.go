package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types. Every kind reports Ready; the others are specific to a kind.
const (
	// ConditionReady summarizes the object: True when everything it asks for is in place.
	ConditionReady = "Ready"
	// ConditionStalled is True when the controller cannot make progress until the spec
	// (or something it references) is fixed; it stops retrying until then.
	ConditionStalled = "Stalled"

	ConditionDatabaseReady   = "DatabaseReady"
	ConditionAppReady        = "AppReady"
	ConditionEncryptionReady = "EncryptionReady"
	ConditionNetworkIsolated = "NetworkIsolated"

	ConditionBackupHealthy = "BackupHealthy"
)

// Condition reasons shared by the kinds. Reasons are stable CamelCase values that
// automation may match on; messages carry the detail.
const (
	ReasonReconciled        = "Reconciled"
	ReasonProgressing       = "Progressing"
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonReferenceNotFound = "ReferenceNotFound"
	ReasonSecretMissing     = "SecretNotFound"
	ReasonSuspended         = "Suspended"
)

// GetConditions returns the instance's conditions.
func (in *HelpdeskInstance) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the instance's conditions.
func (in *HelpdeskInstance) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *HelpdeskInstance) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetConditions returns the policy's conditions.
func (in *AccessPolicy) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the policy's conditions.
func (in *AccessPolicy) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *AccessPolicy) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetConditions returns the policy's conditions.
func (in *RetentionPolicy) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the policy's conditions.
func (in *RetentionPolicy) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *RetentionPolicy) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetConditions returns the policy's conditions.
func (in *BackupPolicy) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the policy's conditions.
func (in *BackupPolicy) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *BackupPolicy) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// HelpdeskInstance reasons (Vault reasons come from internal/vault: VaultUnavailable,
// VaultPermissionDenied, VaultNameConflict, VaultError).
const (
	ReasonPolicyNotFound        = "PolicyNotFound"
	ReasonKeyReady              = "KeyReady"
	ReasonNetworkPoliciesReady  = "NetworkPoliciesApplied"
	ReasonApplyFailed           = "ApplyFailed"
	ReasonClusterProvisioning   = "ClusterProvisioning"
	ReasonClusterReady          = "ClusterReady"
	ReasonClusterNotReady       = "ClusterNotReady"
	ReasonWaitingForDatabase    = "WaitingForDatabase"
	ReasonWaitingForSecrets     = "WaitingForSecrets"
	ReasonMigrating             = "Migrating"
	ReasonMigrationFailed       = "MigrationFailed"
	ReasonDeploymentProgressing = "DeploymentProgressing"
	ReasonAvailable             = "Available"
	ReasonScaledToZero          = "ScaledToZero"
	ReasonRestoring             = "Restoring"
	ReasonRestoreFailed         = "RestoreFailed"
)

// BackupPolicy reasons of BackupHealthy and of Ready.
const (
	ReasonBackupSucceeded = "BackupSucceeded"
	ReasonNoBackupYet     = "NoBackupYet"
	ReasonBackupFailed    = "BackupFailed"
	ReasonBackupStale     = "BackupStale"
	// ReasonNoEgress: the S3 endpoint is a host name and spec.destination.s3.egressCIDRs
	// is empty, so no NetworkPolicy can let the backup pods reach it.
	ReasonNoEgress = "NoEgressToDestination"
)
