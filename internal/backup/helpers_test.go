package backup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// Shared servers for the tests that do not stop them; tests that take a server away start
// their own.
var (
	pgSrv    *postgres.Server
	s3Srv    *s3gw.Server
	vaultSrv *vaultdev.Server
	dbSeq    atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var stops []func()
		defer func() {
			for _, stop := range stops {
				stop()
			}
		}()
		var stop func()
		var err error
		if pgSrv, stop, err = postgres.StartMain(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		stops = append(stops, stop)
		if s3Srv, stop, err = s3gw.StartMain(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		stops = append(stops, stop)
		if vaultSrv, stop, err = vaultdev.StartMain(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		stops = append(stops, stop)
		return m.Run()
	}())
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// transitKey enables transit on v (once) and creates a fresh key.
func transitKey(t testing.TB, v *vaultdev.Server, name string) vaultage.Transit {
	t.Helper()
	ctx := testCtx(t)
	client := v.Client(t)
	mounts, err := client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		t.Fatalf("listing Vault mounts: %v", err)
	}
	if _, ok := mounts["transit/"]; !ok {
		if err := client.Sys().MountWithContext(ctx, "transit", &vaultapi.MountInput{Type: "transit"}); err != nil && !strings.Contains(err.Error(), "path is already in use") {
			t.Fatalf("enabling transit: %v", err)
		}
	}
	if _, err := client.Logical().WriteWithContext(ctx, "transit/keys/"+name, nil); err != nil {
		t.Fatalf("creating transit key %s: %v", name, err)
	}
	return vaultage.Transit{Client: client, Mount: "transit", Key: name}
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d_%d", prefix, time.Now().UnixNano()%1e6, dbSeq.Add(1))
}

func dbConfig(srv *postgres.Server, name string) Database {
	return Database{Host: srv.Host, Port: srv.Port, Name: name, User: srv.User, Password: srv.Password, SSLMode: "disable", BinDir: srv.BinDir()}
}

func execSQL(t testing.TB, srv *postgres.Server, db string, sqls ...string) {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, srv.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range sqls {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// seedDatabase creates a database with several tables: unicode text, bytea, a custom
// schema with quoted names, an inherited child table, thousands of rows.
func seedDatabase(t testing.TB, srv *postgres.Server) string {
	t.Helper()
	name := uniqueName("src_")
	srv.CreateDatabase(t, name)
	execSQL(t, srv, name,
		`CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, created timestamptz NOT NULL)`,
		`INSERT INTO users SELECT g, 'user' || g || '@example.test', '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 2500) g`,
		`CREATE TABLE tickets (id serial PRIMARY KEY, user_id bigint REFERENCES users, subject text, body text)`,
		`INSERT INTO tickets (user_id, subject, body) SELECT 1 + g % 2500, 'Ticket ' || g || ' — ünïcødé ✓ 日本語 🎫', repeat('Lorem ipsum dolor sit amet, ', 1 + g % 40) FROM generate_series(1, 4000) g`,
		`CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)`,
		`CREATE SCHEMA "Helpdesk Extra"`,
		`CREATE TABLE "Helpdesk Extra"."Notes ✍" (id int PRIMARY KEY, note text)`,
		`INSERT INTO "Helpdesk Extra"."Notes ✍" SELECT g, 'note ' || g FROM generate_series(1, 1200) g`,
		`CREATE TABLE events (id int PRIMARY KEY, kind text)`,
		`CREATE TABLE events_archive () INHERITS (events)`,
		`INSERT INTO events SELECT g, 'live' FROM generate_series(1, 300) g`,
		`INSERT INTO events_archive SELECT g, 'archived' FROM generate_series(301, 1000) g`,
		`CREATE INDEX ON tickets (user_id)`,
	)
	// Incompressible bytea: about 1 MiB of random bytes, so objects span many age segments.
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, srv.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := 1; i <= 400; i++ {
		b := make([]byte, 100+i*7)
		rand.Read(b)
		if _, err := conn.Exec(ctx, `INSERT INTO blobs VALUES ($1, $2)`, i, b); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// addRandomBytea adds n MiB of incompressible rows to db, for large uploads.
func addRandomBytea(t testing.TB, srv *postgres.Server, db string, mib int) {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, srv.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE big (id int PRIMARY KEY, data bytea)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		rand.Read(b)
		if _, err := conn.Exec(ctx, `INSERT INTO big VALUES ($1, $2)`, i, b); err != nil {
			t.Fatal(err)
		}
	}
}

// dbDigest hashes every user table's rows, ordered, as COPY prints them.
func dbDigest(t testing.TB, srv *postgres.Server, db string) map[string]string {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, srv.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, userTablesQuery)
	if err != nil {
		t.Fatal(err)
	}
	var tables [][2]string
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, [2]string{s, n})
	}
	rows.Close()
	out := map[string]string{}
	for _, tb := range tables {
		h := sha256.New()
		q := fmt.Sprintf("COPY (SELECT * FROM ONLY %s ORDER BY 1) TO STDOUT", pgx.Identifier{tb[0], tb[1]}.Sanitize())
		tag, err := conn.PgConn().CopyTo(ctx, h, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out[tb[0]+"."+tb[1]] = fmt.Sprintf("%d rows %x", tag.RowsAffected(), h.Sum(nil))
	}
	return out
}

// seedAttachments builds a nested tree with binary files, an empty file and an empty folder.
func seedAttachments(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]int{
		"2026/01/ticket-1/screenshot.png": 300 << 10,
		"2026/01/ticket-1/log.txt":        5000,
		"2026/02/ticket-9/invoice.pdf":    70 << 10,
		"2026/02/ticket-9/empty.bin":      0,
		"avatars/ü-user.jpg":              12345,
	}
	for name, size := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		rand.Read(b)
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "2026/03/empty-folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dirDigest lists every folder and file under dir with the SHA-256 of its content.
func dirDigest(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if e.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func s3Dest(t testing.TB, srv *s3gw.Server, mutate ...func(*dest.S3Config)) *dest.S3 {
	t.Helper()
	bucket := strings.ReplaceAll(uniqueName("bk-"), "_", "-")
	srv.CreateBucket(t, bucket)
	cfg := dest.S3Config{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "tenants/ns/desk", Region: "us-east-1",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true}
	for _, m := range mutate {
		m(&cfg)
	}
	d, err := dest.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fsDest(t testing.TB) *dest.FS {
	t.Helper()
	d, err := dest.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newEngine backs up db and files (when not "") of instance ns/desk with a fresh transit key.
func newEngine(t testing.TB, d dest.Destination, db, files string) *Engine {
	t.Helper()
	return &Engine{
		Dest:           d,
		Transit:        transitKey(t, vaultSrv, "helpdesk-ns-"+uniqueName("desk")),
		DB:             dbConfig(pgSrv, db),
		Instance:       Instance{Namespace: "ns", Name: "desk"},
		AppVersion:     "helpy-2.8.0",
		AttachmentsDir: files,
		ScratchDir:     scratchDir(t),
	}
}

// scratchDir is a folder for drills' scratch servers. PostgreSQL refuses to run as root,
// so when the tests do, it belongs to the harness's postgres user (whom the drill then runs
// its server as), below /tmp rather than t.TempDir, whose parent only root may enter.
func scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "scratch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("the postgres harness's user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fsPath is where object name of e's instance lies on a filesystem destination.
func fsPath(t testing.TB, e *Engine, name string) string {
	t.Helper()
	folder, err := e.Instance.Folder()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(e.Dest.(*dest.FS).Root, filepath.FromSlash(folder+name))
}

// instanceDest is e's view of its destination: its own folder.
func instanceDest(t testing.TB, e *Engine) dest.Destination {
	t.Helper()
	s, err := e.scoped()
	if err != nil {
		t.Fatal(err)
	}
	return s.Dest
}

// manifestOf reads the stored manifest of backup id, unchecked.
func manifestOf(t testing.TB, e *Engine, id string) *Manifest {
	t.Helper()
	m, err := readManifest(testCtx(t), instanceDest(t, e), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// listedIDs are the IDs e.List shows, oldest first, and the count of ignored manifests.
func listedIDs(t testing.TB, e *Engine) ([]string, int) {
	t.Helper()
	res, err := e.List(testCtx(t))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var ids []string
	for i := len(res.Backups) - 1; i >= 0; i-- {
		ids = append(ids, res.Backups[i].ID)
	}
	return ids, res.IgnoredManifests
}

// restoreTarget is e with a new empty database and a new empty folder as the target.
func restoreTarget(t testing.TB, e *Engine) *Engine {
	t.Helper()
	target := uniqueName("dst_")
	pgSrv.CreateDatabase(t, target)
	r := *e
	r.DB = dbConfig(pgSrv, target)
	if e.AttachmentsDir != "" {
		r.AttachmentsDir = filepath.Join(t.TempDir(), "restored")
	}
	return &r
}

// assertUntouched checks that a failed restore left the database and folder empty.
func assertUntouched(t testing.TB, e *Engine) {
	t.Helper()
	ctx := testCtx(t)
	conn, err := e.DB.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := checkEmpty(ctx, conn, e.DB.Name); err != nil {
		t.Fatalf("the failed restore touched the database: %v", err)
	}
	if e.AttachmentsDir != "" {
		if err := checkEmptyDir(e.AttachmentsDir); err != nil {
			t.Fatalf("the failed restore touched the folder: %v", err)
		}
	}
}

// triggerDest runs fire once when more than after bytes of an object whose name contains
// match have been handed to the real destination.
type triggerDest struct {
	dest.Destination
	match string
	after int64
	fire  func()
	once  sync.Once
}

func (d *triggerDest) Put(ctx context.Context, name string, r io.Reader) error {
	if strings.Contains(name, d.match) {
		r = &triggerReader{r: r, d: d}
	}
	return d.Destination.Put(ctx, name, r)
}

type triggerReader struct {
	r io.Reader
	n int64
	d *triggerDest
}

func (tr *triggerReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	tr.n += int64(n)
	if tr.n > tr.d.after {
		tr.d.once.Do(tr.d.fire)
	}
	return n, err
}
