package backup

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
)

func TestRoundTrip(t *testing.T) {
	src := seedDatabase(t, pgSrv)
	files := seedAttachments(t)
	wantDB, wantFiles := dbDigest(t, pgSrv, src), dirDigest(t, files)
	for _, tc := range []struct {
		name string
		dest func(t *testing.T) dest.Destination
	}{
		{"s3", func(t *testing.T) dest.Destination { return s3Dest(t, s3Srv) }},
		{"path", func(t *testing.T) dest.Destination { return fsDest(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			e := newEngine(t, tc.dest(t), src, files)
			res, err := e.Backup(ctx)
			if err != nil {
				t.Fatalf("backup: %v", err)
			}
			if len(res.Objects) != 2 || res.Size <= 0 || res.KeyVersion != 1 {
				t.Fatalf("backup result %+v", res)
			}
			m := manifestOf(t, e, res.ID)
			if m.Postgres.Tables["public.tickets"] != 4000 || m.Postgres.Tables["Helpdesk Extra.Notes ✍"] != 1200 ||
				m.Postgres.Tables["public.events"] != 300 || m.Postgres.Tables["public.events_archive"] != 700 {
				t.Fatalf("row counts in the manifest: %v", m.Postgres.Tables)
			}
			if !strings.HasPrefix(m.Postgres.ServerVersion, "15") || m.Encryption.KeyName != e.Transit.Key || m.AppVersion != "helpy-2.8.0" {
				t.Fatalf("manifest %+v", m)
			}
			if m.Attachments == nil || m.Attachments.Files != 5 {
				t.Fatalf("attachment stats %+v", m.Attachments)
			}

			r := restoreTarget(t, e)
			rres, err := r.Restore(ctx, "latest")
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if rres.ID != res.ID {
				t.Fatalf("restored %s, want the latest %s", rres.ID, res.ID)
			}
			if got := dbDigest(t, pgSrv, r.DB.Name); !maps.Equal(got, wantDB) {
				t.Fatalf("restored tables differ:\n got %v\nwant %v", got, wantDB)
			}
			if got := dirDigest(t, r.AttachmentsDir); !maps.Equal(got, wantFiles) {
				t.Fatalf("restored files differ:\n got %v\nwant %v", got, wantFiles)
			}
			// A second restore into the now-full target is refused, and changes nothing.
			if _, err := r.Restore(ctx, res.ID); !errors.Is(err, ErrTargetNotEmpty) {
				t.Fatalf("restore into a non-empty target: %v, want ErrTargetNotEmpty", err)
			}
			list, err := e.List(ctx)
			if err != nil || len(list.Backups) != 1 || list.Backups[0].ID != res.ID || list.Backups[0].Size != res.Size || list.IgnoredManifests != 0 {
				t.Fatalf("list: %+v, %v", list, err)
			}
		})
	}
}

func TestRestoreRefusesNonEmptyFolder(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	e := newEngine(t, fsDest(t), src, seedAttachments(t))
	if _, err := e.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	r := restoreTarget(t, e)
	if err := os.MkdirAll(r.AttachmentsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.AttachmentsDir, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := r.Restore(ctx, "latest")
	if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), "empty folder") {
		t.Fatalf("restore into a non-empty folder: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(r.AttachmentsDir, "keep.txt")); string(b) != "mine" {
		t.Fatal("the refused restore changed the folder")
	}
}

func TestKeyRotationKeepsOldBackupsRestorable(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	e := newEngine(t, s3Dest(t, s3Srv), src, "")
	first, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Transit.Client.Logical().WriteWithContext(ctx, "transit/keys/"+e.Transit.Key+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	second, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.KeyVersion != 1 || second.KeyVersion != 2 {
		t.Fatalf("key versions %d, %d; want 1, 2", first.KeyVersion, second.KeyVersion)
	}
	r := restoreTarget(t, e)
	if _, err := r.Restore(ctx, first.ID); err != nil {
		t.Fatalf("restoring the backup made before the rotation: %v", err)
	}
	if got, want := dbDigest(t, pgSrv, r.DB.Name), dbDigest(t, pgSrv, src); !maps.Equal(got, want) {
		t.Fatal("restored tables differ")
	}
}

// TestAttachmentsOnlyBackup: a policy that leaves the database out backs up and restores the
// files alone, and the database target stays empty.
func TestAttachmentsOnlyBackup(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	files := seedAttachments(t)
	e := newEngine(t, fsDest(t), src, files)
	e.SkipDatabase = true
	res, err := e.Backup(ctx)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Kind != "attachments" {
		t.Fatalf("objects %+v, want the attachments only", res.Objects)
	}
	r := restoreTarget(t, e)
	if _, err := r.Restore(ctx, res.ID); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got, want := dirDigest(t, r.AttachmentsDir), dirDigest(t, files); !maps.Equal(got, want) {
		t.Fatalf("restored files differ:\n got %v\nwant %v", got, want)
	}
	if got := dbDigest(t, pgSrv, r.DB.Name); len(got) != 0 {
		t.Fatalf("the database target got tables %v from an attachments-only backup", got)
	}

	nothing := newEngine(t, fsDest(t), src, "")
	nothing.SkipDatabase = true
	if _, err := nothing.Backup(ctx); err == nil || !strings.Contains(err.Error(), "nothing to back up") {
		t.Fatalf("a backup of nothing: %v", err)
	}
}
