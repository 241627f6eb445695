package retention

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/helpydata"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

var pgSrv *postgres.Server

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

func testCtx(t testing.TB) context.Context { return helpydata.Ctx(t) }

// fixture is a fresh database holding Helpy's schema and the data set, and its
// attachments volume.
type fixture struct {
	*helpydata.Fixture
	conn *pgx.Conn
	db   string
	dir  string
	data *helpydata.Data
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := helpydata.NewFixture(t, pgSrv)
	return &fixture{Fixture: f, conn: f.Conn, db: f.DB, dir: f.Dir, data: f.Data}
}

func connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testCtx(t), pgSrv.DSN(db))
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
	return f.Snapshot(t, except)
}

func (f *fixture) files(t *testing.T) map[string]string { return f.Files(t) }

func (f *fixture) state(t *testing.T) helpydata.State { return f.State(t) }

func (f *fixture) assertUnchanged(t *testing.T, before helpydata.State, what string) {
	t.Helper()
	f.AssertUnchanged(t, before, what)
}

func (f *fixture) assertChanges(t *testing.T, before helpydata.State, beforeMasked helpydata.Snapshot, want *helpydata.Expect) {
	t.Helper()
	f.AssertChanges(t, before, beforeMasked, want)
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func cutoff(age time.Duration) time.Time { return helpydata.Now.Add(-age) }

func mustSucceed(t *testing.T, res *Result) {
	t.Helper()
	if res.Result != Succeeded {
		t.Fatalf("run failed: %s: %s", res.Reason, res.Error)
	}
}
