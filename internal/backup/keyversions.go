package backup

import (
	"context"
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

// KeyVersionFloor is the oldest version of the transit key that any backup the instance's
// folder keeps still needs: the version that wrapped each data object's file key, read
// from the object's age header (no Vault call, nothing is decrypted), and the version
// that signed each manifest. The operator trims no version at or above it
// (crypto-shredding). It is 0 when no backup is kept. Only trusted backups count: an
// untrusted manifest is not restorable anyway, and one signed with a trimmed version is
// already unreadable.
func (e *Engine) KeyVersionFloor(ctx context.Context) (int, error) {
	s, err := e.scoped()
	if err != nil {
		return 0, err
	}
	c, err := s.readCatalog(ctx)
	if err != nil {
		return 0, err
	}
	return s.keyVersionFloor(ctx, c.trusted)
}

// KeptKeyVersionFloor is KeyVersionFloor right after pr: the backups pr kept are the
// trusted ones of the catalog it read, so the catalog is not read and checked again.
func (e *Engine) KeptKeyVersionFloor(ctx context.Context, pr *PruneResult) (int, error) {
	s, err := e.scoped()
	if err != nil {
		return 0, err
	}
	return s.keyVersionFloor(ctx, pr.kept)
}

// keyVersionFloor is KeyVersionFloor of the trusted manifests kept.
func (e *Engine) keyVersionFloor(ctx context.Context, kept []*Manifest) (int, error) {
	defer e.Timings.Begin("key-version-floor")()
	floor := 0
	lower := func(v int) {
		if floor == 0 || v < floor {
			floor = v
		}
	}
	for _, m := range kept {
		v, err := vaultage.KeyVersion(m.Signature)
		if err != nil {
			return 0, fmt.Errorf("the signature of backup %s names no key version: %w", m.ID, err)
		}
		lower(v)
		for _, o := range m.Objects {
			v, err := e.objectKeyVersion(ctx, o.Name)
			if err != nil {
				return 0, fmt.Errorf("reading the key version of %s of backup %s: %w", o.Name, m.ID, err)
			}
			lower(v)
		}
	}
	return floor, nil
}

// objectKeyVersion reads the age header of object name and returns the key version that
// wrapped its file key.
func (e *Engine) objectKeyVersion(ctx context.Context, name string) (int, error) {
	rc, err := e.Dest.Get(ctx, name)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	probe := &headerProbe{}
	_, err = age.Decrypt(rc, probe)
	if !errors.Is(err, errProbed) {
		if err == nil {
			err = errors.New("the age header has no Vault transit stanza")
		}
		return 0, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	return probe.version, nil
}

// errProbed stops age.Decrypt once the header has been read.
var errProbed = errors.New("header read")

// headerProbe is an age.Identity that only looks at the stanzas: it records the key
// version of the Vault transit stanza and unwraps nothing.
type headerProbe struct{ version int }

func (p *headerProbe) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != vaultage.StanzaType {
			continue
		}
		v, err := vaultage.KeyVersion(string(s.Body))
		if err != nil {
			return nil, err
		}
		p.version = v
		return nil, errProbed
	}
	return nil, age.ErrIncorrectIdentity
}

var _ age.Identity = (*headerProbe)(nil)
