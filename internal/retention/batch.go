package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// batchOutcome is what one batch did.
type batchOutcome struct {
	// selected candidates, and the last one's id (where the next batch starts).
	selected int
	last     int64
	// records acted on: the candidates minus, in a dry run, those an earlier rule took.
	records int64
	rows    map[string]int64
	files   int64
	// held is how long the transaction was open from its first lock to its end.
	held time.Duration
}

// batch selects and locks at most BatchSize candidates after id `after`, acts on them,
// and commits (or, when nothing may change, rolls back). Folders go after the commit.
func (r *runner) batch(ctx context.Context, rule Rule, sw appprofile.Sweep, cutoff time.Time, after int64, step string) (batchOutcome, error) {
	var out batchOutcome
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return out, err
	}
	// A no-op once committed; otherwise it ends a failed batch, also when ctx is done.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := SetTimeouts(ctx, tx, r.o.LockTimeout, r.o.StatementTimeout); err != nil {
		return out, err
	}
	began := time.Now()
	ids, err := selectIDs(ctx, tx, sw.Candidates, Params{"cutoff": cutoff, "after": after, "limit": r.o.BatchSize})
	if err != nil {
		return out, Classify(err, step+": selecting candidates")
	}
	if len(ids) == 0 {
		return out, nil
	}
	out.selected, out.last = len(ids), ids[len(ids)-1]
	if !r.destructive() {
		ids = r.seen.filter(sw.Table, rule.Action, ids)
	}
	var folders []string
	if len(ids) > 0 {
		folders, out.rows, err = DoWork(ctx, tx, r.p, sw.Work, Params{"ids": ids}, step)
		if err != nil {
			return out, err
		}
	}
	if r.destructive() {
		err = tx.Commit(ctx)
	} else {
		err = tx.Rollback(ctx)
	}
	out.held = time.Since(began)
	if err != nil {
		return out, Classify(err, step+": ending the transaction")
	}
	out.records = int64(len(ids))
	if !r.destructive() {
		r.seen.add(sw.Table, rule.Action, ids)
	}
	out.files, err = r.removeFolders(folders)
	if err != nil {
		// The rows are gone; their folders are orphans the next run removes.
		return out, Classify(err, step+": removing attachment folders after the commit")
	}
	return out, nil
}

func selectIDs(ctx context.Context, tx pgx.Tx, sql string, params Params) ([]int64, error) {
	rows, err := tx.Query(ctx, sql, params)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// DoWork runs w inside tx on params (which hold at least @ids): its expansions, then
// its statements. It returns the record folders to remove once tx committed, and the
// rows changed per table.
func DoWork(ctx context.Context, tx pgx.Tx, p appprofile.Retention, w appprofile.Work, params Params, step string) ([]string, map[string]int64, error) {
	for _, x := range w.Expansions {
		var ids []int64
		if err := tx.QueryRow(ctx, x.SQL, params).Scan(&ids); err != nil {
			return nil, nil, Classify(err, fmt.Sprintf("%s: collecting %s", step, x.Name))
		}
		params = params.with(x.Name, ids)
	}
	var folders []string
	for _, ref := range w.Files {
		set, ok := p.FileSet(ref.Set)
		if !ok {
			return nil, nil, Errorf(ReasonInvalidConfiguration, "%s: the app profile names an unknown file set %q", step, ref.Set)
		}
		ids, ok := params[ref.IDs].([]int64)
		if !ok {
			return nil, nil, Errorf(ReasonInvalidConfiguration, "%s: file set %q takes ids from %q, which is no id list of this step", step, ref.Set, ref.IDs)
		}
		for _, id := range ids {
			folders = append(folders, RecordDir(set, id))
		}
	}
	rows := map[string]int64{}
	for i, st := range w.Statements {
		tag, err := tx.Exec(ctx, st.SQL, params)
		if err != nil {
			return nil, nil, Classify(err, fmt.Sprintf("%s: statement %d (%s)", step, i+1, st.Table))
		}
		rows[st.Table] += tag.RowsAffected()
	}
	return folders, rows, nil
}

// removeFolders removes the folders of committed records, or, when nothing may change,
// counts their files once per run.
func (r *runner) removeFolders(folders []string) (int64, error) {
	var files int64
	for _, dir := range folders {
		if !r.destructive() {
			if r.counted[dir] {
				continue
			}
			r.counted[dir] = true
			n, err := r.folders.Count(dir)
			if err != nil {
				return files, err
			}
			files += n
			continue
		}
		n, err := r.folders.Remove(dir)
		files += n
		if err != nil {
			return files, err
		}
	}
	return files, nil
}

// orphanChunk is how many folder ids one liveness query checks.
const orphanChunk = 1000

// sweepOrphans removes record folders whose records no longer own files: left by a crash
// between a commit and the removal of its folders, or by the application deleting
// records without their files (Helpy's topic deletion does). Folders younger than
// OrphanGrace are left alone, as the application may be storing a file for a record its
// transaction has not committed yet. Nothing may change: it counts them instead.
func (r *runner) sweepOrphans(ctx context.Context) (int64, error) {
	var files int64
	for _, set := range r.p.FileSets {
		found, err := r.folders.recordFolders(set)
		if err != nil {
			return files, Classify(err, "listing "+set.Name+" folders")
		}
		for start := 0; start < len(found); start += orphanChunk {
			chunk := found[start:min(start+orphanChunk, len(found))]
			ids := make([]int64, len(chunk))
			for i, f := range chunk {
				ids[i] = f.id
			}
			rows, err := r.conn.Query(ctx, set.Live, Params{"ids": ids})
			if err != nil {
				return files, Classify(err, "checking "+set.Name+" folders")
			}
			live, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return files, Classify(err, "checking "+set.Name+" folders")
			}
			isLive := make(map[int64]bool, len(live))
			for _, id := range live {
				isLive[id] = true
			}
			var orphans []string
			for _, f := range chunk {
				if !isLive[f.id] && time.Since(f.modified) >= r.o.OrphanGrace {
					orphans = append(orphans, RecordDir(set, f.id))
				}
			}
			n, err := r.removeFolders(orphans)
			files += n
			if err != nil {
				return files, Classify(err, "removing orphan "+set.Name+" folders")
			}
		}
	}
	if files > 0 {
		fmt.Fprintf(r.o.Log, "retention: %d files in orphan folders\n", files)
	}
	return files, nil
}
