package s3gw

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestPutGetSurvivesRestart(t *testing.T) {
	srv := Start(t)
	srv.CreateBucket(t, "check")
	ctx := context.Background()
	payload := []byte("hello across a restart")
	if _, err := srv.Client(t).PutObject(ctx, "check", "a/b.txt", bytes.NewReader(payload), int64(len(payload)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	obj, err := srv.Client(t).GetObject(ctx, "check", "a/b.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %q after restart, want %q", got, payload)
	}
}

func TestStartTLS(t *testing.T) {
	srv := StartTLS(t)
	if srv.CAFile == "" {
		t.Fatal("no CA file")
	}
	srv.CreateBucket(t, "secure")
}
