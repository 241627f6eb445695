package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// Length limits of the names the builders produce.
const (
	// maxName fits DNS labels (Services, and Job names, which become a label value).
	maxName = 63
	// maxClusterName is CloudNativePG's limit on a Cluster name; it derives longer
	// names (<cluster>-rw, <cluster>-1-initdb) from it.
	maxClusterName = 50
	// nameHashLen is long enough that a collision between two instances of one
	// namespace needs about 2^32 of them.
	nameHashLen = 8
)

// Names are the names of an instance's children. They depend only on the instance's
// name, so they never change while the instance exists.
type Names struct {
	// InstanceLabel is the instance's name as a label value (at most 63 characters).
	InstanceLabel string
	// DatabaseCluster is the CloudNativePG Cluster, <name>-db.
	DatabaseCluster string
	// DatabaseAppSecret is the Secret CloudNativePG writes for the application user.
	DatabaseAppSecret string
	// DatabaseCA is the Secret CloudNativePG keeps its CA in; pods verify the server with
	// its ca.crt (only that key is ever mounted).
	DatabaseCA string
	// App names the Deployment, Service, ServiceAccount, Ingress and PodDisruptionBudget.
	App string
	// BackupServiceAccount runs the backup Jobs; RestoreServiceAccount the restore and
	// drill Jobs. Each has its own Vault role.
	BackupServiceAccount  string
	RestoreServiceAccount string
	// Attachments is the PersistentVolumeClaim of uploaded files.
	Attachments string
	// AppSecret holds the app secrets from Vault (Secret delivery only).
	AppSecret string
	// VaultCA holds the CA of a Vault with a private certificate authority.
	VaultCA string
	// NetworkPolicies, one per concern.
	PolicyDefaultDeny string
	PolicyDNS         string
	PolicyApp         string
	PolicyDatabase    string
	PolicyJobs        string

	base string
}

// InstanceLabel is the value of inst's instance labels: NamesFor(inst).InstanceLabel
// without the other names (the labels of every child need only this one).
func InstanceLabel(inst *v1alpha1.HelpdeskInstance) string { return labelValue(inst.Name) }

// NamesFor returns the child names of inst.
func NamesFor(inst *v1alpha1.HelpdeskInstance) Names {
	name := inst.Name
	child := func(suffix string, limit int) string { return childName(name, suffix, limit) }
	cluster := child("db", maxClusterName)
	return Names{
		InstanceLabel:         labelValue(name),
		DatabaseCluster:       cluster,
		DatabaseAppSecret:     cluster + "-app",
		DatabaseCA:            cluster + "-ca",
		App:                   child("app", maxName),
		BackupServiceAccount:  child("backup", maxName),
		RestoreServiceAccount: child("restore", maxName),
		Attachments:           child("attachments", maxName),
		AppSecret:             child("secrets", maxName),
		VaultCA:               child("vault-ca", maxName),
		PolicyDefaultDeny:     child("default-deny", maxName),
		PolicyDNS:             child("dns", maxName),
		PolicyApp:             child("app", maxName),
		PolicyDatabase:        child("db", maxName),
		PolicyJobs:            child("jobs", maxName),
		base:                  name,
	}
}

// MigrationJob is the migration Job for image: a new image gets a new Job, and the
// Job of an image that already ran stays complete.
func (n Names) MigrationJob(image string) string {
	return childName(n.base, "migrate-"+shortHash(image), maxName)
}

// childName is <name>-<suffix> as a DNS-1035 label of at most max characters. Names
// that had to be changed (dots, a leading digit, length) get a hash of the original
// name, so two instances never share a child name.
func childName(name, suffix string, limit int) string {
	base := dns1035(name)
	changed := base != name
	tail := "-" + suffix
	if changed || len(base)+len(tail) > limit {
		tail = "-" + shortHash(name) + tail
		if keep := limit - len(tail); len(base) > keep {
			base = strings.TrimRight(base[:keep], "-")
		}
	}
	return base + tail
}

// dns1035 maps a DNS-1123 subdomain (an object name) to the DNS-1035 label alphabet:
// dots become dashes, and a leading digit gets a letter in front.
func dns1035(name string) string {
	s := strings.ReplaceAll(strings.ToLower(name), ".", "-")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "h" + s
	}
	return s
}

// labelValue is name if it fits a label value, otherwise a prefix and a hash of it.
func labelValue(name string) string {
	if len(name) <= maxName {
		return name
	}
	tail := "-" + shortHash(name)
	return strings.TrimRight(name[:maxName-len(tail)], "-.") + tail
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:nameHashLen]
}
