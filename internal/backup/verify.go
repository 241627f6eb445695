package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
)

// DrillResult is the outcome of a restore drill, stored as drills/<id>.json in the
// instance's folder so retention can keep the newest backup proven to restore.
type DrillResult struct {
	ID     string    `json:"id"`
	Passed bool      `json:"passed"`
	At     time.Time `json:"at"`
	// RestoreDuration is how long downloading, checking and restoring took.
	RestoreDuration time.Duration `json:"restoreDurationNs"`
	// Mismatches lists tables whose row counts differ from the manifest, and attachment
	// count differences; Error is why the drill failed otherwise.
	Mismatches []string `json:"mismatches,omitempty"`
	Error      string   `json:"error,omitempty"`
	// IgnoredManifests counts untrusted manifests passed over when resolving "latest";
	// not stored.
	IgnoredManifests int `json:"-"`
}

// Verify runs a restore drill of backup id ("latest" or "" for the newest trusted one): it
// restores the database into a throwaway PostgreSQL server it runs in e.ScratchDir (see
// scratch.go), unpacks the attachments only to count them, compares row counts per table
// and attachment counts with the manifest, and records the result with the backup. It
// needs no database settings. The returned error is nil when the drill could run, whether
// or not it passed; see DrillResult.Passed.
func (e *Engine) Verify(ctx context.Context, id string) (*DrillResult, error) {
	e, err := e.scoped()
	if err != nil {
		return nil, err
	}
	if e.ScratchDir == "" {
		return nil, errors.New("no scratch folder for the drill's PostgreSQL server: set --scratch-dir (an emptyDir)")
	}
	m, ignored, err := e.trustedManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	res := &DrillResult{ID: m.ID, At: e.now().UTC(), IgnoredManifests: ignored}
	start := time.Now()
	mismatches, drillErr := e.drill(ctx, m)
	res.RestoreDuration = time.Since(start)
	res.Mismatches = mismatches
	res.Passed = drillErr == nil && len(mismatches) == 0
	if drillErr != nil {
		if ctx.Err() != nil {
			return nil, drillErr
		}
		res.Error = drillErr.Error()
	}
	if err := putJSON(ctx, e.Dest, drillName(m.ID), res); err != nil {
		return res, fmt.Errorf("recording the drill result of backup %s: %w", m.ID, err)
	}
	return res, nil
}

func (e *Engine) drill(ctx context.Context, m *Manifest) ([]string, error) {
	// Checked before a server is started: a damaged backup fails the drill cheaply.
	if err := e.checkObjects(ctx, m); err != nil {
		return nil, err
	}
	srv, err := startScratch(ctx, e.ScratchDir, e.DB.BinDir, e.ToolOutput)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	db := srv.database()
	stats, err := e.restoreObjects(ctx, m, db, "")
	if err != nil {
		return nil, err
	}
	conn, err := db.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, dbFailure("counting the restored rows", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	got, err := countRows(ctx, conn)
	if err != nil {
		return nil, err
	}
	mismatches := compareCounts(m.Postgres.Tables, got)
	if m.Attachments != nil {
		if stats == nil {
			mismatches = append(mismatches, "attachments: the manifest lists attachments but the backup has no attachments object")
		} else if stats.Files != m.Attachments.Files || stats.Bytes != m.Attachments.Bytes {
			mismatches = append(mismatches, fmt.Sprintf("attachments: restored %d files (%d bytes), manifest says %d files (%d bytes)",
				stats.Files, stats.Bytes, m.Attachments.Files, m.Attachments.Bytes))
		}
	}
	return mismatches, nil
}

func compareCounts(want, got map[string]int64) []string {
	var out []string
	for t, w := range want {
		g, ok := got[t]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("table %s: missing after restore (manifest: %d rows)", t, w))
		case g != w:
			out = append(out, fmt.Sprintf("table %s: %d rows restored, manifest says %d", t, g, w))
		}
	}
	for t, g := range got {
		if _, ok := want[t]; !ok {
			out = append(out, fmt.Sprintf("table %s: restored (%d rows) but not in the manifest", t, g))
		}
	}
	sort.Strings(out)
	return out
}

// readDrill loads the recorded drill result of backup id; (nil, nil) when it has none or
// the record is not about that backup.
func readDrill(ctx context.Context, d dest.Destination, id string) (*DrillResult, error) {
	var r DrillResult
	if err := getJSON(ctx, d, drillName(id), &r); err != nil {
		if errors.Is(err, dest.ErrNotExist) || errors.Is(err, errNotJSON) {
			return nil, nil
		}
		return nil, err
	}
	if r.ID != id {
		return nil, nil
	}
	return &r, nil
}
