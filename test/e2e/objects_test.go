//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/backup"
	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// s3Client is a client of the host's S3 gateway with its root credentials.
func s3Client() (*minio.Client, error) {
	return minio.New(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, "")})
}

// objectListing maps each object's name to its size and ETag, so that two listings
// compare equal only if no object was added, removed or rewritten.
type objectListing map[string]string

// listObjects lists every object of the bucket below prefix.
func listObjects(t *testing.T, bucket, prefix string) objectListing {
	t.Helper()
	c, err := s3Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := objectListing{}
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("listing s3://%s/%s: %v", bucket, prefix, obj.Err)
		}
		out[obj.Key] = fmt.Sprintf("%d bytes, etag %s", obj.Size, obj.ETag)
	}
	return out
}

// changes lists the names whose entry differs in the later listing: added, removed or
// rewritten objects.
func (l objectListing) changes(later objectListing) []string {
	var out []string
	for name, v := range later {
		if l[name] != v {
			out = append(out, name)
		}
	}
	for name := range l {
		if _, ok := later[name]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// below is the part of the listing below prefix.
func (l objectListing) below(prefix string) objectListing {
	out := objectListing{}
	for name, v := range l {
		if strings.HasPrefix(name, prefix) {
			out[name] = v
		}
	}
	return out
}

func (l objectListing) String() string {
	names := make([]string, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, "\n")
}

// readObjectStart returns the first n bytes of an object.
func readObjectStart(t *testing.T, bucket, name string, n int) []byte {
	t.Helper()
	c, err := s3Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj, err := c.GetObject(ctx, bucket, name, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	buf := make([]byte, n)
	read, err := io.ReadFull(obj, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading s3://%s/%s: %v", bucket, name, err)
	}
	return buf[:read]
}

// adminEngine is the backup engine as an administrator runs it on the host: on the
// instance's folder of the policy's destination, with Vault's root token and the
// instance's key.
func adminEngine(t *testing.T, policy *v1alpha1.BackupPolicy, namespace, name string) *backup.Engine {
	t.Helper()
	s3dst := policy.Spec.Destination.S3
	d, err := dest.NewS3(dest.S3Config{
		Endpoint: s3.Endpoint, Bucket: s3dst.Bucket, Prefix: s3dst.Prefix, Region: s3dst.Region,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Insecure: true, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &backup.Engine{
		Dest:     d,
		Transit:  vaultage.Transit{Client: vaultAdmin, Mount: "transit", Key: vault.KeyName(vaultPrefix, namespace, name)},
		Instance: backup.Instance{Namespace: namespace, Name: name},
	}
}
