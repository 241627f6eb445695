package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
)

// ManifestFormat is the manifest's format version; readers refuse newer ones.
const ManifestFormat = 1

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
	// Signature seals the manifest (its JSON without this field) with the backup's transit
	// key: the transit encryption of its SHA-256, so editing any field (hashes, counts, key
	// name) is detected with only the encrypt and decrypt rights the tenant already has.
	Signature string `json:"signature"`
}

// Instance is the helpdesk instance a backup belongs to.
type Instance struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
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
		return fmt.Errorf("%s on %s is not valid JSON: %w", name, d, err)
	}
	return nil
}

// signedBytes is what Signature covers: the manifest's JSON without the signature.
func (m *Manifest) signedBytes() ([]byte, error) {
	c := *m
	c.Signature = ""
	return json.Marshal(&c)
}

// ReadManifest loads the manifest of backup id.
func ReadManifest(ctx context.Context, d dest.Destination, id string) (*Manifest, error) {
	var m Manifest
	if err := getJSON(ctx, d, manifestName(id), &m); err != nil {
		if errors.Is(err, dest.ErrNotExist) {
			return nil, fmt.Errorf("backup %s does not exist on %s (no manifest; list backups to see the IDs)", id, d)
		}
		return nil, err
	}
	if m.Format > ManifestFormat {
		return nil, fmt.Errorf("backup %s has manifest format %d; this version reads up to %d: upgrade the operator", id, m.Format, ManifestFormat)
	}
	if m.ID != id {
		return nil, fmt.Errorf("manifest %s names backup %q: the manifest was moved or edited", manifestName(id), m.ID)
	}
	if m.Encryption.Scheme != scheme {
		return nil, fmt.Errorf("backup %s uses encryption scheme %q, want %q", id, m.Encryption.Scheme, scheme)
	}
	return &m, nil
}

// ListIDs returns the IDs of complete backups (those with a manifest), oldest first.
func ListIDs(ctx context.Context, d dest.Destination) ([]string, error) {
	objs, err := d.List(ctx, manifestDir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, o := range objs {
		id, ok := strings.CutSuffix(strings.TrimPrefix(o.Name, manifestDir), ".json")
		if !ok || strings.Contains(id, "/") {
			continue
		}
		if _, err := IDTime(id); err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// resolveID turns "latest" (or "") into the newest backup's ID.
func resolveID(ctx context.Context, d dest.Destination, id string) (string, error) {
	if id != "" && id != "latest" {
		return id, nil
	}
	ids, err := ListIDs(ctx, d)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("no backups on %s", d)
	}
	return ids[len(ids)-1], nil
}
