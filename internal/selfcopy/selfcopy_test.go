package selfcopy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestToCopiesTheRunningBinary(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "helpdesk-operator")
	if err := To(dest); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(self)
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the copy differs from the running binary (err %v)", err)
	}
	info, _ := os.Stat(dest)
	if info.Mode().Perm()&0o111 == 0 {
		t.Errorf("the copy is not executable: %v", info.Mode())
	}
	if err := To(""); err == nil {
		t.Error("an empty destination is accepted")
	}
	if err := To(filepath.Join(t.TempDir(), "missing", "x")); err == nil {
		t.Error("a missing folder is accepted")
	}
}
