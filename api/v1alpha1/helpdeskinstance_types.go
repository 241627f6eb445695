package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AppProfile names a supported helpdesk application. Everything application-specific
// (image, command, environment, ports, paths, probes) lives behind the profile.
// +kubebuilder:validation:Enum=Helpy
type AppProfile string

// AppProfileHelpy is Helpy, the open-source Rails helpdesk.
const AppProfileHelpy AppProfile = "Helpy"

// DeletionPolicy says what happens to the instance's Vault state (transit key, KV
// secrets, policy, role) when the HelpdeskInstance is deleted. Kubernetes garbage
// collection always removes the in-cluster children.
// +kubebuilder:validation:Enum=Retain;Delete;Shred
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the transit key and the KV secrets; removes the Vault
	// role and policy, so nothing can use them until an administrator restores access.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete also removes the KV secrets, but keeps the transit key so
	// existing backups stay restorable.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyShred also deletes the transit key: every backup of the instance
	// becomes unreadable (crypto-shredding). This cannot be undone.
	DeletionPolicyShred DeletionPolicy = "Shred"
)

// SecretDelivery says how the application receives the secrets the operator keeps in Vault.
// +kubebuilder:validation:Enum=Secret;VaultAgent
type SecretDelivery string

const (
	// SecretDeliverySecret: the operator copies them into a Secret owned by the instance.
	SecretDeliverySecret SecretDelivery = "Secret"
	// SecretDeliveryVaultAgent: the Vault Agent injector renders them into the pod;
	// no Kubernetes Secret holds them.
	SecretDeliveryVaultAgent SecretDelivery = "VaultAgent"
)

// HelpdeskInstanceSpec is the desired state of one tenant's helpdesk.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.restoreFrom) || has(self.restoreFrom)",message="spec.restoreFrom cannot be removed once set: it records where the instance's data came from"
type HelpdeskInstanceSpec struct {
	// App is the helpdesk application: which one, its image, replicas and resources.
	// +optional
	// +kubebuilder:default={}
	App AppSpec `json:"app,omitempty"`

	// Hostname is the public DNS name the helpdesk is served on, e.g.
	// support.tenant-a.example.com. The Ingress routes it to the application.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$')",message="spec.hostname must be a lowercase RFC 1123 DNS name such as support.example.com (letters, digits, '-' and '.', no scheme, port or path)"
	// +required
	Hostname string `json:"hostname"`

	// Ingress configures how the hostname is exposed.
	// +optional
	Ingress IngressSpec `json:"ingress,omitempty"`

	// TLS configures HTTPS on the Ingress. Without it the Ingress serves plain HTTP,
	// which is only acceptable behind a TLS-terminating load balancer.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// Database is the instance's own PostgreSQL cluster, run by CloudNativePG.
	// +optional
	// +kubebuilder:default={}
	Database DatabaseSpec `json:"database,omitempty"`

	// Attachments is the volume the application stores uploaded files on.
	// +optional
	// +kubebuilder:default={}
	Attachments AttachmentsSpec `json:"attachments,omitempty"`

	// Encryption configures the instance's keys in Vault.
	// +optional
	// +kubebuilder:default={}
	Encryption EncryptionSpec `json:"encryption,omitempty"`

	// Network lists the egress the instance needs beyond its own database, DNS and
	// Vault; everything else is denied.
	// +optional
	Network NetworkSpec `json:"network,omitempty"`

	// AccessPolicyRef names the AccessPolicy, in this namespace, that guards the instance.
	// +optional
	AccessPolicyRef *LocalObjectReference `json:"accessPolicyRef,omitempty"`

	// RetentionPolicyRef names the RetentionPolicy, in this namespace, that ages out the
	// instance's data.
	// +optional
	RetentionPolicyRef *LocalObjectReference `json:"retentionPolicyRef,omitempty"`

	// BackupPolicyRef names the BackupPolicy, in this namespace, that backs the instance up.
	// +optional
	BackupPolicyRef *LocalObjectReference `json:"backupPolicyRef,omitempty"`

	// RestoreFrom creates the instance from a backup instead of an empty database. It is
	// only read when the database is first created and cannot be changed afterwards.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.restoreFrom is immutable: create a new instance to restore another backup"
	RestoreFrom *RestoreSource `json:"restoreFrom,omitempty"`

	// DeletionPolicy says what happens to the instance's keys and secrets in Vault when the
	// instance is deleted: Retain (default) keeps key and secrets, Delete keeps only the
	// key (backups stay restorable), Shred deletes the key too and makes every backup of
	// the instance unreadable.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// AppSpec configures the helpdesk application.
type AppSpec struct {
	// Profile selects the helpdesk application. Helpy is the only profile today.
	// +optional
	// +kubebuilder:default=Helpy
	Profile AppProfile `json:"profile,omitempty"`

	// Image overrides the application image, e.g. registry.example.com/helpy:2.8.0.
	// Empty uses the operator's default image for the profile.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains(' ')",message="spec.app.image must be an image reference without spaces, e.g. registry.example.com/helpy:2.8.0"
	Image string `json:"image,omitempty"`

	// ImagePullPolicy for the application containers.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// Replicas is the number of application pods. More than one adds a PodDisruptionBudget.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=20
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources of the application container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// IngressSpec configures how the instance is exposed: through Ingresses or Gateway API
// HTTPRoutes, whichever the operator is configured for (its --exposure flag).
type IngressSpec struct {
	// ClassName is the IngressClass to use when the operator exposes instances through
	// Ingresses; empty uses the operator's --ingress-class, else the cluster's default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.ingress.className must be an object name: lowercase letters, digits, '-' and '.'"
	ClassName *string `json:"className,omitempty"`

	// Gateway is the Gateway the instance's HTTPRoutes attach to when the operator exposes
	// instances through Gateway API; empty uses the operator's --gateway. The Gateway's
	// allowedRoutes decides whether routes of this namespace may attach to it.
	// +optional
	Gateway *GatewayReference `json:"gateway,omitempty"`
}

// GatewayReference names a Gateway API Gateway and, optionally, one of its listeners.
type GatewayReference struct {
	// Name of the Gateway.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.ingress.gateway.name must be an object name: lowercase letters, digits, '-' and '.'"
	// +required
	Name string `json:"name"`

	// Namespace of the Gateway; empty means the namespace of the operator's --gateway.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="spec.ingress.gateway.namespace must be a namespace name: lowercase letters, digits and '-'"
	Namespace string `json:"namespace,omitempty"`

	// SectionName is the listener of the Gateway to attach to; empty attaches to every
	// listener that accepts the routes.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.ingress.gateway.sectionName must be a listener name: lowercase letters, digits, '-' and '.'"
	SectionName string `json:"sectionName,omitempty"`
}

// TLSSpec configures HTTPS for the hostname.
type TLSSpec struct {
	// SecretName is the kubernetes.io/tls Secret, in this namespace, holding the
	// certificate for the hostname. With an issuer, cert-manager creates it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	SecretName string `json:"secretName"`

	// Issuer asks cert-manager to issue the certificate into SecretName.
	// +optional
	Issuer *CertManagerIssuerReference `json:"issuer,omitempty"`
}

// CertManagerIssuerReference names a cert-manager Issuer or ClusterIssuer.
type CertManagerIssuerReference struct {
	// Name of the issuer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Kind is Issuer (in this namespace) or ClusterIssuer.
	// +optional
	// +kubebuilder:default=ClusterIssuer
	// +kubebuilder:validation:Enum=Issuer;ClusterIssuer
	Kind string `json:"kind,omitempty"`
}

// DatabaseSpec configures the instance's CloudNativePG cluster.
type DatabaseSpec struct {
	// Instances is the number of PostgreSQL instances (one primary, the rest replicas).
	// More than one spreads them across nodes.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	Instances int32 `json:"instances,omitempty"`

	// PostgresVersion is the PostgreSQL major version. It may be raised (CloudNativePG
	// upgrades in place) but never lowered.
	// +optional
	// +kubebuilder:default=16
	// +kubebuilder:validation:Minimum=13
	// +kubebuilder:validation:Maximum=18
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="spec.database.postgresVersion cannot be lowered: PostgreSQL cannot downgrade a data directory; restore a backup into a new instance instead"
	PostgresVersion int32 `json:"postgresVersion,omitempty"`

	// Storage is the volume of each PostgreSQL instance.
	// +optional
	// +kubebuilder:default={}
	Storage StorageSpec `json:"storage,omitempty"`

	// Resources of each PostgreSQL instance.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// StorageSpec is a volume's size and class.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storageClassName is immutable: moving data to another storage class needs a backup and a restore into a new instance"
type StorageSpec struct {
	// Size of the volume, e.g. 20Gi. It can grow (where the storage class allows
	// expansion) but not shrink.
	// +optional
	// +kubebuilder:default="10Gi"
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the volume; empty uses the cluster's default. Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// AttachmentsSpec configures the volume for uploaded files.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="spec.attachments.storageClassName is immutable: moving attachments to another storage class needs a backup and a restore into a new instance"
type AttachmentsSpec struct {
	// Size of the attachments volume, e.g. 5Gi.
	// +optional
	// +kubebuilder:default="5Gi"
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the volume; empty uses the cluster's default. Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// EncryptionSpec configures the instance's keys in Vault.
type EncryptionSpec struct {
	// KeyRotationPeriod is how often Vault rotates the instance's transit key, between 1h
	// and 8760h (a year). Old key versions stay usable for decryption, so rotation never
	// breaks existing backups.
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('8760h')",message="spec.encryption.keyRotationPeriod must be between 1h and 8760h, e.g. 720h for 30 days"
	KeyRotationPeriod *metav1.Duration `json:"keyRotationPeriod,omitempty"`

	// SecretDelivery says how the application receives its secrets from Vault: Secret
	// (default; an operator-written Secret) or VaultAgent (Vault Agent injector
	// annotations; no Kubernetes Secret holds them).
	// +optional
	// +kubebuilder:default=Secret
	SecretDelivery SecretDelivery `json:"secretDelivery,omitempty"`
}

// NetworkSpec lists the egress an instance may use beyond the defaults.
type NetworkSpec struct {
	// SMTP is the mail relay the application sends notifications through.
	// +optional
	SMTP *SMTPEgress `json:"smtp,omitempty"`

	// AdditionalEgress lists further destinations the application may reach.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	AdditionalEgress []EgressRule `json:"additionalEgress,omitempty"`
}

// SMTPEgress is a mail relay.
type SMTPEgress struct {
	// CIDR of the relay, e.g. 192.0.2.25/32.
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="spec.network.smtp.cidr must be a CIDR such as 192.0.2.25/32"
	// +required
	CIDR string `json:"cidr"`

	// Port of the relay.
	// +optional
	// +kubebuilder:default=587
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
}

// EgressRule allows traffic to a CIDR on some TCP ports.
type EgressRule struct {
	// CIDR of the destination, e.g. 198.51.100.0/24.
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="spec.network.additionalEgress[].cidr must be a CIDR such as 198.51.100.0/24"
	// +required
	CIDR string `json:"cidr"`

	// Ports allowed to the destination (TCP).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	// +required
	Ports []int32 `json:"ports"`
}

// RestoreSource names a backup to create an instance from.
type RestoreSource struct {
	// BackupPolicyName is the BackupPolicy, in this namespace, whose destination holds the backup.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.restoreFrom.backupPolicyName must be an object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
	// +required
	BackupPolicyName string `json:"backupPolicyName"`

	// InstanceName is the instance, in this namespace, the backup was taken of: an existing
	// instance, or one deleted with deletionPolicy Retain or Delete whose key the operator
	// kept. Its key may decrypt (never encrypt) for as long as the restore runs. Empty
	// means this instance's own name: then the instance adopts the key and secrets an
	// earlier instance of the same name left in Vault, which it otherwise refuses.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.restoreFrom.instanceName must be the name of an instance in this namespace: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (no wildcards)"
	InstanceName string `json:"instanceName,omitempty"`

	// BackupID is the backup to restore, or "latest" for the newest complete one.
	// +optional
	// +kubebuilder:default=latest
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^(latest|[0-9A-Za-z][-0-9A-Za-z_.]*)$`
	BackupID string `json:"backupID,omitempty"`
}

// HelpdeskInstanceStatus is the observed state of a HelpdeskInstance.
type HelpdeskInstanceStatus struct {
	// Conditions: Ready, DatabaseReady, AppReady, EncryptionReady, NetworkIsolated,
	// AccessEnforced (with an access policy), Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// ObservedGeneration is the spec generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// URL the helpdesk is served on.
	// +optional
	URL string `json:"url,omitempty"`

	// DatabaseCluster is the name of the instance's CloudNativePG Cluster.
	// +optional
	DatabaseCluster string `json:"databaseCluster,omitempty"`

	// Encryption reports the instance's transit key in Vault (its name and version,
	// never key material).
	// +optional
	Encryption *EncryptionStatus `json:"encryption,omitempty"`

	// Restore reports the restore of spec.restoreFrom.
	// +optional
	Restore *RestoreStatus `json:"restore,omitempty"`

	// Access reports, per part of spec.accessPolicyRef's policy, whether it is enforced
	// on this instance; absent without an access policy.
	// +optional
	Access *AccessStatus `json:"access,omitempty"`
}

// AccessStatus is how the instance's access policy is enforced on it.
type AccessStatus struct {
	// PolicyName is the AccessPolicy this reports on.
	// +optional
	PolicyName string `json:"policyName,omitempty"`

	// Exposure the instance is served through, e.g. gateway/envoy-gateway or
	// ingress/ingress-nginx.
	// +optional
	Exposure string `json:"exposure,omitempty"`

	AccessEnforcement `json:",inline"`
}

// RestorePhase is how far the restore of spec.restoreFrom has come.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed
type RestorePhase string

// Restore phases.
const (
	// RestorePhasePending waits for the database before the restore Job starts.
	RestorePhasePending RestorePhase = "Pending"
	// RestorePhaseRunning: the restore Job runs; the app and the migration wait for it.
	RestorePhaseRunning RestorePhase = "Running"
	// RestorePhaseSucceeded: the data is in place; the migration runs next.
	RestorePhaseSucceeded RestorePhase = "Succeeded"
	// RestorePhaseFailed is final: spec.restoreFrom is immutable, so recreate the
	// instance to try again. The engine leaves the target database empty on failure.
	RestorePhaseFailed RestorePhase = "Failed"
)

// RestoreStatus reports the restore of spec.restoreFrom.
type RestoreStatus struct {
	// BackupID is the backup restored: the ID asked for, or the one "latest" resolved to
	// once the restore Job reported it.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	BackupID string `json:"backupID,omitempty"`

	// Phase is Pending, Running, Succeeded or Failed.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`

	// Message explains the phase; for a failure, the restore Job's error.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`
}

// EncryptionStatus reports the instance's transit key.
type EncryptionStatus struct {
	// KeyName is the transit key's name in Vault.
	// +optional
	KeyName string `json:"keyName,omitempty"`

	// LatestKeyVersion is the newest version of the key; new data is encrypted with it.
	// +optional
	LatestKeyVersion int `json:"latestKeyVersion,omitempty"`

	// MinDecryptionVersion is the oldest key version Vault still decrypts with. Versions
	// below it were trimmed by crypto-shredding: whatever they encrypted is unreadable.
	// +optional
	MinDecryptionVersion int `json:"minDecryptionVersion,omitempty"`

	// Trims records the newest crypto-shredding trims of the key, newest first.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	Trims []KeyTrimRecord `json:"trims,omitempty"`
}

// KeyTrimRecord is one crypto-shredding trim of the instance's transit key.
type KeyTrimRecord struct {
	// Time of the trim.
	Time metav1.Time `json:"time"`

	// MinAvailableVersion is the new oldest version; every older one was deleted from Vault.
	MinAvailableVersion int `json:"minAvailableVersion"`

	// Message says why the versions could go.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// HelpdeskInstance is one tenant's isolated, privacy-hardened helpdesk: the application,
// its own PostgreSQL cluster, storage, ingress, Vault-managed keys and a default-deny
// network perimeter, all in the instance's namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hdi,categories=helpdesk
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Database",type=string,JSONPath=`.status.conditions[?(@.type=="DatabaseReady")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HelpdeskInstance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec HelpdeskInstanceSpec `json:"spec"`
	// +optional
	Status HelpdeskInstanceStatus `json:"status,omitempty"`
}

// HelpdeskInstanceList is a list of HelpdeskInstances.
// +kubebuilder:object:root=true
type HelpdeskInstanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HelpdeskInstance `json:"items"`
}

func init() {
	SchemeBuilder.Register(&HelpdeskInstance{}, &HelpdeskInstanceList{})
}
