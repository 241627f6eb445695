package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/retention"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// age's payload: a 16-byte nonce after the header, then 64 KiB segments with a 16-byte tag.
const ageSegment = 64<<10 + 16

func payloadStart(t *testing.T, b []byte) int {
	t.Helper()
	i := bytes.Index(b, []byte("\n--- "))
	if i < 0 {
		t.Fatal("no age header end")
	}
	j := bytes.IndexByte(b[i+1:], '\n')
	return i + 1 + j + 1 + 16
}

// rewriteManifest applies edit to the stored manifest of id (a filesystem destination) and
// signs it again with signer, as someone holding hmac rights on that key could; the old
// signature stays when signer has no client.
func rewriteManifest(t *testing.T, e *Engine, id string, signer vaultage.Transit, edit func(*Manifest)) {
	t.Helper()
	p := fsPath(t, e, manifestName(id))
	var m Manifest
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	if signer.Client != nil {
		digest, err := m.signedDigest()
		if err != nil {
			t.Fatal(err)
		}
		if m.Signature, err = signer.Sign(testCtx(t), digest); err != nil {
			t.Fatal(err)
		}
	}
	b, _ = json.Marshal(&m)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// matchManifest makes the manifest agree with a tampered object, so only age can catch it.
func matchManifest(t *testing.T, e *Engine, signer vaultage.Transit, id, object string, content []byte) {
	rewriteManifest(t, e, id, signer, func(m *Manifest) {
		for i := range m.Objects {
			if m.Objects[i].Name == object {
				sum := sha256.Sum256(content)
				m.Objects[i].Size, m.Objects[i].SHA256 = int64(len(content)), hex.EncodeToString(sum[:])
			}
		}
	})
}

func TestTamperedObjectsAreRefusedBeforeTouchingTheTarget(t *testing.T) {
	src := seedDatabase(t, pgSrv)
	files := seedAttachments(t)
	for _, object := range []string{databaseName, filesName} {
		for _, tc := range []struct {
			name string
			// tamper returns the new content; keepHash leaves the manifest's hash as it was.
			tamper   func(t *testing.T, b []byte) []byte
			keepHash bool
			want     string
		}{
			{"bit flip caught by the manifest hash", func(t *testing.T, b []byte) []byte {
				b[len(b)/2] ^= 0x10
				return b
			}, true, "failed authentication"},
			{"bit flip caught by age", func(t *testing.T, b []byte) []byte {
				b[payloadStart(t, b)+ageSegment+100] ^= 0x01
				return b
			}, false, "failed authentication"},
			{"bit flip in the stanza type", func(t *testing.T, b []byte) []byte {
				b[30] ^= 0x01
				return b
			}, false, "failed authentication"},
			{"bit flip in the header MAC", func(t *testing.T, b []byte) []byte {
				i := bytes.Index(b, []byte("\n--- "))
				b[i+6] ^= 0x01 // a base64 letter to another letter
				return b
			}, false, "failed authentication"},
			{"truncated at a segment boundary", func(t *testing.T, b []byte) []byte {
				return b[:payloadStart(t, b)+2*ageSegment]
			}, false, "failed authentication"},
			{"truncated mid-segment", func(t *testing.T, b []byte) []byte {
				return b[:len(b)-1000]
			}, false, "failed authentication"},
			{"segments reordered", func(t *testing.T, b []byte) []byte {
				p := payloadStart(t, b)
				out := append([]byte(nil), b[:p]...)
				out = append(out, b[p+ageSegment:p+2*ageSegment]...)
				out = append(out, b[p:p+ageSegment]...)
				return append(out, b[p+2*ageSegment:]...)
			}, false, "failed authentication"},
		} {
			t.Run(object+"/"+tc.name, func(t *testing.T) {
				ctx := testCtx(t)
				d := fsDest(t)
				e := newEngine(t, d, src, files)
				res, err := e.Backup(ctx)
				if err != nil {
					t.Fatal(err)
				}
				name := dataName(res.ID, object)
				p := fsPath(t, e, name)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) < 3*ageSegment {
					t.Fatalf("%s is only %d bytes; the test needs three segments", name, len(b))
				}
				b = tc.tamper(t, b)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				if !tc.keepHash {
					matchManifest(t, e, e.Transit, res.ID, name, b)
				}
				r := restoreTarget(t, e)
				_, err = r.Restore(ctx, res.ID)
				if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "target was not touched") {
					t.Fatalf("restore of a tampered backup: %v", err)
				}
				assertUntouched(t, r)
			})
		}
	}
}

func TestSwappedObjectIsCaughtByTheManifestHash(t *testing.T) {
	// An object from another backup of the same instance decrypts fine: only the manifest's
	// SHA-256 tells it is not this backup's.
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	e := newEngine(t, d, src, "")
	first, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, pgSrv, src, `INSERT INTO users VALUES (999999, 'late@example.test', now())`)
	second, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(fsPath(t, e, dataName(first.ID, databaseName)))
	if err := os.WriteFile(fsPath(t, e, dataName(second.ID, databaseName)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := restoreTarget(t, e)
	_, err = r.Restore(ctx, second.ID)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "the manifest says") {
		t.Fatalf("restore with a swapped object: %v", err)
	}
	assertUntouched(t, r)
}

func TestWrongInstanceKey(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	a := newEngine(t, d, src, "")
	res, err := a.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := restoreTarget(t, a)
	b.Transit = transitKey(t, vaultSrv, "helpdesk-other-"+uniqueName("desk"))

	_, err = b.Restore(ctx, res.ID)
	if err == nil || !strings.Contains(err.Error(), a.Transit.Key) || !strings.Contains(err.Error(), "use the key of the instance that made the backup") {
		t.Fatalf("restore with another instance's key: %v", err)
	}
	assertUntouched(t, b)

	// Someone edits the manifest to name key B and signs it with B: the object's own header
	// still names key A.
	rewriteManifest(t, a, res.ID, b.Transit, func(m *Manifest) { m.Encryption.KeyName = b.Transit.Key })
	_, err = b.Restore(ctx, res.ID)
	if !errors.Is(err, vaultage.ErrWrongKey) || !strings.Contains(err.Error(), a.Transit.Key) {
		t.Fatalf("restore with an edited manifest: %v", err)
	}
	assertUntouched(t, b)
}

func TestEditedManifestIsRefused(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	e := newEngine(t, d, src, "")
	res, err := e.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rewriteManifest(t, e, res.ID, vaultage.Transit{}, func(m *Manifest) { m.Postgres.Tables["public.users"] = 1 })
	r := restoreTarget(t, e)
	_, err = r.Restore(ctx, res.ID)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "edited after the backup") {
		t.Fatalf("restore with an edited manifest: %v", err)
	}
	assertUntouched(t, r)
}

func TestS3OutageMidUpload(t *testing.T) {
	ctx := testCtx(t)
	s3 := s3gw.Start(t)
	src := seedDatabase(t, pgSrv)
	addRandomBytea(t, pgSrv, src, 24)
	direct := s3Dest(t, s3, func(c *dest.S3Config) { c.PartSize = 5 << 20; c.MaxRetries = 2 })
	d := &triggerDest{Destination: direct, match: databaseName, after: 8 << 20, fire: s3.Stop}
	e := newEngine(t, d, src, seedAttachments(t))

	_, err := e.Backup(ctx)
	if err == nil {
		t.Fatal("backup succeeded with the S3 server stopped mid-upload")
	}
	t.Logf("backup with S3 gone: %v", err)
	if err := s3.Restart(); err != nil {
		t.Fatal(err)
	}
	e.Dest = direct
	if ids, _ := listedIDs(t, e); len(ids) != 0 {
		t.Fatalf("backups after the failed run: %v; want none (no manifest)", ids)
	}
	inFolder := instanceDest(t, e)
	orphans, _ := inFolder.List(ctx, dataDir)
	if len(orphans) == 0 {
		t.Fatal("expected the attachments object of the failed run as an orphan")
	}
	failedID := strings.Split(strings.TrimPrefix(orphans[0].Name, dataDir), "/")[0]

	res, err := e.Backup(ctx)
	if err != nil {
		t.Fatalf("the next backup: %v", err)
	}
	// Within the grace period the orphan stays (it could be a backup still running).
	pr, err := e.Prune(ctx, retention.Policy{KeepLast: 5}, time.Hour, time.Now())
	if err != nil || len(pr.OrphansDeleted) != 0 {
		t.Fatalf("prune within grace: %+v, %v", pr, err)
	}
	pr, err = e.Prune(ctx, retention.Policy{KeepLast: 5}, time.Hour, time.Now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.OrphansDeleted) != 1 || pr.OrphansDeleted[0] != failedID || len(pr.Kept) != 1 {
		t.Fatalf("prune after grace: %+v", pr)
	}
	// The upload cut off mid-way could not be aborted while S3 was down; retention does it.
	if pr.UploadsAborted < 1 {
		t.Fatalf("prune aborted %d unfinished uploads, want the one the outage left", pr.UploadsAborted)
	}
	left, _ := inFolder.List(ctx, dataDir)
	for _, o := range left {
		if !strings.HasPrefix(o.Name, dataDir+res.ID+"/") {
			t.Fatalf("object %s left after cleaning orphans", o.Name)
		}
	}
	r := restoreTarget(t, e)
	if _, err := r.Restore(ctx, res.ID); err != nil {
		t.Fatalf("restoring the backup after the outage: %v", err)
	}
}

func TestVaultOutageFailsBeforeReadingData(t *testing.T) {
	ctx := testCtx(t)
	v := vaultdev.Start(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	e := newEngine(t, d, src, seedAttachments(t))
	e.Transit = transitKey(t, v, "helpdesk-ns-outage")
	// A pg_dump that records it ran, then runs the real one.
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "pg_dump-ran")
	script := "#!/bin/sh\ntouch " + marker + "\nexec " + filepath.Join(pgSrv.BinDir(), "pg_dump") + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e.DB.BinDir = bin

	if _, err := e.Backup(ctx); err != nil {
		t.Fatalf("backup with Vault up: %v", err)
	}
	os.Remove(marker)
	before, _ := d.List(ctx, "")

	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err := e.Backup(ctx)
	if !errors.Is(err, vaultage.ErrVault) || !strings.Contains(err.Error(), "before reading any data") {
		t.Fatalf("backup with Vault down: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("pg_dump ran although Vault was down")
	}
	after, _ := d.List(ctx, "")
	if len(after) != len(before) {
		t.Fatalf("objects written with Vault down: before %d, after %d", len(before), len(after))
	}

	// A restore with Vault down cannot check the manifest seal or unwrap a key: it fails
	// without touching the target.
	r := restoreTarget(t, e)
	if _, err := r.Restore(ctx, "latest"); !errors.Is(err, vaultage.ErrVault) {
		t.Fatalf("restore with Vault down: %v", err)
	}
	assertUntouched(t, r)
}

func TestFailedDatabaseRestoreLeavesNothing(t *testing.T) {
	// A real pg_restore failure after the attachments are unpacked: the restoring role may
	// not create tables in the target. The database rolls back, and the files go again.
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	e := newEngine(t, fsDest(t), src, seedAttachments(t))
	if _, err := e.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	r := restoreTarget(t, e)
	role := uniqueName("limited_")
	execSQL(t, pgSrv, "postgres", "CREATE ROLE "+role+" LOGIN PASSWORD 'limited-pw'")
	r.DB.User, r.DB.Password = role, "limited-pw"
	_, err := r.Restore(ctx, "latest")
	if err == nil || !strings.Contains(err.Error(), "rolled back") || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("restore as a role that cannot create tables: %v", err)
	}
	assertUntouched(t, r)
}

// swapOnSecondGet serves, on the second Get of the object whose name ends in swap, the
// object ending in with instead: the same instance's genuine object of another backup.
type swapOnSecondGet struct {
	dest.Destination
	swap, with string
	mu         sync.Mutex
	gets       int
}

func (s *swapOnSecondGet) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if prefix, ok := strings.CutSuffix(name, s.swap); ok {
		s.mu.Lock()
		s.gets++
		n := s.gets
		s.mu.Unlock()
		if n == 2 {
			return s.Destination.Get(ctx, prefix+s.with)
		}
	}
	return s.Destination.Get(ctx, name)
}

// TestObjectSwappedAfterTheCheckIsNeverRestored: the object checked in the first pass is not
// the one streamed into the target; the restore fails, and leaves the target empty.
func TestObjectSwappedAfterTheCheckIsNeverRestored(t *testing.T) {
	src := seedDatabase(t, pgSrv)
	for _, kind := range []string{databaseName, filesName} {
		t.Run(kind, func(t *testing.T) {
			ctx := testCtx(t)
			files := seedAttachments(t)
			e := newEngine(t, fsDest(t), src, files)
			first, err := e.Backup(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(files, "late.txt"), []byte("added later"), 0o644); err != nil {
				t.Fatal(err)
			}
			second, err := e.Backup(ctx)
			if err != nil {
				t.Fatal(err)
			}
			r := restoreTarget(t, e)
			r.Dest = &swapOnSecondGet{Destination: e.Dest, swap: dataName(second.ID, kind), with: dataName(first.ID, kind)}
			_, err = r.Restore(ctx, second.ID)
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("restore with %s swapped after the check: %v, want ErrIntegrity", kind, err)
			}
			if r.Dest.(*swapOnSecondGet).gets != 2 {
				t.Fatalf("%s was read %d times, want twice (check, then restore)", kind, r.Dest.(*swapOnSecondGet).gets)
			}
			assertUntouched(t, r)
		})
	}
}
