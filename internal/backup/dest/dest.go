// Package dest stores backup objects: an S3-compatible bucket or a filesystem path (a mounted
// PersistentVolumeClaim), behind one small interface. Objects are written whole or not at
// all (S3 completes a multipart upload at the end; the filesystem renames a synced temp file),
// so a reader never sees a half-written object under its final name.
package dest

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotExist is returned (wrapped) by Get for an object that does not exist.
var ErrNotExist = errors.New("object does not exist")

// Object describes a stored object.
type Object struct {
	Name    string // relative to the destination's prefix or root, with "/" separators
	Size    int64
	ModTime time.Time
}

// Destination is where backups go.
type Destination interface {
	// Put streams r, of unknown length, to name; the object appears only when Put succeeds.
	Put(ctx context.Context, name string, r io.Reader) error
	// Get opens name for reading.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// List returns the objects whose names start with prefix.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes name; deleting a missing object is not an error.
	Delete(ctx context.Context, name string) error
	// String describes the destination for messages, without credentials.
	String() string
}

// IncompleteCleaner is implemented by destinations that can hold leftovers of interrupted
// writes (S3 multipart uploads); retention calls it to reclaim their space.
type IncompleteCleaner interface {
	CleanIncomplete(ctx context.Context, prefix string, olderThan time.Time) (int, error)
}
