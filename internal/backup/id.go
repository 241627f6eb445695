package backup

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// idLayout sorts lexically in time order (UTC, fixed width) and is safe in object names and
// Kubernetes labels once lowercased.
const idLayout = "20060102T150405Z"

// NewID is a sortable, time-based backup ID: 20261124T043312Z-1a2b3c.
func NewID(now time.Time) string {
	b := make([]byte, 3)
	rand.Read(b)
	return now.UTC().Format(idLayout) + "-" + hex.EncodeToString(b)
}

// idRE is the whole shape of an ID, so that an ID given on the command line can never add
// a folder ("/", "..") to an object name.
var idRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$`)

// IDTime is the time encoded in a backup ID.
func IDTime(id string) (time.Time, error) {
	stamp, _, _ := strings.Cut(id, "-")
	t, err := time.Parse(idLayout, stamp)
	if err != nil || !idRE.MatchString(id) {
		return time.Time{}, fmt.Errorf("%q is not a backup ID (want like 20261124T043312Z-1a2b3c)", id)
	}
	return t, nil
}

// Object names, relative to the instance's folder (Instance.Folder).
const (
	dataDir      = "backups/"
	manifestDir  = "manifests/"
	drillDir     = "drills/"
	databaseName = "database.dump.zst.age"
	filesName    = "attachments.tar.zst.age"
)

func manifestName(id string) string { return manifestDir + id + ".json" }
func drillName(id string) string    { return drillDir + id + ".json" }
func dataName(id, object string) string {
	return dataDir + id + "/" + object
}
