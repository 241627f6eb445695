package backup

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Instance is the helpdesk instance a backup belongs to.
type Instance struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (i Instance) String() string { return i.Namespace + "/" + i.Name }

// Folder is the instance's own folder inside a destination, "<namespace>/<name>/": every
// object the engine reads, writes, lists or deletes is below it, so instances sharing a
// BackupPolicy destination never see each other's backups. Both parts must be Kubernetes
// names (a namespace is a DNS-1123 label, an object name a DNS-1123 subdomain), which
// cannot hold "/", "*", "..", upper case or an empty segment; with the "/" between them,
// two different instances can never map to the same folder.
func (i Instance) Folder() (string, error) {
	if errs := validation.IsDNS1123Label(i.Namespace); len(errs) > 0 {
		return "", fmt.Errorf("instance namespace %q is not a Kubernetes namespace name (%s): set --instance-namespace", i.Namespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(i.Name); len(errs) > 0 {
		return "", fmt.Errorf("instance name %q is not a Kubernetes object name (%s): set --instance-name", i.Name, strings.Join(errs, "; "))
	}
	return i.Namespace + "/" + i.Name + "/", nil
}
