package v1alpha1

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
	ReasonReconciled     = "Reconciled"
	ReasonProgressing    = "Progressing"
	ReasonInvalidSpec    = "InvalidSpec"
	ReasonReferenceError = "ReferenceNotFound"
	ReasonSecretMissing  = "SecretNotFound"
	ReasonSuspended      = "Suspended"
)
