package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

// A manifest is trusted when it is this engine's: signed (transit HMAC) with the engine's
// transit key, and recording the engine's instance and key. Anyone who can write to the
// destination can put a manifest in the instance's folder; an untrusted one is ignored and
// counted by every catalog operation, so it can neither be restored, nor become "latest",
// nor make retention delete anything (its objects are not orphans either).

// catalog is what the instance's folder holds, as far as this engine can trust it.
type catalog struct {
	// trusted manifests, oldest first.
	trusted []*Manifest
	// ignored counts manifest objects that are not trusted.
	ignored int
	// trimmed counts the ignored manifests signed with a key version Vault has trimmed
	// (crypto-shredding): those backups are unreadable for good.
	trimmed int
	// present holds the ID of every manifest object, trusted or not: data objects of
	// these IDs are never orphans.
	present map[string]bool
}

// readCatalog reads every manifest of the instance's folder and checks them all, with one
// Vault call per batch. A Vault or destination failure is an error, never a verdict.
func (e *Engine) readCatalog(ctx context.Context) (*catalog, error) {
	objs, err := e.Dest.List(ctx, manifestDir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, o := range objs {
		id, ok := strings.CutSuffix(strings.TrimPrefix(o.Name, manifestDir), ".json")
		if !ok || strings.Contains(id, "/") {
			continue // temp files of interrupted writes, and foreign objects
		}
		if _, err := IDTime(id); err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	c := &catalog{present: map[string]bool{}}
	var candidates []*Manifest
	var signed []vaultage.Signed
	for _, id := range ids {
		c.present[id] = true
		m, err := readManifest(ctx, e.Dest, id)
		if errors.Is(err, errNotJSON) {
			c.ignored++
			continue
		}
		if err != nil {
			return nil, err
		}
		if e.untrusted(m, id) != nil {
			c.ignored++
			continue
		}
		digest, err := m.signedDigest()
		if err != nil {
			return nil, err
		}
		candidates = append(candidates, m)
		signed = append(signed, vaultage.Signed{Data: digest, Signature: m.Signature})
	}
	verdicts, err := e.Transit.VerifyAll(ctx, signed)
	if err != nil {
		return nil, fmt.Errorf("checking the manifest signatures of %s: %w", e.Dest, err)
	}
	for i, m := range candidates {
		switch {
		case verdicts[i].Valid:
			c.trusted = append(c.trusted, m)
		case verdicts[i].Trimmed:
			c.trimmed++
			c.ignored++
		default:
			c.ignored++
		}
	}
	return c, nil
}

// newest is the newest trusted backup; an error says why there is none.
func (c *catalog) newest(e *Engine) (*Manifest, error) {
	if len(c.trusted) == 0 && c.trimmed > 0 {
		return nil, fmt.Errorf("%w: no readable backups of instance %s on %s: %d backups were made with versions of transit key %q that crypto-shredding has trimmed, so nothing can decrypt them any more (%d manifests ignored in all)",
			vaultage.ErrKeyVersionTrimmed, e.Instance, e.Dest, c.trimmed, e.Transit.Key, c.ignored)
	}
	if len(c.trusted) == 0 {
		return nil, fmt.Errorf("no backups of instance %s on %s (%d manifests ignored: unsigned, edited, or of another instance or transit key)", e.Instance, e.Dest, c.ignored)
	}
	return c.trusted[len(c.trusted)-1], nil
}

// untrusted says why manifest m, stored as backup id, is not this engine's before its
// signature is even checked; nil when only the signature remains to check.
func (e *Engine) untrusted(m *Manifest, id string) error {
	switch {
	case m.Format > ManifestFormat:
		return fmt.Errorf("backup %s has manifest format %d; this version reads %d: upgrade the operator", id, m.Format, ManifestFormat)
	case m.Format != ManifestFormat:
		return fmt.Errorf("%w: backup %s has manifest format %d, which this version does not trust (want %d)", ErrIntegrity, id, m.Format, ManifestFormat)
	case m.ID != id:
		return fmt.Errorf("%w: manifest %s names backup %q: the manifest was moved or edited", ErrIntegrity, manifestName(id), m.ID)
	case m.Instance != e.Instance:
		return fmt.Errorf("%w: backup %s belongs to instance %s, not %s", ErrIntegrity, id, m.Instance, e.Instance)
	case m.Encryption.Scheme != scheme:
		return fmt.Errorf("backup %s uses encryption scheme %q, want %q", id, m.Encryption.Scheme, scheme)
	case m.Encryption.KeyName != e.Transit.Key || m.Encryption.TransitMount != e.Transit.Mount:
		return fmt.Errorf("backup %s was encrypted with Vault transit key %q on mount %q (instance %s), but this run uses key %q on mount %q: use the key of the instance that made the backup",
			id, m.Encryption.KeyName, m.Encryption.TransitMount, m.Instance, e.Transit.Key, e.Transit.Mount)
	case m.Signature == "" || m.SignatureScheme != SignatureScheme:
		return fmt.Errorf("%w: the manifest of backup %s is not signed (want scheme %s)", ErrIntegrity, id, SignatureScheme)
	}
	// Retention deletes what a trusted manifest lists: it may only list this backup's
	// own objects.
	for _, o := range m.Objects {
		if kindName[o.Kind] == "" || o.Name != dataName(id, kindName[o.Kind]) {
			return fmt.Errorf("%w: the manifest of backup %s lists object %q of kind %q, which is not one of this backup's", ErrIntegrity, id, o.Name, o.Kind)
		}
	}
	return nil
}

// kindName is the object name of each kind of data object.
var kindName = map[string]string{"database": databaseName, "attachments": filesName}

// trustedManifest loads backup id ("latest" or "" for the newest trusted one) and checks
// that it is trusted; ignored counts the manifests passed over when resolving latest.
func (e *Engine) trustedManifest(ctx context.Context, id string) (m *Manifest, ignored int, err error) {
	if id == "" || id == "latest" {
		c, err := e.readCatalog(ctx)
		if err != nil {
			return nil, 0, err
		}
		m, err := c.newest(e)
		return m, c.ignored, err
	}
	if _, err := IDTime(id); err != nil {
		return nil, 0, err
	}
	m, err = readManifest(ctx, e.Dest, id)
	if err != nil {
		return nil, 0, err
	}
	if err := e.untrusted(m, id); err != nil {
		return nil, 0, err
	}
	digest, err := m.signedDigest()
	if err != nil {
		return nil, 0, err
	}
	verdicts, err := e.Transit.VerifyAll(ctx, []vaultage.Signed{{Data: digest, Signature: m.Signature}})
	if err != nil {
		return nil, 0, fmt.Errorf("checking the manifest signature of backup %s: %w", id, err)
	}
	if verdicts[0].Trimmed {
		return nil, 0, fmt.Errorf("%w: backup %s is unreadable for good: it was made with version %d of transit key %q, which crypto-shredding trimmed from Vault once every backup made with it was past its retention; restore a newer backup",
			vaultage.ErrKeyVersionTrimmed, id, m.Encryption.KeyVersion, e.Transit.Key)
	}
	if !verdicts[0].Valid {
		return nil, 0, fmt.Errorf("%w: the manifest of backup %s was edited after the backup, or not signed with transit key %q (its signature does not verify)", ErrIntegrity, id, e.Transit.Key)
	}
	return m, 0, nil
}
