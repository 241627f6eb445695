package backup

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/retention"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

// rotate makes a new version of e's transit key the one new data is encrypted with.
func rotate(t *testing.T, e *Engine) {
	t.Helper()
	if _, err := e.Transit.Client.Logical().WriteWithContext(testCtx(t), e.Transit.Mount+"/keys/"+e.Transit.Key+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
}

// trimBelow crypto-shreds every version of e's key below v, as the operator does
// (internal/vault TrimKey): min_decryption_version, min_encryption_version, then trim.
func trimBelow(t *testing.T, e *Engine, v int) {
	t.Helper()
	path := e.Transit.Mount + "/keys/" + e.Transit.Key
	if _, err := e.Transit.Client.Logical().WriteWithContext(testCtx(t), path+"/config", map[string]any{"min_decryption_version": v, "min_encryption_version": v}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Transit.Client.Logical().WriteWithContext(testCtx(t), path+"/trim", map[string]any{"min_available_version": v}); err != nil {
		t.Fatal(err)
	}
}

// TestTrimmedKeyVersionMakesOldBackupsUnreadable: crypto-shredding on a real Vault and a
// real S3 gateway. Once the key versions of an old backup are trimmed, that backup (and
// any copy of it) no longer decrypts, restores and drills say why in so many words and
// with their own error class, and the newer backup still restores.
func TestTrimmedKeyVersionMakesOldBackupsUnreadable(t *testing.T) {
	ctx := testCtx(t)
	db := seedDatabase(t, pgSrv)
	e := newEngine(t, s3Dest(t, s3Srv), db, seedAttachments(t))
	old, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rotate(t, e)
	newer, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old.KeyVersion != 1 || newer.KeyVersion != 2 {
		t.Fatalf("key versions %d and %d, want 1 and 2", old.KeyVersion, newer.KeyVersion)
	}
	if floor, err := e.KeyVersionFloor(ctx); err != nil || floor != 1 {
		t.Fatalf("key version floor %d (%v), want 1 while the old backup is kept", floor, err)
	}

	trimBelow(t, e, 2)

	// The old backup by ID: refused with a clear reason, the target untouched.
	target := restoreTarget(t, e)
	_, err = target.Restore(ctx, old.ID)
	if !errors.Is(err, vaultage.ErrKeyVersionTrimmed) || ErrorClass(err) != ClassKeyTrimmed {
		t.Fatalf("restoring the trimmed backup: %v (class %q), want ErrKeyVersionTrimmed", err, ErrorClass(err))
	}
	for _, want := range []string{old.ID, "unreadable for good", "version 1", "crypto-shredding", "restore a newer backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the restore error %q does not say %q", err, want)
		}
	}
	assertUntouched(t, target)
	// A drill of it says the same.
	if _, err := e.Verify(ctx, old.ID); !errors.Is(err, vaultage.ErrKeyVersionTrimmed) {
		t.Errorf("drilling the trimmed backup: %v", err)
	}
	// The catalog passes over it: latest is the newer backup, which restores in full.
	list, err := e.List(ctx)
	if err != nil || len(list.Backups) != 1 || list.Backups[0].ID != newer.ID || list.IgnoredManifests != 1 {
		t.Fatalf("list after the trim: %+v %v", list, err)
	}
	res, err := target.Restore(ctx, "latest")
	if err != nil || res.ID != newer.ID {
		t.Fatalf("restoring the newer backup: %+v %v", res, err)
	}
	if got, want := dbDigest(t, pgSrv, target.DB.Name), dbDigest(t, pgSrv, db); !equalDigests(got, want) {
		t.Error("the newer backup restored other data than was backed up")
	}
	if floor, err := e.KeyVersionFloor(ctx); err != nil || floor != 2 {
		t.Errorf("key version floor %d (%v), want 2: the trimmed backup no longer counts", floor, err)
	}

	// Once every backup is past a trim, "latest" says why there is nothing to restore.
	rotate(t, e)
	trimBelow(t, e, 3)
	_, err = restoreTarget(t, e).Restore(ctx, "latest")
	if !errors.Is(err, vaultage.ErrKeyVersionTrimmed) || !strings.Contains(err.Error(), "2 backups were made with versions of transit key") {
		t.Errorf("restoring latest with every backup trimmed: %v", err)
	}
}

// TestTrimmedVersionInAnObjectHeader: a backup whose manifest was signed after a rotation
// but whose file key was wrapped before it (a rotation in the middle of a backup) is
// refused by the object's own header, with the same clear reason.
func TestTrimmedVersionInAnObjectHeader(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, fsDest(t), seedDatabase(t, pgSrv), "")
	sealed, _, err := e.seal(ctx, "backups/x/database.dump.zst.age", "database", func(w io.Writer) error {
		_, err := w.Write([]byte("dump"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rotate(t, e)
	trimBelow(t, e, 2)
	err = e.open(ctx, sealed, false, func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err })
	if !errors.Is(err, vaultage.ErrKeyVersionTrimmed) || errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "trimmed by crypto-shredding") {
		t.Errorf("opening an object under a trimmed version: %v", err)
	}
}

// TestKeyVersionFloorFollowsPruning: the floor is the oldest version a kept backup needs,
// read from the objects' age headers, and rises as pruning removes old backups.
func TestKeyVersionFloorFollowsPruning(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, fsDest(t), seedDatabase(t, pgSrv), seedAttachments(t))
	if floor, err := e.KeyVersionFloor(ctx); err != nil || floor != 0 {
		t.Fatalf("floor without backups %d (%v), want 0", floor, err)
	}
	for i := 0; i < 3; i++ {
		if _, err := e.Backup(ctx); err != nil {
			t.Fatal(err)
		}
		rotate(t, e)
		time.Sleep(1100 * time.Millisecond) // distinct IDs, in order
	}
	if floor, err := e.KeyVersionFloor(ctx); err != nil || floor != 1 {
		t.Fatalf("floor %d (%v), want 1", floor, err)
	}
	pr, err := e.Prune(ctx, retention.Policy{KeepLast: 1}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if floor, err := e.KeyVersionFloor(ctx); err != nil || floor != 3 {
		t.Fatalf("floor after keeping the newest backup %d (%v), want 3", floor, err)
	}
	// The backup Job takes the floor from the prune's own catalog, without reading it again.
	if floor, err := e.KeptKeyVersionFloor(ctx, pr); err != nil || floor != 3 {
		t.Fatalf("floor of the backups the prune kept %d (%v), want 3", floor, err)
	}
	// A damaged header gives no floor at all rather than a wrong one.
	list, _ := e.List(ctx)
	obj := manifestOf(t, e, list.Backups[0].ID).Objects[0].Name
	if err := instanceDest(t, e).Put(ctx, obj, strings.NewReader("not age")); err != nil {
		t.Fatal(err)
	}
	if floor, err := e.KeyVersionFloor(ctx); err == nil {
		t.Errorf("floor %d from a damaged object, want an error", floor)
	}
}

// TestExportsLiveBesideBackups: an access export is sealed with the backup envelope into
// exports/, signed, invisible to the backup catalog and to pruning, readable with decrypt
// rights, unreadable once its key version is trimmed, and deleted without Vault.
func TestExportsLiveBesideBackups(t *testing.T) {
	ctx := testCtx(t)
	d := s3Dest(t, s3Srv)
	e := newEngine(t, d, seedDatabase(t, pgSrv), "")
	if _, err := e.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	archive := bytes.Repeat([]byte("export.json and files "), 10000)
	id := "6f1c2d3e-4a5b-4c6d-8e7f-000000000042"
	res, err := e.PutExport(ctx, id, func(w io.Writer) error { _, err := w.Write(archive); return err })
	if err != nil {
		t.Fatal(err)
	}
	if res.Object != "exports/"+id+".tar.zst.age" || res.KeyVersion != 1 || res.PlainSize != int64(len(archive)) {
		t.Errorf("export result %+v", res)
	}
	stored, err := instanceDest(t, e).Get(ctx, res.Object)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(stored)
	stored.Close()
	if bytes.Contains(raw, []byte("export.json")) || !bytes.HasPrefix(raw, []byte("age-encryption.org/v1")) {
		t.Error("the stored export is not age-encrypted")
	}

	// The catalog never sees it; pruning everything leaves it alone.
	list, err := e.List(ctx)
	if err != nil || len(list.Backups) != 1 || list.IgnoredManifests != 0 {
		t.Errorf("list with an export: %+v %v", list, err)
	}
	if _, err := e.Prune(ctx, retention.Policy{KeepLast: 1}, 0, time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m, err := e.OpenExport(ctx, id, &out)
	if err != nil || !bytes.Equal(out.Bytes(), archive) || m.Instance != e.Instance {
		t.Fatalf("opening the export after pruning: %v (%d bytes)", err, out.Len())
	}

	// Refused: a hostile ID, another instance's folder, an edited manifest.
	for _, bad := range []string{"../manifests/x", "A", "", strings.Repeat("a", 64), "x/y"} {
		if _, err := e.PutExport(ctx, bad, func(io.Writer) error { return nil }); err == nil {
			t.Errorf("export ID %q was accepted", bad)
		}
		if err := DeleteExport(ctx, d, e.Instance, bad); err == nil {
			t.Errorf("deleting export ID %q was accepted", bad)
		}
	}
	other := *e
	other.Instance = Instance{Namespace: "ns", Name: "other"}
	if _, err := other.OpenExport(ctx, id, io.Discard); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("another instance opened the export: %v", err)
	}
	manifest := exportManifestName(id)
	rc, _ := instanceDest(t, e).Get(ctx, manifest)
	text, _ := io.ReadAll(rc)
	rc.Close()
	// A valid manifest with one changed field: only the signature can tell.
	edited := bytes.Replace(text, []byte(`"createdAt": "2`), []byte(`"createdAt": "1`), 1)
	if bytes.Equal(edited, text) {
		t.Fatal("the test did not edit the manifest")
	}
	if err := instanceDest(t, e).Put(ctx, manifest, bytes.NewReader(edited)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.OpenExport(ctx, id, io.Discard); !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "was edited") {
		t.Errorf("an edited export manifest: %v", err)
	}
	if err := instanceDest(t, e).Put(ctx, manifest, bytes.NewReader(text)); err != nil {
		t.Fatal(err)
	}

	// Trimmed: the export is gone for good, and says so.
	rotate(t, e)
	trimBelow(t, e, 2)
	if _, err := e.OpenExport(ctx, id, io.Discard); !errors.Is(err, vaultage.ErrKeyVersionTrimmed) {
		t.Errorf("opening an export under a trimmed version: %v", err)
	}

	// Deleting needs no Vault; twice is fine; then nothing of it is left.
	if err := DeleteExport(ctx, d, e.Instance, id); err != nil {
		t.Fatal(err)
	}
	if err := DeleteExport(ctx, d, e.Instance, id); err != nil {
		t.Errorf("deleting a deleted export: %v", err)
	}
	if objs, err := instanceDest(t, e).List(ctx, "exports/"); err != nil || len(objs) != 0 {
		t.Errorf("after deletion exports/ holds %v (%v)", objs, err)
	}
	if _, err := instanceDest(t, e).Get(ctx, res.Object); !errors.Is(err, dest.ErrNotExist) {
		t.Errorf("the archive survived its deletion: %v", err)
	}
}

func equalDigests(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
