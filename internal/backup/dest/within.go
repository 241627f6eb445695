package dest

import (
	"context"
	"io"
	"strings"
	"time"
)

// Within is d seen from inside folder (which ends in "/"): names are relative to the folder,
// and nothing outside it can be written, read, listed or deleted through the result.
func Within(d Destination, folder string) Destination {
	return &within{d: d, folder: folder}
}

type within struct {
	d      Destination
	folder string
}

func (w *within) Put(ctx context.Context, name string, r io.Reader) error {
	return w.d.Put(ctx, w.folder+name, r)
}

func (w *within) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return w.d.Get(ctx, w.folder+name)
}

func (w *within) List(ctx context.Context, prefix string) ([]Object, error) {
	objs, err := w.d.List(ctx, w.folder+prefix)
	for i := range objs {
		objs[i].Name = strings.TrimPrefix(objs[i].Name, w.folder)
	}
	return objs, err
}

func (w *within) Delete(ctx context.Context, name string) error {
	return w.d.Delete(ctx, w.folder+name)
}

func (w *within) String() string { return w.d.String() + ", folder " + w.folder }

// CleanIncomplete implements IncompleteCleaner inside the folder; it does nothing for
// destinations without unfinished uploads.
func (w *within) CleanIncomplete(ctx context.Context, prefix string, olderThan time.Time) (int, error) {
	c, ok := w.d.(IncompleteCleaner)
	if !ok {
		return 0, nil
	}
	return c.CleanIncomplete(ctx, w.folder+prefix, olderThan)
}
