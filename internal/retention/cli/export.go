package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/backup"
	backupcli "github.com/privatedesk/helpdesk-operator/internal/backup/cli"
	"github.com/privatedesk/helpdesk-operator/internal/envflag"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
	"github.com/privatedesk/helpdesk-operator/internal/retention/dsr"
)

// Access exports the operator runs go to the instance's backup destination, encrypted with
// the backup envelope (internal/backup: PutExport), instead of a file: the archive never
// touches a disk in the clear. The same subcommand deletes an export when it expires and
// opens one for an administrator.

// ReasonExportFailed: the request ran, but its export could not be written to the
// destination (retryable: the next attempt writes it anew).
const ReasonExportFailed retention.Reason = "ExportFailed"

type exportConfig struct {
	target           backupcli.Target
	id               string
	deleteID, openID string
	setFiles         []string
}

func (c *exportConfig) register(o *envflag.Set) {
	c.target.Register(o)
	o.String(&c.id, "export-id", "", "Access: write the export, encrypted with the instance's transit key, to exports/<id> of the instance's folder on the backup destination (--path or --s3-*) instead of --output")
	o.String(&c.deleteID, "delete-export", "", "delete export <id> from the instance's folder on the backup destination, and do nothing else (needs no database and no Vault)")
	o.String(&c.openID, "open-export", "", "decrypt export <id> into --output (a new file, or - for stdout); needs decrypt rights on the instance's transit key")
	o.List(&c.setFiles, "set-file", "SET_FILES", "Rectification: FIELD=FILE, the new value read from FILE (keeps it out of the pod spec)")
}

// readSetFiles adds the values of --set-file to set.
func (c *exportConfig) readSetFiles(set map[string]string) error {
	for _, kv := range c.setFiles {
		field, file, ok := strings.Cut(kv, "=")
		if !ok || field == "" || file == "" {
			return retention.Errorf(retention.ReasonInvalidRequest, "--set-file wants FIELD=FILE")
		}
		if _, dup := set[field]; dup {
			return retention.Errorf(retention.ReasonInvalidRequest, "--set-file names a field twice")
		}
		value, err := envflag.FromFile("", file, "value of field "+field)
		if err != nil {
			// The error names the file, never its content.
			return retention.Errorf(retention.ReasonInvalidConfiguration, "%v", err)
		}
		set[field] = value
	}
	return nil
}

// exportSummary is what the result line says about an export.
type exportSummary struct {
	ID         string `json:"id"`
	Object     string `json:"object,omitempty"`
	Size       int64  `json:"size,omitempty"`
	KeyVersion int    `json:"keyVersion,omitempty"`
	Deleted    bool   `json:"deleted,omitempty"`
}

// runAccess runs an Access request whose archive streams straight into PutExport.
func (c *exportConfig) runAccess(ctx context.Context, conn *pgx.Conn, profile appprofile.Retention, req dsr.Request, resultOut io.Writer) error {
	res := &dsr.Result{Type: req.Type, Result: dsr.Failed, Records: map[string]int64{}}
	finish := func(export *exportSummary) error {
		if err := printJSON(resultOut, struct {
			Subcommand string `json:"subcommand"`
			*dsr.Result
			Export *exportSummary `json:"export,omitempty"`
		}{"dsr", res, export}); err != nil {
			return err
		}
		if res.Result != dsr.Succeeded {
			return exitError(res.Reason, res.Error)
		}
		return nil
	}
	engine, err := c.target.Engine(ctx)
	if err != nil {
		res.Reason, res.Error = retention.ReasonInvalidConfiguration, err.Error()
		return finish(nil)
	}
	if err := backup.CheckExportID(c.id); err != nil {
		res.Reason, res.Error = retention.ReasonInvalidConfiguration, err.Error()
		return finish(nil)
	}
	pr, pw := io.Pipe()
	type put struct {
		res *backup.ExportResult
		err error
	}
	done := make(chan put, 1)
	go func() {
		r, err := engine.PutExport(ctx, c.id, func(w io.Writer) error {
			_, err := io.Copy(w, pr)
			return err
		})
		// Unblock the request's writes when the export stopped taking them.
		pr.CloseWithError(errExportStopped)
		done <- put{r, err}
	}()
	req.Output = pw
	res = dsr.Run(ctx, conn, profile, req)
	if res.Result == dsr.Succeeded {
		_ = pw.Close()
	} else {
		// A failed request leaves no export: the archive is abandoned before it completes.
		_ = pw.CloseWithError(errRequestFailed)
	}
	p := <-done
	if p.err != nil && !errors.Is(p.err, errRequestFailed) {
		// The export failed on its own (Vault, the destination): that is the cause, even
		// when the request failed too, on the writes the export no longer took.
		res.Result, res.Reason, res.Error = dsr.Failed, ReasonExportFailed, clipResult("writing the encrypted export to the backup destination failed: "+p.err.Error())
		return finish(nil)
	}
	if res.Result != dsr.Succeeded {
		return finish(nil)
	}
	return finish(&exportSummary{ID: p.res.ID, Object: p.res.Object, Size: p.res.Size, KeyVersion: p.res.KeyVersion})
}

var (
	errExportStopped = errors.New("the export stopped")
	errRequestFailed = errors.New("the access request failed")
)

// run deletes or opens an export.
func (c *exportConfig) run(ctx context.Context, output string, stdout, resultOut io.Writer) error {
	out := map[string]any{"subcommand": "dsr"}
	fail := func(reason retention.Reason, err error) error {
		out["result"], out["reason"], out["error"] = dsr.Failed, reason, clipResult(err.Error())
		_ = printJSON(resultOut, out)
		return exitError(reason, err.Error())
	}
	if c.deleteID != "" && c.openID != "" {
		return fail(retention.ReasonInvalidConfiguration, errors.New("give --delete-export or --open-export, not both"))
	}
	if c.deleteID != "" {
		out["mode"] = "delete-export"
		d, inst, err := c.target.Destination()
		if err != nil {
			return fail(retention.ReasonInvalidConfiguration, err)
		}
		if err := backup.DeleteExport(ctx, d, inst, c.deleteID); err != nil {
			return fail(retention.ReasonFileError, err)
		}
		out["result"], out["export"] = dsr.Succeeded, exportSummary{ID: c.deleteID, Deleted: true}
		return printJSON(resultOut, out)
	}
	out["mode"] = "open-export"
	if output == "" {
		return fail(retention.ReasonInvalidConfiguration, errors.New("--open-export needs --output (a new file, or - for stdout)"))
	}
	engine, err := c.target.Engine(ctx)
	if err != nil {
		return fail(retention.ReasonInvalidConfiguration, err)
	}
	w, closeOutput, err := openOutput(output, stdout)
	if err != nil {
		return fail(retention.ReasonFileError, err)
	}
	m, err := engine.OpenExport(ctx, c.openID, w)
	if cerr := closeOutput(err == nil); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(retention.ReasonFileError, err)
	}
	out["result"], out["export"] = dsr.Succeeded, exportSummary{ID: m.ID, Object: m.Object.Name, Size: m.Object.Size, KeyVersion: m.Encryption.KeyVersion}
	return printJSON(resultOut, out)
}

// openOutput opens path for a new archive (never overwriting one), or stdout for "-";
// close removes a file that was not completed.
func openOutput(path string, stdout io.Writer) (io.Writer, func(ok bool) error, error) {
	if path == "-" {
		return stdout, func(bool) error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the output file: %w", err)
	}
	return f, func(ok bool) error {
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if !ok || err != nil {
			_ = os.Remove(path)
		}
		return err
	}, nil
}

// clipResult keeps the result line under the termination message's 4 KiB.
func clipResult(msg string) string {
	const limit = 1500
	if len(msg) <= limit {
		return msg
	}
	return msg[:limit] + " …"
}
