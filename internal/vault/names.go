package vault

import (
	"fmt"
	"regexp"
)

// Workload is one kind of pod of a tenant that logs in to Vault. Each has its own
// ServiceAccount, Kubernetes auth role and (fixed, templated) policy, so code running in
// one cannot use what another may: the app never unwraps a backup key, and a backup never
// decrypts one.
type Workload string

const (
	// WorkloadApp reads the tenant's app secrets (Vault Agent delivery only).
	WorkloadApp Workload = "app"
	// WorkloadBackup encrypts (wraps file keys), signs manifests with HMAC and verifies them.
	WorkloadBackup Workload = "backup"
	// WorkloadRestore decrypts and verifies, for restores and restore drills, on the
	// tenant's key and, while a restore from another instance runs, on that one's key.
	WorkloadRestore Workload = "restore"
)

// Workloads lists every workload in a fixed order.
var Workloads = []Workload{WorkloadApp, WorkloadBackup, WorkloadRestore}

// The naming scheme. A tenant is a (namespace, name) pair of Kubernetes names: namespaces
// are DNS-1123 labels ([a-z0-9-]), names DNS-1123 subdomains ([a-z0-9.-]); the prefix is a
// DNS label. None of them can hold '_', so '_' separates the parts and two different
// tenants (or workloads) can never get the same name: "a-b"/"c" and "a"/"b-c" become
// helpdesk_a-b_c and helpdesk_a_b-c. Nor can any part hold a glob ('*', '+') or a path
// separator, so a name is never more than itself inside a Vault policy or path.
const sep = "_"

var (
	namespacePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	namePattern      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// ValidateTenant refuses a namespace or name that is not a Kubernetes object name. Every
// name below is only injective for valid input, so everything that builds a Vault name
// from user input checks it here first.
func ValidateTenant(namespace, name string) error {
	if len(namespace) > 63 || !namespacePattern.MatchString(namespace) {
		return fmt.Errorf("namespace %q is not a DNS-1123 label", namespace)
	}
	if len(name) > 253 || !namePattern.MatchString(name) {
		return fmt.Errorf("name %q is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')", name)
	}
	return nil
}

// KeyName is the tenant's transit key: <prefix>_<namespace>_<name>.
func KeyName(prefix, namespace, name string) string {
	return prefix + sep + namespace + sep + name
}

// RoleName is the Kubernetes auth role of a tenant's workload: <prefix>_<namespace>_<name>_<workload>.
func RoleName(prefix, namespace, name string, w Workload) string {
	return KeyName(prefix, namespace, name) + sep + string(w)
}

// SecretsPath is the tenant's app secrets under the KV v2 mount (without data/ or
// metadata/): <prefix>/secrets/<namespace>/<name>.
func SecretsPath(prefix, namespace, name string) string {
	return prefix + "/secrets/" + namespace + "/" + name
}

// OwnerPath is the record of which instance (by UID) owns the tenant's Vault state, under
// the KV v2 mount: <prefix>/owners/<namespace>/<name>. It outlives the instance when its
// key is retained, so that no later instance of the same name takes the key over unasked.
// Tenant policies never grant it.
func OwnerPath(prefix, namespace, name string) string {
	return prefix + "/owners/" + namespace + "/" + name
}

// TenantPolicyName is the fixed, templated policy of a workload: <prefix>-tenant-<workload>.
// It holds a '-' where tenant names hold '_', so the two never meet.
func TenantPolicyName(prefix string, w Workload) string {
	return prefix + "-tenant-" + string(w)
}

// Names are everything a tenant owns in Vault.
type Names struct {
	Key       string // transit key
	Secrets   string // KV v2 path of the app secrets
	Owner     string // KV v2 path of the ownership record
	Roles     map[Workload]string
	Namespace string
	Name      string
}

// NamesFor builds all of a tenant's names; callers validate with ValidateTenant first.
func NamesFor(prefix, namespace, name string) Names {
	roles := make(map[Workload]string, len(Workloads))
	for _, w := range Workloads {
		roles[w] = RoleName(prefix, namespace, name, w)
	}
	return Names{
		Key:       KeyName(prefix, namespace, name),
		Secrets:   SecretsPath(prefix, namespace, name),
		Owner:     OwnerPath(prefix, namespace, name),
		Roles:     roles,
		Namespace: namespace,
		Name:      name,
	}
}
