package backup

import (
	"errors"
	"io"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

// Engine backs up, restores and verifies one helpdesk instance.
type Engine struct {
	// Dest is the destination as the BackupPolicy names it (bucket and prefix, or volume
	// path); the engine works only inside its instance's folder of it (Instance.Folder).
	Dest    dest.Destination
	Transit vaultage.Transit
	// DB is the instance's database: the source of backups and, for Restore, the target.
	// Verify does not use it (only DB.BinDir, for the PostgreSQL programs).
	DB       Database
	Instance Instance
	// AppVersion is recorded in manifests.
	AppVersion string
	// AttachmentsDir is backed up, and restored into; none when empty.
	AttachmentsDir string
	// SkipDatabase leaves the database out of backups (BackupPolicy include.database:
	// false). The signed manifest then names no database, which is how restore tells an
	// omitted database from a removed one.
	SkipDatabase bool
	// ScratchDir is where Verify runs its throwaway PostgreSQL server (an emptyDir in the
	// drill pod); required by Verify only.
	ScratchDir string
	// ToolOutput, when set, receives the raw messages of pg_dump, pg_restore and the scratch
	// server, for an administrator debugging on purpose. They can quote rows (personal
	// data), which is why errors only ever carry a classification of them.
	ToolOutput io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Timings, when set, records how long each step takes (--timings).
	Timings *Timings

	// inFolder is set on the copy that scoped made, whose Dest is the instance's folder.
	inFolder bool
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// scoped checks the settings every operation needs and returns a copy of e whose Dest is
// only the instance's folder. Every exported operation runs on such a copy, so no code
// path can name an object of another instance.
func (e *Engine) scoped() (*Engine, error) {
	if e.inFolder {
		return e, nil
	}
	switch {
	case e.Dest == nil:
		return nil, errors.New("no backup destination configured (an S3 bucket or a path)")
	case e.Transit.Client == nil || e.Transit.Key == "" || e.Transit.Mount == "":
		return nil, errors.New("no Vault transit key configured (Vault address, transit mount and key name)")
	}
	folder, err := e.Instance.Folder()
	if err != nil {
		return nil, err
	}
	s := *e
	s.Dest = dest.Within(e.Dest, folder)
	s.inFolder = true
	return &s, nil
}

// checkDB is the extra check of the operations that use the instance's database.
func (e *Engine) checkDB() error {
	if e.DB.Host == "" || e.DB.Name == "" || e.DB.User == "" {
		return errors.New("database host, name and user are required")
	}
	return nil
}
