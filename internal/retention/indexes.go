package retention

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// ensureIndexes creates the profile's indexes that are missing, with CREATE INDEX
// CONCURRENTLY, which takes no lock that blocks the application's reads or writes. An
// index left invalid by an earlier, interrupted build is dropped and built again. A
// failure (no privilege, a lock timeout behind a long transaction) does not stop the
// run: the sweeps work without the indexes, only slower; the result says why.
func (r *runner) ensureIndexes(ctx context.Context) {
	for _, ix := range r.p.Indexes {
		created, err := ensureIndex(ctx, r.conn, ix, r.o)
		if err != nil {
			e := Classify(err, "creating index "+ix.Name)
			r.res.IndexWarning = e.Error()
			fmt.Fprintf(r.o.Log, "retention: %s; continuing without it\n", e)
			return
		}
		if created {
			r.res.IndexesCreated = append(r.res.IndexesCreated, ix.Name)
			fmt.Fprintf(r.o.Log, "retention: created index %s\n", ix.Name)
		}
	}
}

func ensureIndex(ctx context.Context, conn *pgx.Conn, ix appprofile.Index, o Options) (bool, error) {
	var valid *bool
	err := conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, pgx.Identifier{ix.Name}.Sanitize()).Scan(&valid)
	switch {
	case err == nil && valid != nil && *valid:
		return false, nil
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return false, err
	}
	// The build may wait for the application's transactions; it is bounded like a
	// batch's locks, and by the index timeout as a whole.
	if _, err := conn.Exec(ctx, `SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`,
		strconv.FormatInt(o.LockTimeout.Milliseconds(), 10)+"ms", strconv.FormatInt(o.IndexTimeout.Milliseconds(), 10)+"ms"); err != nil {
		return false, err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `RESET lock_timeout; RESET statement_timeout`) }()
	name := pgx.Identifier{ix.Name}.Sanitize()
	if valid != nil {
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+name); err != nil {
			return false, err
		}
	}
	cols := make([]string, len(ix.Columns))
	for i, c := range ix.Columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	if _, err := conn.Exec(ctx, `CREATE INDEX CONCURRENTLY IF NOT EXISTS `+name+` ON `+pgx.Identifier{ix.Table}.Sanitize()+` (`+strings.Join(cols, ", ")+`)`); err != nil {
		// An interrupted build leaves an invalid index behind; the next run rebuilds it.
		return false, err
	}
	return true, nil
}
