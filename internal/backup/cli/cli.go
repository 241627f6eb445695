// Package cli is the entry point of the backup Jobs: the backup, restore, verify and list
// subcommands of the operator binary. Every option is a flag and also an environment
// variable (BACKUP_<FLAG>, plus the conventional PG* and VAULT_* names), and the last line
// printed is one JSON object the controller reads from the Job's termination message.
//
// Every subcommand names the policy's destination (--s3-* or --path, as the policy gives
// it), the instance (--instance-namespace, --instance-name; the engine works in the
// instance's folder below the destination) and Vault (--vault-*, --transit-mount,
// --transit-key). backup and restore also take the database (--db-*, --pg-bin-dir);
// verify restores into a throwaway server in --scratch-dir and takes no --db-* at all.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	// The Job image may have no zoneinfo; retention's time zone must load anyway.
	_ "time/tzdata"

	"github.com/privatedesk/helpdesk-operator/internal/backup"
	"github.com/privatedesk/helpdesk-operator/internal/backup/retention"
	"github.com/privatedesk/helpdesk-operator/internal/envflag"
)

// Subcommands lists what Main runs.
var Subcommands = []string{"backup", "restore", "verify", "list"}

// config holds every option; which ones a subcommand uses depends on it.
type config struct {
	db          dbFlags
	dest        destFlags
	vault       vaultFlags
	namespace   string
	name        string
	appVersion  string
	files       string
	id          string
	policy      retention.Policy
	grace       time.Duration
	noPrune     bool
	noDatabase  bool
	timeZone    string
	scratchDir  string
	debugOutput bool
	timings     bool
	cpuProfile  string
}

// debugOutput is where --debug-tool-output prints the programs' raw messages, and
// --timings the steps' durations.
var debugOutput io.Writer = os.Stderr

// Main runs subcommand with args (without the subcommand itself), writing its one-line JSON
// result to stdout: on success the result, on failure {"error": "...", "errorClass": "..."}
// as the last line, so a Job's termination message says what happened either way. The
// error is also returned; errors never contain secret values, nor personal data (rows,
// file names: see backup.Failure).
func Main(ctx context.Context, subcommand string, args []string, stdout io.Writer) error {
	err := run(ctx, time.Now(), subcommand, args, stdout)
	var printed *printedError
	if errors.As(err, &printed) {
		return printed.err
	}
	if err != nil {
		out := map[string]any{"subcommand": subcommand, "error": clip(err.Error())}
		if class := backup.ErrorClass(err); class != "" {
			out["errorClass"] = class
		}
		// Nothing is left to tell if stdout itself fails; the error is returned anyway.
		_ = printJSON(stdout, out)
	}
	return err
}

// run is Main without the error line; started is when Main began, the origin of --timings.
func run(ctx context.Context, started time.Time, subcommand string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(subcommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := envflag.New(fs, "BACKUP_")
	var c config
	c.dest.register(o)
	c.vault.register(o)
	o.String(&c.namespace, "instance-namespace", "", "namespace of the helpdesk instance", "POD_NAMESPACE")
	o.String(&c.name, "instance-name", "", "name of the helpdesk instance")
	o.Bool(&c.timings, "timings", false, "print how long each step took (Vault, destination, dump, upload, catalog...) to stderr when done; names and durations only")
	o.String(&c.cpuProfile, "cpu-profile", "", "write a Go CPU profile of the run to this file, for go tool pprof")
	debugFlag := func() {
		o.Bool(&c.debugOutput, "debug-tool-output", false, "print the raw messages of pg_dump, pg_restore and the drill's PostgreSQL server to stderr, for debugging; they can contain personal data (rows, values), so leave off in normal operation")
	}
	switch subcommand {
	case "backup":
		c.db.register(o)
		debugFlag()
		o.String(&c.files, "attachments-dir", "", "attachments folder to back up (none when empty)")
		o.String(&c.appVersion, "app-version", "", "application version recorded in the manifest")
		o.Int(&c.policy.KeepLast, "keep-last", 0, "retention: keep the N newest backups")
		o.Int(&c.policy.KeepDaily, "keep-daily", 0, "retention: keep the newest backup of each of the last N days")
		o.Int(&c.policy.KeepWeekly, "keep-weekly", 0, "retention: keep the newest backup of each of the last N ISO weeks")
		o.Int(&c.policy.KeepMonthly, "keep-monthly", 0, "retention: keep the newest backup of each of the last N months")
		o.Duration(&c.policy.MaxAge, "max-age", 0, "retention: delete backups older than this (e.g. 2160h); 0 disables")
		o.Duration(&c.grace, "orphan-grace", 24*time.Hour, "retention: delete data of unfinished backups older than this")
		o.Bool(&c.noPrune, "no-prune", false, "skip retention after the backup")
		o.Bool(&c.noDatabase, "no-database", false, "leave the database out: back up the attachments only")
		o.String(&c.timeZone, "time-zone", "UTC", "retention: IANA time zone whose days, weeks and months count, e.g. Europe/Berlin")
	case "restore":
		c.db.register(o)
		debugFlag()
		o.String(&c.files, "attachments-dir", "", "attachments folder to restore into (none when empty)")
		o.String(&c.id, "id", "latest", "backup ID, or latest")
	case "verify":
		c.db.registerBinDir(o)
		debugFlag()
		o.String(&c.id, "id", "latest", "backup ID, or latest")
		o.String(&c.scratchDir, "scratch-dir", "", "folder (an emptyDir) where the drill runs its throwaway PostgreSQL server; required")
	case "list":
	default:
		return fmt.Errorf("unknown backup subcommand %q (want one of %v)", subcommand, Subcommands)
	}
	help := fs.Bool("help", false, "show the options")
	if err := o.Err(); err != nil {
		return err
	}
	if err := o.Parse(args); err != nil {
		return fmt.Errorf("%s: %w (run with --help for the options)", subcommand, err)
	}
	if *help {
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %v", subcommand, fs.Args())
	}
	if c.timeZone != "" {
		loc, err := time.LoadLocation(c.timeZone)
		if err != nil {
			return fmt.Errorf("--time-zone %q: %w (use an IANA name like Europe/Berlin)", c.timeZone, err)
		}
		c.policy.Location = loc
	}
	if subcommand == "verify" && c.scratchDir == "" {
		return errors.New("verify: set --scratch-dir (BACKUP_SCRATCH_DIR) to a folder for the drill's throwaway PostgreSQL server, an emptyDir in the drill pod")
	}
	if c.cpuProfile != "" {
		stop, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	var timings *backup.Timings
	if c.timings {
		timings = backup.NewTimings(started)
		defer printTimings(debugOutput, subcommand, timings, started)
	}
	d, err := c.dest.build()
	if err != nil {
		return err
	}
	e := &backup.Engine{
		Dest:           d,
		Instance:       backup.Instance{Namespace: c.namespace, Name: c.name},
		AppVersion:     c.appVersion,
		AttachmentsDir: c.files,
		SkipDatabase:   c.noDatabase,
		ScratchDir:     c.scratchDir,
		DB:             backup.Database{BinDir: c.db.binDir},
		Timings:        timings,
	}
	// The instance's folder is checked before any credential is used.
	if _, err := e.Instance.Folder(); err != nil {
		return err
	}
	if c.debugOutput {
		e.ToolOutput = debugOutput
	}
	if subcommand == "backup" || subcommand == "restore" {
		if e.DB, err = c.db.build(); err != nil {
			return err
		}
	}
	endLogin := timings.Begin("vault-login")
	e.Transit, err = c.vault.build(ctx)
	endLogin()
	if err != nil {
		return err
	}
	switch subcommand {
	case "list":
		res, err := e.List(ctx)
		if err != nil {
			return err
		}
		return printJSON(stdout, res)
	case "backup":
		return runBackup(ctx, e, c, stdout)
	case "restore":
		res, err := e.Restore(ctx, c.id)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"id": res.ID, "size": res.Size,
			"durationSeconds": res.Duration.Seconds(), "attachments": res.Attachments, "ignoredManifests": res.IgnoredManifests})
	default: // verify
		res, err := e.Verify(ctx, c.id)
		if err != nil {
			return err
		}
		if err := printJSON(stdout, map[string]any{"id": res.ID, "passed": res.Passed,
			"restoreSeconds": res.RestoreDuration.Seconds(), "mismatches": firstN(res.Mismatches), "mismatchCount": len(res.Mismatches),
			"error": clip(res.Error), "ignoredManifests": res.IgnoredManifests}); err != nil {
			return err
		}
		if !res.Passed {
			return &printedError{fmt.Errorf("restore drill of backup %s failed: %s", res.ID, describeDrill(res))}
		}
		return nil
	}
}

func runBackup(ctx context.Context, e *backup.Engine, c config, stdout io.Writer) error {
	res, err := e.Backup(ctx)
	if err != nil {
		return err
	}
	out := map[string]any{"id": res.ID, "size": res.Size, "plainSize": res.PlainSize,
		"durationSeconds": res.Duration.Seconds(), "objects": len(res.Objects), "keyVersion": res.KeyVersion}
	if !c.noPrune {
		// The backup itself succeeded: a pruning failure is reported, not turned into a
		// failed backup, and the next run retries it.
		pr, err := e.Prune(ctx, c.policy, c.grace, time.Now())
		if err != nil {
			out["pruneError"] = clip(err.Error())
		} else if floor, err := e.KeptKeyVersionFloor(ctx, pr); err != nil {
			out["keyVersionError"] = clip(err.Error())
		} else {
			// The oldest key version a kept backup needs: crypto-shredding never trims it.
			out["oldestKeyVersion"] = floor
		}
		if pr != nil {
			out["kept"] = len(pr.Kept)
			out["deleted"] = firstN(ids(pr.Deleted))
			out["deletedCount"] = len(pr.Deleted)
			out["orphansDeleted"] = len(pr.OrphansDeleted)
			out["ignoredManifests"] = pr.IgnoredManifests
		}
	}
	return printJSON(stdout, out)
}

func ids(ds []retention.Decision) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func describeDrill(r *backup.DrillResult) string {
	if r.Error != "" {
		return r.Error
	}
	if len(r.Mismatches) > 0 {
		return fmt.Sprintf("%d mismatches, first: %s", len(r.Mismatches), r.Mismatches[0])
	}
	return "unknown reason"
}

// Kubernetes keeps at most 4096 bytes of a termination message: the result line's lists
// and messages are clipped so it always fits and stays valid JSON.
const (
	maxListed  = 10
	maxMessage = 1500
)

func firstN(xs []string) []string {
	if len(xs) > maxListed {
		return xs[:maxListed]
	}
	return xs
}

func clip(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	return msg[:maxMessage/2] + " … " + msg[len(msg)-maxMessage/2:]
}

// printedError is an error whose result line is already printed (a failed drill).
type printedError struct{ err error }

func (p *printedError) Error() string { return p.err.Error() }
func (p *printedError) Unwrap() error { return p.err }

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
