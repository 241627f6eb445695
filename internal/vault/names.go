package vault

import (
	"fmt"
	"strings"
)

// Names are everything a tenant owns in Vault. The key, policy and Kubernetes auth role
// share one name so an administrator can find them together.
type Names struct {
	Key    string // transit key
	Policy string
	Role   string // Kubernetes auth role
	KVPath string // under the KV v2 mount, without data/ or metadata/
}

// TenantName is <prefix>-<namespace>-<name>, the transit key, policy and role name.
func TenantName(prefix, namespace, name string) string {
	return prefix + "-" + namespace + "-" + name
}

// KVPath is <prefix>/<namespace>/<name>, the tenant's KV v2 secret path.
func KVPath(prefix, namespace, name string) string {
	return prefix + "/" + namespace + "/" + name
}

// NamesFor builds all of a tenant's names.
func NamesFor(prefix, namespace, name string) Names {
	n := TenantName(prefix, namespace, name)
	return Names{Key: n, Policy: n, Role: n, KVPath: KVPath(prefix, namespace, name)}
}

// ownerComment is the policy's first line. It records which tenant owns the shared name,
// because <prefix>-<namespace>-<name> is ambiguous when namespace or name has a dash.
func ownerComment(namespace, name string) string {
	return fmt.Sprintf("# helpdesk-operator tenant %s/%s", namespace, name)
}

// policyOwner returns the namespace/name recorded by ownerComment, or "" for policies
// the operator did not write.
func policyOwner(policy string) string {
	first, _, _ := strings.Cut(policy, "\n")
	owner, ok := strings.CutPrefix(first, "# helpdesk-operator tenant ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(owner)
}

// TenantPolicy is the tenant's policy text: only the transit operations on its own key that
// an app needs (never export, backup, config or rotation) and read on its own KV data, plus
// decrypt alone with restoreKey (another instance's key, for restoring its backups) when set.
func TenantPolicy(transitMount, kvMount, namespace, name string, names Names, restoreKey string) string {
	var b strings.Builder
	b.WriteString(ownerComment(namespace, name) + "\n")
	rule := func(path, capability string) {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [%q]\n}\n", path, capability)
	}
	rule(transitMount+"/encrypt/"+names.Key, "update")
	rule(transitMount+"/decrypt/"+names.Key, "update")
	// + matches exactly one segment: "plaintext" or "wrapped".
	rule(transitMount+"/datakey/+/"+names.Key, "update")
	rule(transitMount+"/rewrap/"+names.Key, "update")
	rule(kvMount+"/data/"+names.KVPath, "read")
	rule(kvMount+"/data/"+names.KVPath+"/*", "read")
	if restoreKey != "" {
		rule(transitMount+"/decrypt/"+restoreKey, "update")
	}
	return b.String()
}
