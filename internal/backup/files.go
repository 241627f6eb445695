package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeTar streams dir as a tar archive: folders and regular files, with relative names.
// Symbolic links and special files are skipped: attachments are plain files, and restoring a
// link could point outside the restore folder. Errors never name a file (names of
// attachments are customers' data); they give the entry's number instead.
func writeTar(ctx context.Context, dir string, w io.Writer) (AttachmentStats, error) {
	var st AttachmentStats
	tw := tar.NewWriter(w)
	entry := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		entry++
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir || (!e.IsDir() && !e.Type().IsRegular()) {
			return nil
		}
		// A fresh ext4 volume's lost+found belongs to the filesystem (and to root), not
		// to the helpdesk.
		if e.IsDir() && filepath.Dir(p) == dir && e.Name() == lostAndFound {
			return fs.SkipDir
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if e.IsDir() {
			hdr.Name += "/"
			st.Dirs++
			return tw.WriteHeader(hdr)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		// A file that changes size while we read it would corrupt the archive: copy exactly
		// the size we announced and fail if the file shrank.
		n, err := io.CopyN(tw, f, hdr.Size)
		if err != nil {
			return fmt.Errorf("reading it (did it change while being backed up?): %w", withoutPath(err))
		}
		st.Files++
		st.Bytes += n
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("archiving attachments folder %s failed at entry %d: %w", dir, entry, withoutPath(err))
	}
	if err := tw.Close(); err != nil {
		return st, err
	}
	return st, nil
}

// lostAndFound is the folder mkfs.ext4 puts at the root of every new volume.
const lostAndFound = "lost+found"

// checkEmptyDir accepts a missing folder (it is created) or an empty one; a new volume's
// lost+found does not count.
func checkEmptyDir(dir string) error {
	entries, err := contentEntries(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking attachments folder %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: attachments folder %s holds %d entries; restore into an empty folder", ErrTargetNotEmpty, dir, len(entries))
	}
	return nil
}

// extractTar unpacks r into dir (which must be empty) and counts what it wrote. Names that
// would escape dir are refused. When dir is "", nothing is written: entries are only counted
// (restore drills). Errors never name an entry (names of attachments are customers' data);
// they give its number in the archive instead.
func extractTar(ctx context.Context, r io.Reader, dir string) (AttachmentStats, error) {
	var st AttachmentStats
	tr := tar.NewReader(r)
	for entry := 1; ; entry++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("reading attachments archive entry %d: %w", entry, withoutPath(err))
		}
		if err := extractEntry(tr, hdr, dir, &st); err != nil {
			return st, fmt.Errorf("unpacking attachments archive entry %d: %w", entry, withoutPath(err))
		}
	}
}

func extractEntry(tr *tar.Reader, hdr *tar.Header, dir string, st *AttachmentStats) error {
	name := strings.TrimSuffix(hdr.Name, "/")
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return errors.New("its name escapes the target folder")
	}
	target := filepath.Join(dir, filepath.FromSlash(name))
	switch hdr.Typeflag {
	case tar.TypeDir:
		st.Dirs++
		if dir != "" {
			return os.MkdirAll(target, 0o750)
		}
		return nil
	case tar.TypeReg:
		st.Files++
		if dir == "" {
			n, err := io.CopyN(io.Discard, tr, hdr.Size)
			st.Bytes += n
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, hdr.FileInfo().Mode().Perm())
		if err != nil {
			return err
		}
		// The archive passed its hash and authentication before extraction; the entry
		// size bounds the copy all the same.
		n, err := io.CopyN(f, tr, hdr.Size)
		st.Bytes += n
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		// Times are cosmetic: a filesystem that refuses them must not fail a restore.
		_ = os.Chtimes(target, hdr.ModTime, hdr.ModTime)
		return nil
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
}

// withoutPath drops the file name from a filesystem error, keeping the operation and the
// system's reason (no space left, permission denied, ...).
func withoutPath(err error) error {
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	switch {
	case errors.As(err, &pathErr):
		return fmt.Errorf("%s: %w", pathErr.Op, pathErr.Err)
	case errors.As(err, &linkErr):
		return fmt.Errorf("%s: %w", linkErr.Op, linkErr.Err)
	}
	return err
}

// emptyDir removes everything inside dir, undoing a failed extraction into a folder that
// was empty before.
func emptyDir(dir string) {
	entries, _ := contentEntries(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// contentEntries lists dir without a volume's lost+found.
func contentEntries(dir string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	out := entries[:0]
	for _, e := range entries {
		if !e.IsDir() || e.Name() != lostAndFound {
			out = append(out, e)
		}
	}
	return out, err
}
