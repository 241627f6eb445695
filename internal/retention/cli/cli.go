// Package cli is the entry point of the retention and data-subject request Jobs: the
// `retention` and `dsr` subcommands of the operator binary. Every option is a flag and
// an environment variable (RETENTION_<FLAG> or DSR_<FLAG>, plus PGHOST, PGPORT,
// PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT), and the last line printed
// on stdout is one JSON object, the result, for the Job's termination message; see
// docs/retention.md for the contract. Progress goes to stderr. Neither carries row data,
// e-mail addresses or file names.
//
// Exit codes: 0 succeeded; 1 failed, and may succeed when run again (connection, lock
// timeout, a database error); 2 failed for good (refused request, invalid request or
// configuration, unsupported data class, schema mismatch): a Job should not retry it.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/envflag"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
	"github.com/privatedesk/helpdesk-operator/internal/retention/dsr"
)

// Subcommands lists what Main runs.
var Subcommands = []string{"retention", "dsr"}

// Exit codes.
const (
	ExitFailed   = 1
	ExitTerminal = 2
)

// ExitError carries the process exit code of a failed run.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }
func (e *ExitError) ExitCode() int { return e.Code }

// terminal reasons do not change when the same Job runs again.
var terminal = map[retention.Reason]bool{
	retention.ReasonInvalidConfiguration: true,
	retention.ReasonUnsupportedDataClass: true,
	retention.ReasonSchemaMismatch:       true,
	retention.ReasonPermissionDenied:     true,
	retention.ReasonRefused:              true,
	retention.ReasonInvalidRequest:       true,
	retention.ReasonAmbiguousSubject:     true,
}

func exitError(reason retention.Reason, msg string) error {
	code := ExitFailed
	if terminal[reason] {
		code = ExitTerminal
	}
	return &ExitError{Code: code, Err: errors.New(string(reason) + ": " + msg)}
}

// Main runs subcommand (retention or dsr) with args. The result line goes to stdout,
// except for `dsr --output=-`, whose archive takes stdout: then it goes to stderr.
// A run that did not succeed returns an *ExitError.
func Main(ctx context.Context, subcommand string, args []string, stdout, stderr io.Writer) error {
	switch subcommand {
	case "retention":
		return mainRetention(ctx, args, stdout, stderr)
	case "dsr":
		return mainDSR(ctx, args, stdout, stderr)
	default:
		return fmt.Errorf("unknown subcommand %q (want one of %v)", subcommand, Subcommands)
	}
}

type retentionConfig struct {
	db                                   dbFlags
	app, attachments                     string
	rules                                []string
	dryRun, legalHold, indexes           bool
	batchSize                            int
	lockTimeout, stmtTimeout, grace, max time.Duration
	indexTimeout                         time.Duration
}

func mainRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := envflag.New(fs, "RETENTION_")
	var c retentionConfig
	c.db.register(o)
	o.String(&c.app, "app-profile", string(v1alpha1.AppProfileHelpy), "application whose retention meaning applies")
	o.String(&c.attachments, "attachments-dir", "", "root of the attachments volume")
	o.List(&c.rules, "rule", "RULES", "CLASS:ACTION:AGE, e.g. ClosedTickets:Delete:8760h")
	o.Bool(&c.dryRun, "dry-run", false, "change nothing; report what the rules would do")
	o.Bool(&c.legalHold, "legal-hold", false, "a legal hold is in force: change nothing, report what the rules would do")
	o.Int(&c.batchSize, "batch-size", retention.DefaultBatchSize, "most records one batch (one transaction) acts on")
	o.Duration(&c.lockTimeout, "lock-timeout", retention.DefaultLockTimeout, "lock_timeout of every batch")
	o.Duration(&c.stmtTimeout, "statement-timeout", retention.DefaultStatementTimeout, "statement_timeout of every batch")
	o.Duration(&c.grace, "orphan-grace", retention.DefaultOrphanGrace, "age before an orphan attachment folder is removed")
	o.Duration(&c.max, "timeout", 0, "give up after this long (0: no limit); finished batches stay")
	o.Bool(&c.indexes, "support-indexes", true, "create the app profile's missing indexes (CONCURRENTLY) before a real run")
	o.Duration(&c.indexTimeout, "index-timeout", retention.DefaultIndexTimeout, "the longest building one index may take")
	help := fs.Bool("help", false, "show the options")

	out := map[string]any{"subcommand": "retention", "appProfile": c.app}
	fail := func(e *retention.Error) error {
		out["result"], out["reason"], out["error"] = retention.Failed, e.Reason, e.Message
		_ = printJSON(stdout, out)
		return exitError(e.Reason, e.Message)
	}
	if err := o.Err(); err != nil {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "%v", err))
	}
	if err := o.Parse(args); err != nil {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "%v (run with --help for the options)", err))
	}
	if *help {
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	out["appProfile"] = c.app
	if fs.NArg() > 0 {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "unexpected arguments %v", fs.Args()))
	}
	profile, err := appprofile.RetentionFor(v1alpha1.AppProfile(c.app))
	if err != nil {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "%v", err))
	}
	var rules []retention.Rule
	for _, s := range c.rules {
		r, err := retention.ParseRule(s)
		if err != nil {
			return fail(retention.Classify(err, "rules"))
		}
		rules = append(rules, r)
	}
	if err := retention.CheckRules(rules, profile); err != nil {
		return fail(retention.Classify(err, "rules"))
	}
	cfg, err := c.db.config("helpdesk-operator retention")
	if err != nil {
		return fail(retention.Classify(err, "database settings"))
	}
	if c.max > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.max)
		defer cancel()
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return fail(retention.Classify(err, "connecting"))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res := retention.Run(ctx, conn, profile, retention.Options{Rules: rules, DryRun: c.dryRun, LegalHold: c.legalHold,
		BatchSize: c.batchSize, LockTimeout: c.lockTimeout, StatementTimeout: c.stmtTimeout, AttachmentsDir: c.attachments,
		OrphanGrace: c.grace, NoIndexes: !c.indexes, IndexTimeout: c.indexTimeout, Log: stderr})
	if err := printJSON(stdout, struct {
		Subcommand string `json:"subcommand"`
		AppProfile string `json:"appProfile"`
		*retention.Result
	}{"retention", c.app, res}); err != nil {
		return err
	}
	if res.Result != retention.Succeeded {
		return exitError(res.Reason, res.Error)
	}
	return nil
}

type dsrConfig struct {
	db                        dbFlags
	app, attachments          string
	typ, subject, subjectFile string
	set                       []string
	output                    string
	lockTimeout, stmtTimeout  time.Duration
	export                    exportConfig
}

func mainDSR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dsr", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := envflag.New(fs, "DSR_")
	var c dsrConfig
	c.db.register(o)
	o.String(&c.app, "app-profile", string(v1alpha1.AppProfileHelpy), "application whose data-subject meaning applies")
	o.String(&c.attachments, "attachments-dir", "", "root of the attachments volume")
	o.String(&c.typ, "type", "", "Access, Erasure or Rectification")
	o.Secret(&c.subject, "subject", "the subject's e-mail address (prefer --subject-file)")
	o.String(&c.subjectFile, "subject-file", "", "file holding the subject's e-mail address")
	o.List(&c.set, "set", "SET", "Rectification: FIELD=VALUE")
	o.String(&c.output, "output", "", "Access: file to write the tar archive to (created, never overwritten), or - for stdout")
	o.Duration(&c.lockTimeout, "lock-timeout", dsr.DefaultLockTimeout, "lock_timeout of the request's transaction")
	o.Duration(&c.stmtTimeout, "statement-timeout", dsr.DefaultStatementTimeout, "statement_timeout of the request's transaction")
	c.export.register(o)
	help := fs.Bool("help", false, "show the options")

	resultOut := stdout
	out := map[string]any{"subcommand": "dsr"}
	fail := func(e *retention.Error) error {
		out["result"], out["reason"], out["error"] = dsr.Failed, e.Reason, e.Message
		_ = printJSON(resultOut, out)
		return exitError(e.Reason, e.Message)
	}
	if err := o.Err(); err != nil {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "%v", err))
	}
	if err := o.Parse(args); err != nil {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "%v (run with --help for the options)", err))
	}
	if *help {
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if c.output == "-" {
		resultOut = stderr
	}
	out["type"] = c.typ
	if fs.NArg() > 0 {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "unexpected arguments %v", fs.Args()))
	}
	if c.export.deleteID != "" || c.export.openID != "" {
		// Modes on an existing export: no database, no request.
		return c.export.run(ctx, c.output, stdout, resultOut)
	}
	profile, err := appprofile.RetentionFor(v1alpha1.AppProfile(c.app))
	if err != nil {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "%v", err))
	}
	subject, err := envflag.FromFile(c.subject, c.subjectFile, "subject")
	if err != nil {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "%v", err))
	}
	set := map[string]string{}
	if err := c.export.readSetFiles(set); err != nil {
		return fail(retention.Classify(err, "reading the values to set"))
	}
	for _, kv := range c.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fail(retention.Errorf(retention.ReasonInvalidRequest, "--set wants FIELD=VALUE"))
		}
		if _, dup := set[k]; dup {
			return fail(retention.Errorf(retention.ReasonInvalidRequest, "--set names a field twice"))
		}
		set[k] = v
	}
	typ := dsr.Type(c.typ)
	exporting := c.export.id != ""
	if (typ == dsr.Access) != (c.output != "" || exporting) || (c.output != "" && exporting) {
		return fail(retention.Errorf(retention.ReasonInvalidConfiguration, "Access needs either --output or --export-id, and only Access takes them"))
	}
	cfg, err := c.db.config("helpdesk-operator dsr")
	if err != nil {
		return fail(retention.Classify(err, "database settings"))
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return fail(retention.Classify(err, "connecting"))
	}
	defer conn.Close(context.WithoutCancel(ctx))

	req := dsr.Request{Type: typ, Subject: subject, Set: set, AttachmentsDir: c.attachments,
		LockTimeout: c.lockTimeout, StatementTimeout: c.stmtTimeout}
	if exporting {
		return c.export.runAccess(ctx, conn, profile, req, resultOut)
	}
	var file *os.File
	switch c.output {
	case "":
	case "-":
		req.Output = stdout
	default:
		// O_EXCL: an export is never written over another one.
		if file, err = os.OpenFile(c.output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fail(retention.Classify(err, "creating the output file"))
		}
		req.Output = file
	}
	res := dsr.Run(ctx, conn, profile, req)
	if file != nil {
		err := file.Sync()
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil && res.Result == dsr.Succeeded {
			res.Result, res.Reason, res.Error = dsr.Failed, retention.ReasonFileError, retention.Classify(err, "writing the output file").Message
		}
		if res.Result != dsr.Succeeded {
			// Half an export is no export; the caller must not upload it.
			_ = os.Remove(c.output)
		}
	}
	if err := printJSON(resultOut, struct {
		Subcommand string `json:"subcommand"`
		*dsr.Result
	}{"dsr", res}); err != nil {
		return err
	}
	if res.Result != dsr.Succeeded {
		return exitError(res.Reason, res.Error)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
