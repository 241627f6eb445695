package backup

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

// Data-subject access exports live beside the backups, in the instance's folder of the
// same destination, encrypted with the same envelope (age, the file key wrapped by the
// instance's transit key) and with a manifest signed the same way:
//
//	<namespace>/<name>/exports/<id>.tar.zst.age   the archive (export.json and the files)
//	<namespace>/<name>/exports/<id>.json          its signed ExportManifest, written last
//
// The backup catalog lists only manifests/, backups/ and drills/, so an export is never
// listed, restored, drilled or pruned as a backup; the operator deletes it when it expires
// (DeleteExport).

const exportDir = "exports/"

// exportObjectSuffix is also resources.ExportObjectSuffix.
const exportObjectSuffix = ".tar.zst.age"

// ExportObjectName is the name of export id's archive inside the instance's folder.
func ExportObjectName(id string) string { return exportDir + id + exportObjectSuffix }

func exportManifestName(id string) string { return exportDir + id + ".json" }

// exportIDRE is the shape of an export ID (a Kubernetes UID, or any lowercase name
// without dots or slashes), so that no ID can name another folder.
var exportIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// CheckExportID refuses an ID that is not a plain lowercase name.
func CheckExportID(id string) error {
	if !exportIDRE.MatchString(id) {
		return fmt.Errorf("export ID %q must be 1 to 63 lowercase letters, digits and '-', starting with a letter or digit", id)
	}
	return nil
}

// exportKind is ExportManifest.Kind.
const exportKind = "data-subject-export"

// ExportManifest describes one export. Signed like backup manifests (SignatureScheme),
// it cannot be edited or moved to another instance unnoticed.
type ExportManifest struct {
	Format          int         `json:"format"`
	Kind            string      `json:"kind"`
	ID              string      `json:"id"`
	Instance        Instance    `json:"instance"`
	CreatedAt       time.Time   `json:"createdAt"`
	Encryption      Encryption  `json:"encryption"`
	Object          ObjectEntry `json:"object"`
	SignatureScheme string      `json:"signatureScheme"`
	Signature       string      `json:"signature"`
}

func (m *ExportManifest) signedDigest() ([]byte, error) {
	c := *m
	c.Signature = ""
	return digestJSON(&c)
}

// ExportResult is what PutExport wrote.
type ExportResult struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Size       int64  `json:"size"`
	PlainSize  int64  `json:"plainSize"`
	KeyVersion int    `json:"keyVersion"`
}

// PutExport streams what produce writes (the tar archive of an access request) through
// zstd and age, its file key wrapped by the instance's transit key, into the instance's
// exports/ folder as export id, then writes its signed manifest. It needs the backup
// workload's Vault rights: encrypt and hmac, never decrypt. An export that fails leaves no
// archive under its name (objects appear only whole) and is removed if its manifest could
// not be written.
func (e *Engine) PutExport(ctx context.Context, id string, produce func(io.Writer) error) (*ExportResult, error) {
	s, err := e.scoped()
	if err != nil {
		return nil, err
	}
	if err := CheckExportID(id); err != nil {
		return nil, err
	}
	if _, err := s.Transit.Probe(ctx); err != nil {
		return nil, fmt.Errorf("export aborted before reading any data: %w", err)
	}
	m := &ExportManifest{Format: 1, Kind: exportKind, ID: id, Instance: s.Instance, CreatedAt: s.now().UTC()}
	obj, version, err := s.seal(ctx, ExportObjectName(id), "export", produce)
	if err != nil {
		return nil, err
	}
	m.Object = obj
	m.Encryption = Encryption{Scheme: scheme, TransitMount: s.Transit.Mount, KeyName: s.Transit.Key, KeyVersion: version}
	m.SignatureScheme = SignatureScheme
	digest, err := m.signedDigest()
	if err == nil {
		m.Signature, err = s.Transit.Sign(ctx, digest)
	}
	if err == nil {
		err = putJSON(ctx, s.Dest, exportManifestName(id), m)
	}
	if err != nil {
		_ = s.Dest.Delete(context.WithoutCancel(ctx), obj.Name)
		return nil, fmt.Errorf("signing and writing the manifest of export %s (its archive was removed again): %w", id, err)
	}
	return &ExportResult{ID: id, Object: obj.Name, Size: obj.Size, PlainSize: obj.PlainSize, KeyVersion: version}, nil
}

// OpenExport checks export id's manifest (signed with the instance's key, of this
// instance) and writes the decrypted archive to w. It needs decrypt and verify on the
// instance's key: an administrator's token, or the restore workload's.
func (e *Engine) OpenExport(ctx context.Context, id string, w io.Writer) (*ExportManifest, error) {
	s, err := e.scoped()
	if err != nil {
		return nil, err
	}
	if err := CheckExportID(id); err != nil {
		return nil, err
	}
	var m ExportManifest
	if err := getJSON(ctx, s.Dest, exportManifestName(id), &m); err != nil {
		if errors.Is(err, dest.ErrNotExist) {
			return nil, fmt.Errorf("export %s does not exist on %s (it may have expired and been deleted)", id, s.Dest)
		}
		return nil, err
	}
	switch {
	case m.Kind != exportKind || m.ID != id || m.Object.Name != ExportObjectName(id) || m.Object.Kind != "export":
		return nil, fmt.Errorf("%w: the manifest of export %s does not describe this export", ErrIntegrity, id)
	case m.Instance != s.Instance:
		return nil, fmt.Errorf("%w: export %s belongs to instance %s, not %s", ErrIntegrity, id, m.Instance, s.Instance)
	case m.Encryption.KeyName != s.Transit.Key || m.Encryption.TransitMount != s.Transit.Mount:
		return nil, fmt.Errorf("export %s was encrypted with Vault transit key %q on mount %q, but this run uses key %q on mount %q", id, m.Encryption.KeyName, m.Encryption.TransitMount, s.Transit.Key, s.Transit.Mount)
	case m.SignatureScheme != SignatureScheme || m.Signature == "":
		return nil, fmt.Errorf("%w: the manifest of export %s is not signed", ErrIntegrity, id)
	}
	digest, err := m.signedDigest()
	if err != nil {
		return nil, err
	}
	verdicts, err := s.Transit.VerifyAll(ctx, []vaultage.Signed{{Data: digest, Signature: m.Signature}})
	if err != nil {
		return nil, fmt.Errorf("checking the manifest signature of export %s: %w", id, err)
	}
	switch {
	case verdicts[0].Trimmed:
		return nil, fmt.Errorf("%w: export %s is unreadable for good: it was made with a version of transit key %q that crypto-shredding trimmed", vaultage.ErrKeyVersionTrimmed, id, s.Transit.Key)
	case !verdicts[0].Valid:
		return nil, fmt.Errorf("%w: the manifest of export %s was edited, or not signed with transit key %q", ErrIntegrity, id, s.Transit.Key)
	}
	if err := s.open(ctx, m.Object, false, func(r io.Reader) error {
		_, err := io.Copy(w, r)
		return err
	}); err != nil {
		return nil, fmt.Errorf("decrypting export %s: %w", id, err)
	}
	return &m, nil
}

// DeleteExport removes export id of inst from d: the manifest first (the export stops
// existing at once), then the archive. Deleting an export that is gone is not an error.
// It needs no Vault.
func DeleteExport(ctx context.Context, d dest.Destination, inst Instance, id string) error {
	if err := CheckExportID(id); err != nil {
		return err
	}
	folder, err := inst.Folder()
	if err != nil {
		return err
	}
	in := dest.Within(d, folder)
	for _, name := range []string{exportManifestName(id), ExportObjectName(id)} {
		if err := in.Delete(ctx, name); err != nil {
			return fmt.Errorf("deleting %s of export %s from %s: %w", name, id, in, err)
		}
	}
	return nil
}

// digestJSON is the SHA-256 of v's JSON, what manifests' signatures are the HMAC of.
func digestJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}
