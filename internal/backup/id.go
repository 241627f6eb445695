package backup

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// IDTime is the time encoded in a backup ID.
func IDTime(id string) (time.Time, error) {
	stamp, _, _ := strings.Cut(id, "-")
	t, err := time.Parse(idLayout, stamp)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a backup ID (want like 20261124T043312Z-1a2b3c)", id)
	}
	return t, nil
}

// Object names, relative to the destination's prefix.
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
