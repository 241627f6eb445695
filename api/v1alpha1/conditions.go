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
	// ConditionAccessEnforced is True when every part of the instance's access policy is
	// in force on it; present only while the instance references an access policy.
	ConditionAccessEnforced = "AccessEnforced"

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
	// ReasonRestoreSourceNotFound: spec.restoreFrom.instanceName names neither an instance
	// of the namespace nor a key the operator retained for a deleted one.
	ReasonRestoreSourceNotFound = "RestoreSourceNotFound"
	// ReasonWaitingForSettings: the app's first start waits for the settings its access
	// policy writes into the database (AccessEnforced says how the settings Job fares).
	ReasonWaitingForSettings = "WaitingForSettings"
	// ReasonBlockedBy: a phase that starts pods waits for a safety phase (the network
	// perimeter, the keys) to succeed first.
	ReasonBlockedBy = "BlockedBy"
	// ReasonHostnameConflict: another instance already serves spec.hostname.
	ReasonHostnameConflict = "HostnameConflict"
	// ReasonHostnameNotAllowed: spec.hostname is outside the operator's allowed suffixes.
	ReasonHostnameNotAllowed = "HostnameNotAllowed"
	// ReasonEgressNotAllowed: an egress CIDR of the spec falls in a range the operator keeps
	// tenants away from (link-local, the cluster's own ranges) or outside the ranges it allows.
	ReasonEgressNotAllowed = "EgressNotAllowed"
	// ReasonVaultCleanupSkipped: an administrator finished a deletion without Vault cleanup.
	ReasonVaultCleanupSkipped = "VaultCleanupSkipped"
)

// AnnotationSkipVaultCleanup on a HelpdeskInstance being deleted lets the operator finish
// the deletion although its Vault state cannot be cleaned up (Vault unreachable for good):
// the finalizer goes, and an Event lists what stays in Vault. Its value says why, for the
// audit log. Only administrators may set it (a ValidatingAdmissionPolicy enforces that).
const AnnotationSkipVaultCleanup = "helpdesk.privatedesk.io/skip-vault-cleanup"

// ReasonNotEnforced: a policy kind is validated, but this operator version does not yet
// enforce it, so nothing it asks for is in place.
const ReasonNotEnforced = "NotEnforced"

// Access reasons: of AccessEnforced, of the AccessPolicy's Ready, and of the parts in
// status.access (HelpdeskInstance) and status.instances (AccessPolicy).
const (
	// ReasonAccessEnforced: every part the policy asks for is in force.
	ReasonAccessEnforced = "Enforced"
	// ReasonAllowListUnsupported: the exposure the operator uses cannot restrict clients
	// by address, so the paths the list guards are not exposed at all.
	ReasonAllowListUnsupported = "AllowListUnsupported"
	// ReasonMFANeedsSSO: spec.mfa.required without spec.sso: nothing could verify a second
	// factor, so the agent paths are not exposed.
	ReasonMFANeedsSSO = "MFANeedsSSO"
	// ReasonMFAUnverifiable: the SSO provider cannot prove a second factor (LDAP).
	ReasonMFAUnverifiable = "MFAUnverifiable"
	// ReasonSessionNeedsSSO: session limits are enforced by the access gate, which runs
	// only with spec.sso; the app's own sign-in has no idle timeout.
	ReasonSessionNeedsSSO = "SessionNeedsSSO"
	// ReasonUploadLimitUnsupported: the exposure cannot limit request bodies.
	ReasonUploadLimitUnsupported = "UploadLimitUnsupported"
	// ReasonExtensionsUnsupported: the app profile has no setting for allowed extensions.
	ReasonExtensionsUnsupported = "ExtensionsUnsupported"
	// ReasonSettingsPending: the app settings the policy decides are being written (the
	// settings Job runs, or waits for the database or its migration; a missing Secret is
	// ReasonSecretMissing).
	ReasonSettingsPending = "SettingsPending"
	// ReasonSettingsFailed: the Job that writes the app settings failed.
	ReasonSettingsFailed = "SettingsFailed"
	// ReasonCaptchaProviderUnsupported: the app supports another captcha provider only.
	ReasonCaptchaProviderUnsupported = "CaptchaProviderUnsupported"
	// ReasonHoneypotUnsupported: no honeypot mechanism exists for the app.
	ReasonHoneypotUnsupported = "HoneypotUnsupported"
	// ReasonGateConfigInvalid: the gate configuration rendered from the policy is refused;
	// the instance keeps its last enforced gate configuration.
	ReasonGateConfigInvalid = "GateConfigInvalid"
	// ReasonGateNotAvailable: the access gate's pods are not available yet; the paths it
	// guards answer with an error until they are.
	ReasonGateNotAvailable = "GateNotAvailable"
	// ReasonNoProviderEgress: the gate has no egress to its identity provider (no
	// spec.sso.providerCIDRs and no --gate-egress-cidrs), so nobody can sign in.
	ReasonNoProviderEgress = "NoProviderEgress"
	// ReasonNotExposed: the instance is not exposed (hostname refused or taken), so
	// nothing of the policy is in force at the edge.
	ReasonNotExposed = "NotExposed"
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
