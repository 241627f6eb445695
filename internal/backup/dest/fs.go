package dest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FS stores objects as files under Root. Names map to paths below Root; a write goes to a
// temp file in the same folder that is synced and renamed into place, then the folder is
// synced, so a crash leaves either the old state or the whole new file.
type FS struct {
	Root string
}

// NewFS checks that root exists and is a folder.
func NewFS(root string) (*FS, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("backup path %s: %w (mount the volume there or create the folder)", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("backup path %s is not a folder", root)
	}
	return &FS{Root: root}, nil
}

func (d *FS) String() string { return "path " + d.Root }

func (d *FS) path(name string) (string, error) {
	clean := filepath.ToSlash(filepath.Clean("/" + name))[1:]
	if clean == "" || clean != name || strings.Contains(name, "/.tmp-") || strings.HasPrefix(name, ".tmp-") {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	return filepath.Join(d.Root, filepath.FromSlash(name)), nil
}

// Put implements Destination.
func (d *FS) Put(ctx context.Context, name string, r io.Reader) (err error) {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	tmp, err := createTemp(dir, ".tmp-"+filepath.Base(p)+"-")
	if err != nil {
		return fmt.Errorf("writing %s to %s: %w", name, d, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			d.removeEmptyParents(p)
		}
	}()
	if _, err = io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("writing %s to %s: %w", name, d, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s on %s: %w", name, d, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s on %s: %w", name, d, err)
	}
	if err = os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("renaming %s into place on %s: %w", name, d, err)
	}
	return syncDir(dir)
}

// createTemp creates the folders and a temp file in dir. Another instance sharing the
// volume may remove an empty parent folder between the two steps (Delete tidies up empty
// folders), so a vanished folder is created again, a few times.
func createTemp(dir, pattern string) (*os.File, error) {
	for attempt := 1; ; attempt++ {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(dir, pattern)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return f, err
		}
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// Get implements Destination.
func (d *FS) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s on %s: %w", name, d, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", name, d, err)
	}
	return f, nil
}

// List implements Destination. Temp files of unfinished writes are listed too (they are
// leftovers to clean), under their temp names. Only the folder holding prefix is walked,
// so an instance lists its own folder of a shared volume, not everyone's, and files that
// others delete during the walk are skipped rather than failing it.
func (d *FS) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	start := d.Root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		p, err := d.path(prefix[:i])
		if err != nil {
			return nil, err
		}
		start = p
	}
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p != d.Root && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() {
			return ctx.Err()
		}
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, Object{Name: name, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", d, err)
	}
	return out, nil
}

// Delete implements Destination; it also removes folders left empty.
func (d *FS) Delete(ctx context.Context, name string) error {
	p := filepath.Join(d.Root, filepath.FromSlash(filepath.ToSlash(filepath.Clean("/" + name))[1:]))
	if p == filepath.Clean(d.Root) {
		return fmt.Errorf("invalid object name %q", name)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s from %s: %w", name, d, err)
	}
	d.removeEmptyParents(p)
	return nil
}

// removeEmptyParents removes the folders above p that are empty, up to the root.
func (d *FS) removeEmptyParents(p string) {
	root := filepath.Clean(d.Root)
	for dir := filepath.Dir(p); dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty, or gone: stop climbing
			return
		}
	}
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
