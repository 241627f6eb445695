package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// Result is what a backup did; the CLI prints it as one JSON line for the controller.
type Result struct {
	ID         string        `json:"id"`
	Size       int64         `json:"size"` // stored bytes of all data objects
	PlainSize  int64         `json:"plainSize"`
	Duration   time.Duration `json:"durationNs"`
	Objects    []ObjectEntry `json:"objects"`
	KeyVersion int           `json:"keyVersion"`
}

// Backup makes one backup: attachments and database objects first, manifest last.
// Vault and the destination are checked before any data is read, so an outage of either
// fails the backup without running pg_dump.
func (e *Engine) Backup(ctx context.Context) (*Result, error) {
	e, err := e.scoped()
	if err != nil {
		return nil, err
	}
	if err := e.checkDB(); err != nil && !e.SkipDatabase {
		return nil, err
	}
	start := e.now()
	end := e.Timings.Begin("vault-probe")
	keyVersion, err := e.Transit.Probe(ctx)
	end()
	if err != nil {
		return nil, fmt.Errorf("backup aborted before reading any data: %w", err)
	}
	end = e.Timings.Begin("destination-check")
	_, err = e.Dest.List(ctx, manifestDir)
	end()
	if err != nil {
		return nil, fmt.Errorf("backup aborted before reading any data: the destination is not usable: %w", err)
	}
	id := NewID(start)
	m := &Manifest{
		Format:     ManifestFormat,
		ID:         id,
		Instance:   e.Instance,
		AppVersion: e.AppVersion,
		StartedAt:  start.UTC(),
		Encryption: Encryption{Scheme: scheme, TransitMount: e.Transit.Mount, KeyName: e.Transit.Key, KeyVersion: keyVersion},
	}
	if e.AttachmentsDir != "" {
		var stats AttachmentStats
		obj, version, err := e.seal(ctx, dataName(id, filesName), "attachments", func(w io.Writer) error {
			var err error
			stats, err = writeTar(ctx, e.AttachmentsDir, w)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("backing up attachments: %w", err)
		}
		m.Objects = append(m.Objects, obj)
		m.Attachments = &stats
		m.Encryption.KeyVersion = version
	}
	if !e.SkipDatabase {
		obj, version, err := e.dumpDatabase(ctx, id, &m.Postgres)
		if err != nil {
			return nil, fmt.Errorf("backing up database %q: %w", e.DB.Name, err)
		}
		m.Objects = append(m.Objects, obj)
		// The file keys of one backup are wrapped moments apart; should a rotation fall in
		// between, the newest version is recorded (transit unwraps each object by its own header).
		m.Encryption.KeyVersion = max(m.Encryption.KeyVersion, version)
	}
	if len(m.Objects) == 0 {
		return nil, errors.New("nothing to back up: the database is left out and no attachments folder is set")
	}
	m.FinishedAt = e.now().UTC()
	m.SignatureScheme = SignatureScheme
	digest, err := m.signedDigest()
	if err != nil {
		return nil, err
	}
	end = e.Timings.Begin("manifest-sign")
	m.Signature, err = e.Transit.Sign(ctx, digest)
	end()
	if err != nil {
		return nil, fmt.Errorf("signing the manifest of backup %s (its data objects are orphans that retention will delete): %w", id, err)
	}
	end = e.Timings.Begin("manifest-write")
	err = putJSON(ctx, e.Dest, manifestName(id), m)
	end()
	if err != nil {
		return nil, fmt.Errorf("writing the manifest of backup %s (its data objects are orphans that retention will delete): %w", id, err)
	}
	res := &Result{ID: id, Duration: m.FinishedAt.Sub(start), Objects: m.Objects, KeyVersion: m.Encryption.KeyVersion}
	for _, o := range m.Objects {
		res.Size += o.Size
		res.PlainSize += o.PlainSize
	}
	return res, nil
}

// dumpDatabase exports a REPEATABLE READ snapshot, runs pg_dump in it, and counts every
// table's rows in the same snapshot while the dump streams, so the counts match the dump.
func (e *Engine) dumpDatabase(ctx context.Context, id string, info *PostgresInfo) (ObjectEntry, int, error) {
	endSnapshot := e.Timings.Begin("db-snapshot")
	conn, err := e.DB.connect(ctx)
	if err != nil {
		return ObjectEntry{}, 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return ObjectEntry{}, 0, dbFailure("starting the snapshot transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// pgx's Begin uses the default isolation; set the snapshot's before its first query.
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		return ObjectEntry{}, 0, dbFailure("starting the snapshot transaction", err)
	}
	// The counts only need to finish before pg_dump, which reads every row anyway: one
	// process each, without parallel workers or JIT compilation, so they take as little as
	// possible from the server (and from the dump) rather than finishing early.
	for _, setting := range []string{"SET LOCAL max_parallel_workers_per_gather = 0", "SET LOCAL jit = off"} {
		if _, err := tx.Exec(ctx, setting); err != nil {
			return ObjectEntry{}, 0, dbFailure("starting the snapshot transaction", err)
		}
	}
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot(), current_setting('server_version')").Scan(&snapshot, &info.ServerVersion); err != nil {
		return ObjectEntry{}, 0, dbFailure("exporting a snapshot", err)
	}
	info.Database = e.DB.Name
	endSnapshot()
	countsc := make(chan error, 1)
	obj, version, err := e.seal(ctx, dataName(id, databaseName), "database", func(w io.Writer) error {
		cmd := exec.CommandContext(ctx, e.DB.tool("pg_dump"), "--format=custom", "--compress=0",
			"--snapshot="+snapshot, "--no-password")
		cmd.Env = e.DB.env()
		// The counts run on our connection while pg_dump reads through its own; a failed
		// dump stops them rather than waiting for a long count(*).
		countCtx, stopCounts := context.WithCancel(ctx)
		defer stopCounts()
		go func() {
			defer e.Timings.Begin("row-counts")()
			var err error
			info.Tables, err = countRows(countCtx, conn)
			countsc <- err
		}()
		endDump := e.Timings.Begin("pg_dump")
		runErr := runToolInto(ctx, cmd, "pg_dump", e.ToolOutput, w)
		endDump()
		if runErr != nil {
			stopCounts()
		}
		countErr := <-countsc
		if runErr != nil {
			return runErr
		}
		return countErr
	})
	if err != nil {
		return ObjectEntry{}, 0, err
	}
	return obj, version, nil
}
