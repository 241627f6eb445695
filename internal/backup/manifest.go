package backup

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
)

// ManifestFormat is the manifest's format version. Format 2 is signed with transit HMAC
// (SignatureScheme); readers trust no other format.
const ManifestFormat = 2

// SignatureScheme is how format 2 manifests are signed: the Vault transit HMAC (sha2-256,
// with the instance's transit key) of the SHA-256 of the manifest's JSON without its
// signature. Hashing first keeps Vault requests small however many tables a manifest lists.
const SignatureScheme = "vault-transit-hmac-sha2-256"

// Manifest describes one complete backup. It is written after all data objects, so its
// presence is what makes a backup exist.
type Manifest struct {
	Format     int          `json:"format"`
	ID         string       `json:"id"`
	Instance   Instance     `json:"instance"`
	AppVersion string       `json:"appVersion,omitempty"`
	StartedAt  time.Time    `json:"startedAt"`
	FinishedAt time.Time    `json:"finishedAt"`
	Encryption Encryption   `json:"encryption"`
	Postgres   PostgresInfo `json:"postgres"`
	// Objects lists the data objects with the size and SHA-256 of their stored (encrypted) bytes.
	Objects     []ObjectEntry    `json:"objects"`
	Attachments *AttachmentStats `json:"attachments,omitempty"`
	// SignatureScheme names how Signature was made (SignatureScheme); it is signed too.
	SignatureScheme string `json:"signatureScheme"`
	// Signature seals the manifest (its JSON without this field) with the backup's transit
	// key, so editing any field (hashes, counts, instance, key name) is detected. Only the
	// backup role may make one (transit hmac); restores, drills and lists check it with
	// transit verify.
	Signature string `json:"signature"`
}

// Encryption records how the objects' file keys are wrapped.
type Encryption struct {
	// Scheme is "age+vault-transit": age (X25519-free) with file keys wrapped by Vault transit.
	Scheme       string `json:"scheme"`
	TransitMount string `json:"transitMount"`
	KeyName      string `json:"keyName"`
	// KeyVersion is the transit key version that wrapped the file keys (vault:vN:).
	KeyVersion int `json:"keyVersion"`
}

// PostgresInfo describes the dumped database.
type PostgresInfo struct {
	ServerVersion string `json:"serverVersion"`
	Database      string `json:"database"`
	// Tables maps "schema.table" to its exact row count in the dump's snapshot.
	Tables map[string]int64 `json:"tables"`
}

// ObjectEntry is one data object.
type ObjectEntry struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "database" or "attachments"
	// Size and SHA256 (hex) are of the stored ciphertext.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// PlainSize is the size before compression and encryption.
	PlainSize int64 `json:"plainSize"`
}

// AttachmentStats counts what the attachments tar holds.
type AttachmentStats struct {
	Files int64 `json:"files"`
	Dirs  int64 `json:"dirs"`
	Bytes int64 `json:"bytes"`
}

const scheme = "age+vault-transit"

// Size is the total stored size of the backup's data objects.
func (m *Manifest) Size() int64 {
	var n int64
	for _, o := range m.Objects {
		n += o.Size
	}
	return n
}

func putJSON(ctx context.Context, d dest.Destination, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return d.Put(ctx, name, strings.NewReader(string(b)+"\n"))
}

// maxJSON bounds what we read of a manifest or drill record.
const maxJSON = 16 << 20

func getJSON(ctx context.Context, d dest.Destination, name string, v any) error {
	rc, err := d.Get(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxJSON))
	if err != nil {
		return fmt.Errorf("reading %s from %s: %w", name, d, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s on %s is not valid JSON: %w", errNotJSON, name, d, err)
	}
	return nil
}

// signedDigest is what Signature is the HMAC of: the SHA-256 of the manifest's JSON
// without the signature.
func (m *Manifest) signedDigest() ([]byte, error) {
	c := *m
	c.Signature = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// errNotJSON marks a stored manifest or drill record that is not JSON at all.
var errNotJSON = errors.New("malformed manifest")

// readManifest loads the manifest object of backup id, unchecked.
func readManifest(ctx context.Context, d dest.Destination, id string) (*Manifest, error) {
	var m Manifest
	if err := getJSON(ctx, d, manifestName(id), &m); err != nil {
		if errors.Is(err, dest.ErrNotExist) {
			return nil, fmt.Errorf("backup %s does not exist on %s (no manifest; list backups to see the IDs)", id, d)
		}
		return nil, err
	}
	return &m, nil
}
