package retention

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Folders is the attachments volume, opened as an os.Root so that no path, and no
// symlink planted in the volume either, leads outside it. Folder names are record ids
// formatted here, never file names from the database.
type Folders struct {
	root *os.Root
}

// OpenFolders opens the attachments volume at dir.
func OpenFolders(dir string) (*Folders, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, Classify(err, "opening the attachments folder")
	}
	return &Folders{root: root}, nil
}

// Close releases the volume.
func (f *Folders) Close() error { return f.root.Close() }

// RecordDir is the folder of record id in set, relative to the volume.
func RecordDir(set appprofile.FileSet, id int64) string {
	return path.Join(set.Dir, strconv.FormatInt(id, 10))
}

// File is one regular file below a record folder.
type File struct {
	// Path is relative to the volume.
	Path string
	Size int64
}

// Files lists the regular files below rel (none when rel does not exist). Symlinks and
// other special files are neither followed nor listed.
func (f *Folders) Files(rel string) ([]File, error) {
	info, err := f.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		// A symlink or a file where a folder belongs: nothing to count, and
		// removing it removes only the entry itself.
		return nil, nil
	}
	var out []File
	err = fs.WalkDir(f.root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == rel && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, File{Path: p, Size: info.Size()})
		return nil
	})
	return out, err
}

// Count returns how many regular files are below rel.
func (f *Folders) Count(rel string) (int64, error) {
	files, err := f.Files(rel)
	return int64(len(files)), err
}

// Remove removes rel with everything below it and returns how many files it held.
func (f *Folders) Remove(rel string) (int64, error) {
	n, err := f.Count(rel)
	if err != nil {
		return 0, err
	}
	return n, f.root.RemoveAll(rel)
}

// Open opens the file at rel for reading.
func (f *Folders) Open(rel string) (io.ReadCloser, error) { return f.root.Open(rel) }

// recordFolder is a folder of a FileSet named by a record id.
type recordFolder struct {
	id       int64
	modified time.Time
}

// recordFolders lists the folders of set whose names are record ids. Anything else in
// the folder (a name that is not a positive decimal number, a file, a symlink) is left
// alone: the engine only ever removes folders it can name itself.
func (f *Folders) recordFolders(set appprofile.FileSet) ([]recordFolder, error) {
	dir, err := f.root.Open(set.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var out []recordFolder
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		id, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || id <= 0 || strconv.FormatInt(id, 10) != e.Name() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, recordFolder{id: id, modified: info.ModTime()})
	}
	return out, nil
}
