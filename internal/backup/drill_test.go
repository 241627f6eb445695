package backup

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/backup/retention"
)

func scratchExists(t *testing.T, id string) bool {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, pgSrv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", scratchName(id)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestVerifyDrill(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	e := newEngine(t, d, src, seedAttachments(t))
	res, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	drill, err := e.Verify(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if !drill.Passed || drill.ID != res.ID || drill.RestoreDuration <= 0 || len(drill.Mismatches) != 0 {
		t.Fatalf("drill %+v", drill)
	}
	if scratchExists(t, res.ID) {
		t.Fatal("the drill left its scratch database behind")
	}
	recorded, err := readDrill(ctx, instanceDest(t, e), res.ID)
	if err != nil || recorded == nil || !recorded.Passed {
		t.Fatalf("recorded drill: %+v, %v", recorded, err)
	}

	// A manifest whose count disagrees with what restores: the drill must notice.
	rewriteManifest(t, e, res.ID, e.Transit, func(m *Manifest) { m.Postgres.Tables["public.tickets"] = 4001 })
	drill, err = e.Verify(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if drill.Passed || len(drill.Mismatches) != 1 || !strings.Contains(drill.Mismatches[0], "public.tickets: 4000 rows restored, manifest says 4001") {
		t.Fatalf("drill of a mismatching backup: %+v", drill)
	}
	if recorded, _ := readDrill(ctx, instanceDest(t, e), res.ID); recorded == nil || recorded.Passed {
		t.Fatalf("recorded failed drill: %+v", recorded)
	}
}

func TestPruneKeepsTheNewestDrilledBackup(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	e := newEngine(t, d, src, "")
	// Four daily backups on a synthetic calendar.
	day := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 4 {
		now := day.Add(time.Duration(i) * 24 * time.Hour)
		e.Now = func() time.Time { return now }
		res, err := e.Backup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	if drill, err := e.Verify(ctx, ids[1]); err != nil || !drill.Passed {
		t.Fatalf("drill: %+v, %v", drill, err)
	}
	pr, err := e.Prune(ctx, retention.Policy{KeepLast: 1}, time.Hour, day.Add(4*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	left, _ := listedIDs(t, e)
	if len(left) != 2 || left[0] != ids[1] || left[1] != ids[3] {
		t.Fatalf("left %v after pruning (kept %+v); want the drilled %s and the newest %s", left, pr.Kept, ids[1], ids[3])
	}
	objs, _ := instanceDest(t, e).List(context.Background(), dataDir)
	for _, o := range objs {
		if strings.Contains(o.Name, ids[0]) || strings.Contains(o.Name, ids[2]) {
			t.Fatalf("data of a pruned backup left: %s", o.Name)
		}
	}
}
