package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A new volume's lost+found is neither backed up nor counted against an empty target.
func TestLostAndFoundIsNotAttachmentData(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, lostAndFound), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, lostAndFound, "#123"), []byte("fsck"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkEmptyDir(dir); err != nil {
		t.Fatalf("a folder with only lost+found counts as not empty: %v", err)
	}

	if err := os.MkdirAll(filepath.Join(dir, "post", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "post", "1", "a.pdf"), []byte("%PDF"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkEmptyDir(dir); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("a folder with attachments: %v, want ErrTargetNotEmpty", err)
	}

	var archive bytes.Buffer
	if _, err := writeTar(context.Background(), dir, &archive); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&archive)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
	for _, name := range names {
		if filepath.Base(filepath.Clean(name)) == lostAndFound || filepath.Dir(filepath.Clean(name)) == lostAndFound {
			t.Errorf("the archive holds %s", name)
		}
	}
	if len(names) != 3 {
		t.Errorf("archive entries %v, want post/, post/1/ and post/1/a.pdf", names)
	}

	emptyDir(dir)
	if _, err := os.Stat(filepath.Join(dir, lostAndFound)); err != nil {
		t.Errorf("emptying the folder removed lost+found: %v", err)
	}
	if err := checkEmptyDir(dir); err != nil {
		t.Errorf("after emptying: %v", err)
	}
}
