package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// RestoreResult is what a restore did.
type RestoreResult struct {
	ID          string           `json:"id"`
	Duration    time.Duration    `json:"durationNs"`
	Size        int64            `json:"size"`
	Attachments *AttachmentStats `json:"attachments,omitempty"`
	// IgnoredManifests counts untrusted manifests passed over when resolving "latest".
	IgnoredManifests int `json:"ignoredManifests,omitempty"`
}

// Restore restores backup id ("latest" or "" for the newest trusted one) into e.DB, which
// must be an empty database, and e.AttachmentsDir, which must be missing or empty. Every
// object is first read whole and checked (size, SHA-256, and every age authentication tag);
// only then is the target touched. While restoring, each object is checked again, and the
// end of its stream is held back until that check passed (see holdback), so data that does
// not match the manifest is never committed: pg_restore runs in one transaction that rolls
// back, and a failed unpack empties the folder again.
func (e *Engine) Restore(ctx context.Context, id string) (*RestoreResult, error) {
	e, err := e.scoped()
	if err != nil {
		return nil, err
	}
	if err := e.checkDB(); err != nil {
		return nil, err
	}
	start := e.now()
	end := e.Timings.Begin("catalog")
	m, ignored, err := e.trustedManifest(ctx, id)
	end()
	if err != nil {
		return nil, err
	}
	end = e.Timings.Begin("target-check")
	conn, err := e.DB.connect(ctx)
	if err != nil {
		return nil, err
	}
	err = checkEmpty(ctx, conn, e.DB.Name)
	conn.Close(context.WithoutCancel(ctx))
	end()
	if err != nil {
		return nil, err
	}
	if e.AttachmentsDir != "" {
		if err := checkEmptyDir(e.AttachmentsDir); err != nil {
			return nil, err
		}
	}
	end = e.Timings.Begin("check-objects")
	err = e.checkObjects(ctx, m)
	end()
	if err != nil {
		return nil, fmt.Errorf("restore of backup %s refused, the target was not touched: %w", m.ID, err)
	}
	res := &RestoreResult{ID: m.ID, Size: m.Size(), IgnoredManifests: ignored}
	stats, err := e.restoreObjects(ctx, m, e.DB, e.AttachmentsDir)
	if err != nil {
		return nil, fmt.Errorf("restoring backup %s: %w", m.ID, err)
	}
	res.Attachments = stats
	res.Duration = e.now().Sub(start)
	return res, nil
}

// checkObjects reads every object to its end: size and SHA-256 against the manifest, and
// full age decryption to io.Discard so every segment's authentication tag is checked.
func (e *Engine) checkObjects(ctx context.Context, m *Manifest) error {
	if len(m.Objects) == 0 {
		return fmt.Errorf("%w: the manifest of backup %s lists no objects", ErrIntegrity, m.ID)
	}
	for _, obj := range m.Objects {
		if err := e.open(ctx, obj, true, func(io.Reader) error { return nil }); err != nil {
			return err
		}
	}
	return nil
}

// restoreObjects streams each object into its target: the attachments archive into dir
// ("" only counts them), then the dump into pg_restore. That order keeps a failure from
// leaving anything behind: unpacked files are removed again, and pg_restore's single
// transaction rolls back.
func (e *Engine) restoreObjects(ctx context.Context, m *Manifest, db Database, dir string) (*AttachmentStats, error) {
	var stats *AttachmentStats
	var database *ObjectEntry
	undo := func() {}
	for i, obj := range m.Objects {
		switch obj.Kind {
		case "database":
			database = &m.Objects[i]
		case "attachments":
			if dir != "" {
				if err := os.MkdirAll(dir, 0o750); err != nil {
					return nil, fmt.Errorf("creating attachments folder: %w", err)
				}
				undo = func() { emptyDir(dir) }
			}
			end := e.Timings.Begin("attachments-restore")
			err := e.open(ctx, obj, false, func(r io.Reader) error {
				st, err := extractTar(ctx, r, dir)
				stats = &st
				return err
			})
			end()
			if err != nil {
				undo()
				return nil, fmt.Errorf("unpacking attachments (the folder was emptied again): %w", err)
			}
		default:
			undo()
			return nil, fmt.Errorf("backup %s lists object %s of unknown kind %q: upgrade the operator", m.ID, obj.Name, obj.Kind)
		}
	}
	if database == nil {
		// The signed manifest names the database it dumped; a backup that left the
		// database out names none.
		if m.Postgres.Database == "" {
			return stats, nil
		}
		undo()
		return nil, fmt.Errorf("%w: backup %s has no database object", ErrIntegrity, m.ID)
	}
	end := e.Timings.Begin("pg_restore")
	err := e.open(ctx, *database, false, func(r io.Reader) error {
		// --single-transaction: a failure rolls everything back, leaving the database empty.
		// Owners and grants are the target's, not the source's: a clone may use other roles.
		cmd := exec.CommandContext(ctx, db.tool("pg_restore"), "--single-transaction", "--exit-on-error",
			"--no-owner", "--no-privileges", "--no-password", "--dbname="+db.Name)
		cmd.Env = db.env()
		cmd.Stdin = &killOnReadError{r: r, cmd: cmd}
		return runTool(ctx, cmd, "pg_restore", e.ToolOutput)
	})
	end()
	if err != nil {
		undo()
		return nil, fmt.Errorf("restoring the database (rolled back; attachments removed again): %w", err)
	}
	return stats, nil
}
