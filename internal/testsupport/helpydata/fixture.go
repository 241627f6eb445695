package helpydata

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

var dbSeq atomic.Int64

// Fixture is a fresh database on a test server holding Helpy's schema and the data
// set, and its attachments volume.
type Fixture struct {
	Srv  *postgres.Server
	Conn *pgx.Conn
	DB   string
	Dir  string
	Data *Data
}

// Ctx is a context for one test step.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// NewFixture creates the database and the volume; both go when the test ends.
func NewFixture(t testing.TB, srv *postgres.Server) *Fixture {
	t.Helper()
	db := fmt.Sprintf("helpy_%d", dbSeq.Add(1))
	srv.CreateDatabase(t, db)
	f := &Fixture{Srv: srv, DB: db, Dir: t.TempDir(), Data: Generate()}
	f.Conn = f.Connect(t)
	if err := CreateSchema(Ctx(t), f.Conn); err != nil {
		t.Fatalf("creating Helpy's schema: %v", err)
	}
	if err := Load(Ctx(t), f.Conn, f.Data, f.Dir); err != nil {
		t.Fatalf("loading the data set: %v", err)
	}
	return f
}

// Connect opens another connection to the fixture's database (the application's, say).
func (f *Fixture) Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(Ctx(t), f.Srv.DSN(f.DB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs sql, failing the test on an error.
func (f *Fixture) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := f.Conn.Exec(Ctx(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Snapshot digests every row; see Take.
func (f *Fixture) Snapshot(t testing.TB, except map[string][]string) Snapshot {
	t.Helper()
	s, err := Take(Ctx(t), f.Conn, except)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Files digests every file of the volume.
func (f *Fixture) Files(t testing.TB) map[string]string {
	t.Helper()
	files, err := Files(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// State is everything a run could change: every row's digest and every file.
type State struct {
	Rows  Snapshot
	Files map[string]string
}

// State takes the fixture's State.
func (f *Fixture) State(t testing.TB) State {
	return State{Rows: f.Snapshot(t, nil), Files: f.Files(t)}
}

// AssertUnchanged fails unless no row and no file differs from before.
func (f *Fixture) AssertUnchanged(t testing.TB, before State, what string) {
	t.Helper()
	after := f.State(t)
	if d := Diff(before.Rows, after.Rows); len(d) > 0 {
		t.Errorf("%s changed rows: %+v", what, d)
	}
	if m := Missing(before.Files, after.Files); len(m) > 0 || len(after.Files) != len(before.Files) {
		t.Errorf("%s changed files: missing %v (before %d files, after %d)", what, m, len(before.Files), len(after.Files))
	}
}

// AssertChanges fails unless exactly the rows and files of want changed, and updated
// rows changed only in the columns want allows. beforeMasked is a Snapshot taken with
// want.MayChange left out.
func (f *Fixture) AssertChanges(t testing.TB, before State, beforeMasked Snapshot, want *Expect) {
	t.Helper()
	after := f.State(t)
	got := Diff(before.Rows, after.Rows)
	for _, table := range Tables {
		c := got[table]
		if len(c.Inserted) > 0 {
			t.Errorf("%s: rows inserted: %v", table, c.Inserted)
		}
		if !slices.Equal(c.Deleted, want.Deleted[table]) {
			t.Errorf("%s: deleted %v, want %v", table, c.Deleted, want.Deleted[table])
		}
		if !slices.Equal(c.Updated, want.Updated[table]) {
			t.Errorf("%s: updated %v, want %v", table, c.Updated, want.Updated[table])
		}
	}
	afterMasked := f.Snapshot(t, want.MayChange)
	for table, ids := range want.Updated {
		for _, id := range ids {
			if beforeMasked[table][id] != afterMasked[table][id] {
				t.Errorf("%s %d: columns other than %v changed", table, id, want.MayChange[table])
			}
		}
	}
	for table, cond := range want.Holds {
		var bad []int64
		rows, err := f.Conn.Query(Ctx(t), `SELECT id::bigint FROM `+pgx.Identifier{table}.Sanitize()+` WHERE id = ANY($1) AND NOT (`+cond+`)`, want.Updated[table])
		if err == nil {
			bad, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil || len(bad) > 0 {
			t.Errorf("%s %v do not meet %s (%v)", table, bad, cond, err)
		}
	}
	if missing := Missing(before.Files, after.Files); !slices.Equal(missing, want.Files) {
		t.Errorf("files removed: %v, want %v", missing, want.Files)
	}
	if len(after.Files) != len(before.Files)-len(want.Files) {
		t.Errorf("%d files left, want %d", len(after.Files), len(before.Files)-len(want.Files))
	}
}
