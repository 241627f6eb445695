package vault

import (
	"fmt"
	"strings"
)

// Alias metadata keys. Vault's Kubernetes auth copies the annotations
// vault.hashicorp.com/alias-metadata-<key> of the logging-in ServiceAccount into the
// entity alias's metadata (use_annotations_as_alias_metadata), next to the namespace it
// verified with a TokenReview. The fixed tenant policies name keys and paths from both.
const (
	// MetadataInstance names the instance whose key and secrets a workload uses.
	MetadataInstance = "helpdesk_instance"
	// MetadataRestoreSource names another instance, of the same namespace, whose backups a
	// restore workload may decrypt; the operator sets it only while that restore runs.
	MetadataRestoreSource = "helpdesk_restore_source"

	// AliasMetadataAnnotationPrefix is how a ServiceAccount annotation becomes alias metadata.
	AliasMetadataAnnotationPrefix = "vault.hashicorp.com/alias-metadata-"

	// metadataNamespace is set by Vault from the TokenReview; annotations cannot override it.
	metadataNamespace = "service_account_namespace"
)

// ServiceAccountAnnotation is the annotation that sets alias metadata key on login.
func ServiceAccountAnnotation(key string) string { return AliasMetadataAnnotationPrefix + key }

// TenantPolicies are the three fixed policies every tenant role points at, rendered for a
// Kubernetes auth mount's accessor. They are templated on the login's alias metadata, so
// the operator writes no policy text per tenant, and every path they grant starts with
// <prefix>_<namespace>_ (or <prefix>/secrets/<namespace>/) for the namespace Vault itself
// verified: whatever a ServiceAccount annotation says, a workload can only ever reach keys
// and secrets of its own namespace. A path whose metadata is missing is dropped by Vault,
// so a restore workload without a restore source gets no second key.
func TenantPolicies(cfg Config, kubernetesAccessor string) map[Workload]string {
	meta := func(key string) string {
		return fmt.Sprintf("{{identity.entity.aliases.%s.metadata.%s}}", kubernetesAccessor, key)
	}
	ns := meta(metadataNamespace)
	key := func(instanceKey string) string { return cfg.Prefix + sep + ns + sep + meta(instanceKey) }
	own, source := key(MetadataInstance), key(MetadataRestoreSource)

	rules := func(header string, paths ...string) string {
		var b strings.Builder
		b.WriteString(header)
		for _, p := range paths {
			fmt.Fprintf(&b, "path %q {\n  capabilities = [\"update\"]\n}\n", p)
		}
		return b.String()
	}
	transit := func(op, k string) string { return cfg.TransitMount + "/" + op + "/" + k }
	return map[Workload]string{
		WorkloadApp: fmt.Sprintf("# helpdesk-operator: the app's own secrets, read only.\npath %q {\n  capabilities = [\"read\"]\n}\n",
			cfg.KVMount+"/data/"+cfg.Prefix+"/secrets/"+ns+"/"+meta(MetadataInstance)),
		WorkloadBackup: rules("# helpdesk-operator: backups wrap file keys, sign and check manifests; never decrypt.\n",
			transit("encrypt", own), transit("hmac", own), transit("verify", own)),
		WorkloadRestore: rules("# helpdesk-operator: restores and drills unwrap file keys and check manifests; never encrypt.\n",
			transit("decrypt", own), transit("verify", own), transit("decrypt", source), transit("verify", source)),
	}
}
