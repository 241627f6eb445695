package dest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
)

// failingReader yields n bytes, then fails: an upload whose source broke.
type failingReader struct{ n int }

var errSource = errors.New("source broke")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errSource
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

// exercise runs the contract every destination keeps.
func exercise(t *testing.T, d Destination) {
	ctx := context.Background()
	if err := d.Put(ctx, "backups/x/obj", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	rc, err := d.Get(ctx, "backups/x/obj")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
	if _, err := d.Get(ctx, "backups/x/missing"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("get of a missing object: %v", err)
	}
	// A failed write leaves no object under the name, and not the old one half-replaced.
	if err := d.Put(ctx, "backups/y/big", &failingReader{n: 6 << 20}); !errors.Is(err, errSource) && (err == nil || !strings.Contains(err.Error(), errSource.Error())) {
		t.Fatalf("put from a broken source: %v", err)
	}
	objs, err := d.List(ctx, "backups/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Name == "backups/y/big" {
			t.Fatal("a failed put left its object")
		}
	}
	if len(objs) != 1 || objs[0].Name != "backups/x/obj" || objs[0].Size != 5 {
		t.Fatalf("list %+v", objs)
	}
	if err := d.Delete(ctx, "backups/x/obj"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "backups/x/obj"); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
	if objs, _ := d.List(ctx, ""); len(objs) != 0 {
		t.Fatalf("left after delete: %+v", objs)
	}
}

func TestFS(t *testing.T) {
	root := t.TempDir()
	d, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, d)
	if entries, _ := os.ReadDir(filepath.Join(root, "backups")); len(entries) != 0 {
		t.Fatalf("empty folders left: %v", entries)
	}
	if _, err := NewFS(filepath.Join(root, "missing")); err == nil || !strings.Contains(err.Error(), "mount the volume") {
		t.Fatalf("missing root: %v", err)
	}
	if err := d.Put(context.Background(), "../escape", strings.NewReader("x")); err == nil {
		t.Fatal("a name escaping the root was accepted")
	}
}

func TestS3(t *testing.T) {
	srv := s3gw.Start(t)
	srv.CreateBucket(t, "plain")
	d, err := NewS3(S3Config{Endpoint: srv.Endpoint, Bucket: "plain", Prefix: "/a/b/", AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Insecure: true, PartSize: 5 << 20, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, d)
	// The failed multipart upload may linger on the server; retention aborts it.
	if _, err := d.CleanIncomplete(context.Background(), "", time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("cleaning unfinished uploads: %v", err)
	}

	_, err = NewS3(S3Config{Endpoint: "http://x", Bucket: "b"})
	if err == nil || !strings.Contains(err.Error(), "without a scheme") {
		t.Fatalf("endpoint with a scheme: %v", err)
	}
	missing, _ := NewS3(S3Config{Endpoint: srv.Endpoint, Bucket: "nope", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true, MaxRetries: 1})
	if err := missing.Put(context.Background(), "o", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "create bucket nope") {
		t.Fatalf("put to a missing bucket: %v", err)
	}
}

func TestS3WithCustomCA(t *testing.T) {
	srv := s3gw.StartTLS(t)
	srv.CreateBucket(t, "secure")
	cfg := S3Config{Endpoint: srv.Endpoint, Bucket: "secure", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, MaxRetries: 1}
	untrusted, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := untrusted.Put(context.Background(), "o", bytes.NewReader([]byte("x"))); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("TLS without the CA bundle: %v", err)
	}
	cfg.CAFile = srv.CAFile
	d, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, d)
}

// TestWithin: a folder view keeps the contract, and neither sees nor touches its neighbours.
func TestWithin(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "ns/desk-2/backups/x/obj", strings.NewReader("neighbour")); err != nil {
		t.Fatal(err)
	}
	exercise(t, Within(d, "ns/desk/"))
	objs, err := d.List(ctx, "")
	if err != nil || len(objs) != 1 || objs[0].Name != "ns/desk-2/backups/x/obj" {
		t.Fatalf("the neighbour's objects after exercising the folder: %+v, %v", objs, err)
	}
}
