package resources

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// AnnotationConfigHash on the app's pod template changes whenever something the pods
// read only at start changes, which rolls them.
const AnnotationConfigHash = "helpdesk.privatedesk.io/config-hash"

// ConfigInputs is what the app reads at start that is not in its pod template.
type ConfigInputs struct {
	// AppSecrets are the values the controller got from Vault. They are hashed rather
	// than taken from the app Secret's resourceVersion so that the hash is the same for
	// both deliveries (with Vault Agent there is no Secret), does not move on writes that
	// change nothing, and can be computed before the Secret is written. Only the keys the
	// app receives count: a new admin password does not restart the app.
	AppSecrets map[string][]byte
	// DatabaseSecretVersion is the resourceVersion of CloudNativePG's <cluster>-app
	// Secret: the pods read the database password at start, so a changed password needs
	// new pods. Empty until the Secret exists.
	DatabaseSecretVersion string
	// Settings are database-held application settings the operator writes; the app
	// caches them per pod, so a change needs new pods.
	Settings map[string]string
}

// ConfigHash is a SHA-256 over in, hex-encoded. Values are length-prefixed so that no two
// different inputs encode alike; the hash of high-entropy secrets reveals nothing of them.
func ConfigHash(prof appprofile.Profile, in ConfigInputs) string {
	h := sha256.New()
	keys := prof.AppSecretKeys()
	sort.Strings(keys)
	writeField(h, "secrets")
	for _, k := range keys {
		v, ok := in.AppSecrets[k]
		if !ok {
			continue
		}
		writeField(h, k)
		writeField(h, string(v))
	}
	writeField(h, "database")
	writeField(h, in.DatabaseSecretVersion)
	writeField(h, "settings")
	settings := make([]string, 0, len(in.Settings))
	for k := range in.Settings {
		settings = append(settings, k)
	}
	sort.Strings(settings)
	for _, k := range settings {
		writeField(h, k)
		writeField(h, in.Settings[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}
