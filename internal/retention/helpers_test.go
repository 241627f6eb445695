package retention

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/retention/internal/helpydata"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

var (
	pgSrv *postgres.Server
	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		srv, stop, err := postgres.StartMain()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stop()
		pgSrv = srv
		return m.Run()
	}())
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture is a fresh database holding Helpy's schema and the data set, and its
// attachments volume.
type fixture struct {
	conn *pgx.Conn
	db   string
	dir  string
	data *helpydata.Data
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := testCtx(t)
	db := fmt.Sprintf("helpy_%d", dbSeq.Add(1))
	pgSrv.CreateDatabase(t, db)
	conn := connect(t, db)
	if err := helpydata.CreateSchema(ctx, conn); err != nil {
		t.Fatalf("creating Helpy's schema: %v", err)
	}
	f := &fixture{conn: conn, db: db, dir: t.TempDir(), data: helpydata.Generate()}
	if err := helpydata.Load(ctx, conn, f.data, f.dir); err != nil {
		t.Fatalf("loading the data set: %v", err)
	}
	return f
}

func connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, pgSrv.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func helpyProfile(t *testing.T) appprofile.Retention {
	t.Helper()
	p, err := appprofile.RetentionFor(v1alpha1.AppProfileHelpy)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs rules on f with the data set's clock and no grace for orphans.
func (f *fixture) run(t *testing.T, o Options, rules ...Rule) *Result {
	t.Helper()
	o.Rules, o.AttachmentsDir, o.Now = rules, f.dir, helpydata.Now
	if o.OrphanGrace == 0 {
		o.OrphanGrace = time.Nanosecond
	}
	return Run(testCtx(t), f.conn, helpyProfile(t), o)
}

func (f *fixture) snapshot(t *testing.T, except map[string][]string) helpydata.Snapshot {
	t.Helper()
	s, err := helpydata.Take(testCtx(t), f.conn, except)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) files(t *testing.T) map[string]string {
	t.Helper()
	files, err := helpydata.Files(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// state is everything a run could change: every row's digest and every file.
type state struct {
	rows  helpydata.Snapshot
	files map[string]string
}

func (f *fixture) state(t *testing.T) state {
	return state{rows: f.snapshot(t, nil), files: f.files(t)}
}

// assertUnchanged fails unless no row and no file differs from before.
func (f *fixture) assertUnchanged(t *testing.T, before state, what string) {
	t.Helper()
	after := f.state(t)
	if d := helpydata.Diff(before.rows, after.rows); len(d) > 0 {
		t.Errorf("%s changed rows: %+v", what, d)
	}
	if m := helpydata.Missing(before.files, after.files); len(m) > 0 || len(after.files) != len(before.files) {
		t.Errorf("%s changed files: missing %v (before %d files, after %d)", what, m, len(before.files), len(after.files))
	}
}

// assertChanges fails unless exactly the rows and files of want changed, and updated
// rows changed only in the columns want allows.
func (f *fixture) assertChanges(t *testing.T, before state, beforeMasked helpydata.Snapshot, want *helpydata.Expect) {
	t.Helper()
	after := f.state(t)
	got := helpydata.Diff(before.rows, after.rows)
	for _, table := range helpydata.Tables {
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
	afterMasked := f.snapshot(t, want.MayChange)
	for table, ids := range want.Updated {
		for _, id := range ids {
			if beforeMasked[table][id] != afterMasked[table][id] {
				t.Errorf("%s %d: columns other than %v changed", table, id, want.MayChange[table])
			}
		}
	}
	if missing := helpydata.Missing(before.files, after.files); !slices.Equal(missing, want.Files) {
		t.Errorf("files removed: %v, want %v", missing, want.Files)
	}
	if len(after.files) != len(before.files)-len(want.Files) {
		t.Errorf("%d files left, want %d", len(after.files), len(before.files)-len(want.Files))
	}
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func cutoff(age time.Duration) time.Time { return helpydata.Now.Add(-age) }

func mustSucceed(t *testing.T, res *Result) {
	t.Helper()
	if res.Result != Succeeded {
		t.Fatalf("run failed: %s: %s", res.Reason, res.Error)
	}
}
