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
	Dest    dest.Destination
	Transit vaultage.Transit
	// DB is the instance's database: the source of backups and, for Restore, the target.
	// Verify creates its scratch database on the same server with the same user.
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
	// ToolOutput, when set, receives the raw messages of pg_dump and pg_restore, for an
	// administrator debugging on purpose. They can quote rows (personal data), which is why
	// errors only ever carry a classification of them.
	ToolOutput io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) check() error {
	switch {
	case e.Dest == nil:
		return errors.New("no backup destination configured (an S3 bucket or a path)")
	case e.Transit.Client == nil || e.Transit.Key == "" || e.Transit.Mount == "":
		return errors.New("no Vault transit key configured (Vault address, transit mount and key name)")
	case e.DB.Host == "" || e.DB.Name == "" || e.DB.User == "":
		return errors.New("database host, name and user are required")
	}
	return nil
}
