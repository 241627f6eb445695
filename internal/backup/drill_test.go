package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/backup/retention"
)

// processesIn lists the command lines of the processes that work in a folder below dir
// (PostgreSQL's processes all run in their data folder) or name one on their command line.
func processesIn(t *testing.T, dir string) []string {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range procs {
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		b, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.HasPrefix(cwd, dir) || strings.Contains(cmd, dir) {
			out = append(out, cmd)
		}
	}
	return out
}

// assertScratchGone checks that a drill stopped its server and removed its folder.
func assertScratchGone(t *testing.T, scratch string) {
	t.Helper()
	if procs := processesIn(t, scratch); len(procs) > 0 {
		t.Fatalf("the drill left processes running: %q", procs)
	}
	if entries, _ := os.ReadDir(scratch); len(entries) > 0 {
		t.Fatalf("the drill left %d entries in its scratch folder", len(entries))
	}
}

func databases(t *testing.T) map[string]bool {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, pgSrv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// TestVerifyDrill: a drill restores into its own throwaway server, with no database
// settings at all, and never creates anything on the production server.
func TestVerifyDrill(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	e := newEngine(t, d, src, seedAttachments(t))
	res, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := databases(t)
	drillEngine := *e
	drillEngine.DB = Database{BinDir: pgSrv.BinDir()} // no host, name, user or password
	drill, err := drillEngine.Verify(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if !drill.Passed || drill.ID != res.ID || drill.RestoreDuration <= 0 || len(drill.Mismatches) != 0 || drill.Error != "" {
		t.Fatalf("drill %+v", drill)
	}
	assertScratchGone(t, e.ScratchDir)
	if after := databases(t); len(after) != len(before) {
		t.Fatalf("the drill touched the production server: databases before %v, after %v", before, after)
	}
	recorded, err := readDrill(ctx, instanceDest(t, e), res.ID)
	if err != nil || recorded == nil || !recorded.Passed {
		t.Fatalf("recorded drill: %+v, %v", recorded, err)
	}

	// A manifest whose count disagrees with what restores: the drill must notice.
	rewriteManifest(t, e, res.ID, e.Transit, func(m *Manifest) { m.Postgres.Tables["public.tickets"] = 4001 })
	drill, err = drillEngine.Verify(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if drill.Passed || len(drill.Mismatches) != 1 || !strings.Contains(drill.Mismatches[0], "public.tickets: 4000 rows restored, manifest says 4001") {
		t.Fatalf("drill of a mismatching backup: %+v", drill)
	}
	if recorded, _ := readDrill(ctx, instanceDest(t, e), res.ID); recorded == nil || recorded.Passed {
		t.Fatalf("recorded failed drill: %+v", recorded)
	}
	assertScratchGone(t, e.ScratchDir)

	if _, err := (&Engine{Dest: d, Transit: e.Transit, Instance: e.Instance}).Verify(ctx, res.ID); err == nil || !strings.Contains(err.Error(), "scratch") {
		t.Fatalf("a drill without a scratch folder: %v", err)
	}
}

// TestCancelledDrillStopsItsServer: cancelling a drill mid-restore still stops the scratch
// server (its whole process group) and removes its folder.
func TestCancelledDrillStopsItsServer(t *testing.T) {
	src := seedDatabase(t, pgSrv)
	addRandomBytea(t, pgSrv, src, 48)
	e := newEngine(t, fsDest(t), src, "")
	if _, err := e.Backup(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	go func() {
		// Cancel once the server runs and pg_restore is busy.
		for ctx.Err() == nil {
			for _, p := range processesIn(t, e.ScratchDir) {
				if strings.Contains(p, "COPY") {
					time.Sleep(200 * time.Millisecond)
					cancel()
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	e.DB = Database{BinDir: pgSrv.BinDir()}
	_, err := e.Verify(ctx, "latest")
	if err == nil || ctx.Err() == nil {
		t.Fatalf("drill: %v; want it cancelled", err)
	}
	t.Logf("cancelled drill: %v", err)
	assertScratchGone(t, e.ScratchDir)
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

// TestDrillUserLookup: initdb needs its user in the user database. For a UID that is not
// there (a pod's runAsUser in an image without that user), the drill provides it through
// nss_wrapper, and without nss_wrapper says what the image lacks. As root, the drill runs
// its server as the scratch folder's owner, and refuses a folder root owns.
func TestDrillUserLookup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running the server as another user needs root")
	}
	ctx := testCtx(t)
	e := newEngine(t, fsDest(t), seedDatabase(t, pgSrv), "")
	if _, err := e.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	const uid = 54321
	if err := os.Chown(e.ScratchDir, uid, uid); err != nil {
		t.Fatal(err)
	}
	hasWrapper := false
	for _, p := range nssWrapperPaths {
		if _, err := os.Stat(p); err == nil {
			hasWrapper = true
		}
	}
	if hasWrapper {
		if drill, err := e.Verify(ctx, "latest"); err != nil || !drill.Passed {
			t.Fatalf("drill as UID %d through nss_wrapper: %+v, %v", uid, drill, err)
		}
	}
	saved := nssWrapperPaths
	nssWrapperPaths = nil
	t.Cleanup(func() { nssWrapperPaths = saved })
	drill, err := e.Verify(ctx, "latest")
	if err != nil || drill.Passed || !strings.Contains(drill.Error, "libnss-wrapper") {
		t.Fatalf("drill as UID %d without nss_wrapper: %+v, %v; want a failure naming what the image lacks", uid, drill, err)
	}
	assertScratchGone(t, e.ScratchDir)

	if err := os.Chown(e.ScratchDir, 0, 0); err != nil {
		t.Fatal(err)
	}
	if drill, err := e.Verify(ctx, "latest"); err != nil || !strings.Contains(drill.Error, "runAsUser") {
		t.Fatalf("drill as root: %+v, %v; want a failure asking for a non-root user", drill, err)
	}
}
