package retention

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Defaults of Options.
const (
	DefaultBatchSize        = 500
	DefaultLockTimeout      = 2 * time.Second
	DefaultStatementTimeout = time.Minute
	DefaultOrphanGrace      = time.Hour
	DefaultIndexTimeout     = 30 * time.Minute
	// retries of a batch that failed on a lock timeout, deadlock or serialization
	// failure, which the application's own traffic causes now and then.
	batchAttempts = 3
)

// Options of a retention run.
type Options struct {
	Rules []Rule
	// DryRun and LegalHold both run every batch and roll it back: nothing changes, no
	// file is removed, and the counts are what a real run would do.
	DryRun    bool
	LegalHold bool
	// BatchSize is the most records one batch (one transaction) acts on.
	BatchSize int
	// LockTimeout and StatementTimeout are set for every batch transaction (SET LOCAL).
	LockTimeout      time.Duration
	StatementTimeout time.Duration
	// AttachmentsDir is the root of the attachments volume.
	AttachmentsDir string
	// OrphanGrace is how old an orphan folder must be before it is removed, so that a
	// file the application is storing in a transaction not yet committed is not taken
	// for an orphan.
	OrphanGrace time.Duration
	// NoIndexes leaves the profile's indexes alone (they are never created by dry runs
	// and legal holds either); IndexTimeout bounds building one.
	NoIndexes    bool
	IndexTimeout time.Duration
	// Now is the time ages count from.
	Now time.Time
	// Log receives one progress line per batch and rule, without data.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = DefaultStatementTimeout
	}
	if o.IndexTimeout <= 0 {
		o.IndexTimeout = DefaultIndexTimeout
	}
	if o.OrphanGrace < 0 {
		o.OrphanGrace = 0
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Run runs the rules on the database behind conn. It always returns a result; a failed
// run has Result Failed and a Reason, with every batch before the failure committed.
func Run(ctx context.Context, conn *pgx.Conn, profile appprofile.Retention, opts Options) *Result {
	o := opts.withDefaults()
	started := time.Now()
	res := &Result{Result: Succeeded, DryRun: o.DryRun, LegalHold: o.LegalHold, StartTime: started.UTC(),
		Affected: map[string]int64{}, Rules: []RuleResult{}}
	switch {
	case o.LegalHold:
		res.Note = "legal hold: nothing was deleted or anonymized; the counts are what the rules would have done"
	case o.DryRun:
		res.Note = "dry run: nothing was changed; the counts are what the rules would have done"
	}
	r := &runner{conn: conn, p: profile, o: o, res: res, seen: seen{}, counted: map[string]bool{}}
	if err := r.run(ctx); err != nil {
		e := Classify(err, "retention")
		res.Result, res.Reason, res.Error = Failed, e.Reason, e.Message
		fmt.Fprintf(o.Log, "retention: failed: %s\n", e)
	}
	res.CompletionTime = time.Now().UTC()
	res.DurationSeconds = time.Since(started).Seconds()
	return res
}

type runner struct {
	conn    *pgx.Conn
	p       appprofile.Retention
	o       Options
	res     *Result
	folders *Folders
	// seen and counted keep a non-destructive run from counting twice what a real run
	// would remove once.
	seen    seen
	counted map[string]bool
}

// destructive is false for dry runs and legal holds: then no transaction commits and
// no file is removed.
func (r *runner) destructive() bool { return !r.o.DryRun && !r.o.LegalHold }

func (r *runner) run(ctx context.Context) error {
	if err := CheckRules(r.o.Rules, r.p); err != nil {
		return err
	}
	if r.o.AttachmentsDir == "" {
		return Errorf(ReasonInvalidConfiguration, "no attachments folder: retention removes attachment files with their records, so the attachments volume must be mounted and named")
	}
	folders, err := OpenFolders(r.o.AttachmentsDir)
	if err != nil {
		return err
	}
	defer folders.Close()
	r.folders = folders
	if r.destructive() && !r.o.NoIndexes {
		r.ensureIndexes(ctx)
	}
	if r.res.OrphanFiles, err = r.sweepOrphans(ctx); err != nil {
		return err
	}
	for _, rule := range ordered(r.o.Rules, r.p) {
		if err := r.rule(ctx, rule); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) rule(ctx context.Context, rule Rule) error {
	cutoff := r.o.Now.Add(-rule.OlderThan).UTC()
	r.res.Rules = append(r.res.Rules, RuleResult{DataClass: rule.Class, Action: rule.Action, OlderThan: rule.OlderThan.String(),
		Cutoff: cutoff, Sweeps: map[string]int64{}, Rows: map[string]int64{}})
	rr := &r.res.Rules[len(r.res.Rules)-1]
	for _, sw := range r.p.Classes[rule.Class].Actions[rule.Action].Sweeps {
		if err := r.sweep(ctx, rule, rr, sw, cutoff); err != nil {
			// The batches before the failure are committed: they count.
			r.res.Affected[string(rule.Class)] = rr.Records
			return err
		}
	}
	rr.Completed = true
	r.res.Affected[string(rule.Class)] = rr.Records
	fmt.Fprintf(r.o.Log, "retention: %s:%s: %d records, %d files, %d batches\n", rule.Class, rule.Action, rr.Records, rr.Files, rr.Batches)
	return nil
}

// sweep runs batches until the candidates are exhausted. Batches follow the primary key
// (each starts after the last id of the one before), so every record is looked at once
// per run even when the action leaves it in place.
func (r *runner) sweep(ctx context.Context, rule Rule, rr *RuleResult, sw appprofile.Sweep, cutoff time.Time) error {
	var after int64
	for n := 1; ; n++ {
		step := fmt.Sprintf("%s:%s batch %d (%s)", rule.Class, rule.Action, n, sw.Records)
		var out batchOutcome
		err := retry(ctx, r.o.Log, step, func() error {
			var err error
			out, err = r.batch(ctx, rule, sw, cutoff, after, step)
			return err
		})
		if err != nil {
			return Classify(err, step)
		}
		if out.selected == 0 {
			return nil
		}
		rr.Batches++
		rr.Records += out.records
		rr.Sweeps[sw.Records] += out.records
		for t, c := range out.rows {
			rr.Rows[t] += c
		}
		rr.Files += out.files
		ms := out.held.Milliseconds()
		rr.MaxBatchMillis = max(rr.MaxBatchMillis, ms)
		r.res.MaxBatchMillis = max(r.res.MaxBatchMillis, ms)
		if r.destructive() && out.records > 0 {
			r.res.Changed = true
		}
		fmt.Fprintf(r.o.Log, "retention: %s: %d records in %d ms\n", step, out.records, ms)
		if out.selected < r.o.BatchSize {
			return nil
		}
		after = out.last
	}
}

// retry runs fn again after a retryable failure (lock timeout, deadlock), with a pause.
func retry(ctx context.Context, log io.Writer, step string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		e := Classify(err, step)
		if err == nil || !e.Retryable || attempt == batchAttempts {
			return err
		}
		fmt.Fprintf(log, "retention: %s: %s; retrying\n", step, e.Reason)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
}

// SetTimeouts sets lock_timeout and statement_timeout for the rest of tx only.
func SetTimeouts(ctx context.Context, tx pgx.Tx, lock, statement time.Duration) error {
	_, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`,
		strconv.FormatInt(lock.Milliseconds(), 10)+"ms", strconv.FormatInt(statement.Milliseconds(), 10)+"ms")
	return err
}
