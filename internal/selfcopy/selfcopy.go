// Package selfcopy copies the running binary elsewhere. Job pods run our binary inside
// the PostgreSQL image (for its matching pg_dump and pg_restore); an init container from
// the operator's distroless image, which has no shell and no cp, puts it there.
package selfcopy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// To copies the running executable to dest (made executable), through a temporary file
// in the same folder so that dest is never half written.
func To(dest string) error {
	if dest == "" {
		return errors.New("copy-binary needs the destination path, e.g. copy-binary /opt/helpdesk/helpdesk-operator")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the running binary: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("opening the running binary: %w", err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".copy-*")
	if err != nil {
		return fmt.Errorf("copying the binary into %s: %w", filepath.Dir(dest), err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("copying the binary to %s: %w", dest, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}
