package dsr

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"path"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
)

// Names inside the access archive.
const (
	DocumentName = "export.json"
	FilesDir     = "files"
)

// Document is the machine-readable part of an access export, the archive's first entry.
type Document struct {
	Format     int       `json:"format"`
	ExportedAt time.Time `json:"exportedAt"`
	Subject    struct {
		Email        string `json:"email"`
		AccountFound bool   `json:"accountFound"`
	} `json:"subject"`
	// Sections hold the records, one list per kind (account, tickets, messages, ...).
	Sections map[string][]any `json:"sections"`
	// Files are the attachment files that follow in the archive.
	Files []ExportedFile `json:"files"`
	// Redactions counts the mentions of other people replaced by placeholders.
	Redactions int      `json:"redactions"`
	Notes      []string `json:"notes"`
}

// ExportedFile is one file in the archive.
type ExportedFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

var exportNotes = []string{
	"Other people appear only by their role (staff, another customer, system), never by name, address or id; " +
		"mentions of other people's names and e-mail addresses in texts are replaced by [redacted] and [redacted e-mail].",
	"Files are exported as stored; their content is not redacted.",
	"Passwords, sign-in tokens and API tokens are credentials and are not exported; API keys are listed by name and the last characters of the token.",
}

// access reads everything in one read-only snapshot, so the document and the file list
// agree, redacts other people, and writes the archive: the document, then the files.
func access(ctx context.Context, conn *pgx.Conn, p appprofile.Retention, req Request, s subject, res *Result) error {
	if req.Output == nil {
		return retention.Errorf(retention.ReasonInvalidConfiguration, "no output for the access export")
	}
	folders, err := retention.OpenFolders(req.AttachmentsDir)
	if err != nil {
		return err
	}
	defer folders.Close()
	tx, err := begin(ctx, conn, req, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	doc := &Document{Format: 1, ExportedAt: req.Now.UTC(), Sections: map[string][]any{}, Notes: exportNotes}
	doc.Subject.Email, doc.Subject.AccountFound = s.email, s.found
	params := retention.Params{"id": s.idParam(), "email": text(s.email)}
	for _, sec := range p.Subject.Sections {
		records, err := section(ctx, tx, sec, params)
		if err != nil {
			return err
		}
		doc.Sections[sec.Name] = records
		res.Records[sec.Name] = int64(len(records))
	}
	files, err := exportFiles(ctx, tx, p, folders, params)
	if err != nil {
		return err
	}
	for _, f := range files {
		doc.Files = append(doc.Files, ExportedFile{Path: path.Join(FilesDir, f.Path), Size: f.Size})
	}
	if doc.Redactions, err = redactOthers(ctx, tx, p.Subject.Others, s, doc); err != nil {
		return err
	}
	res.Redacted = doc.Redactions
	if err := tx.Rollback(ctx); err != nil {
		return retention.Classify(err, "ending the read")
	}

	out := &countingWriter{w: req.Output}
	if err := writeArchive(out, doc, files, folders); err != nil {
		return err
	}
	res.Files, res.Bytes = int64(len(files)), out.n
	return nil
}

func section(ctx context.Context, tx pgx.Tx, sec appprofile.Section, params retention.Params) ([]any, error) {
	rows, err := tx.Query(ctx, sec.SQL, params)
	if err != nil {
		return nil, retention.Classify(err, "reading section "+sec.Name)
	}
	raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, retention.Classify(err, "reading section "+sec.Name)
	}
	records := make([]any, 0, len(raw))
	for _, r := range raw {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, retention.Errorf(retention.ReasonDatabaseError, "section %s: a row is not JSON", sec.Name)
		}
		records = append(records, v)
	}
	return records, nil
}

// exportFiles lists the files of the subject's record folders.
func exportFiles(ctx context.Context, tx pgx.Tx, p appprofile.Retention, folders *retention.Folders, params retention.Params) ([]retention.File, error) {
	var out []retention.File
	for _, q := range p.Subject.AccessFiles {
		set, ok := p.FileSet(q.Set)
		if !ok {
			return nil, retention.Errorf(retention.ReasonInvalidConfiguration, "the app profile names an unknown file set %q", q.Set)
		}
		var ids []int64
		if err := tx.QueryRow(ctx, q.SQL, params).Scan(&ids); err != nil {
			return nil, retention.Classify(err, "finding the subject's "+set.Name)
		}
		for _, id := range ids {
			files, err := folders.Files(retention.RecordDir(set, id))
			if err != nil {
				return nil, retention.Classify(err, "listing the subject's "+set.Name)
			}
			out = append(out, files...)
		}
	}
	return out, nil
}

// writeArchive writes the document, then every file, as a tar stream.
func writeArchive(w io.Writer, doc *Document, files []retention.File, folders *retention.Folders) error {
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return retention.Errorf(retention.ReasonDatabaseError, "encoding the export document failed")
	}
	tw := tar.NewWriter(w)
	mtime := doc.ExportedAt
	if err := tw.WriteHeader(&tar.Header{Name: DocumentName, Mode: 0o600, Size: int64(len(body)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return writeErr(err, "writing the export")
	}
	if _, err := tw.Write(body); err != nil {
		return writeErr(err, "writing the export")
	}
	for _, f := range files {
		if err := copyFile(tw, f, folders, mtime); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return writeErr(err, "writing the export")
	}
	return nil
}

func copyFile(tw *tar.Writer, f retention.File, folders *retention.Folders, mtime time.Time) error {
	r, err := folders.Open(f.Path)
	if err != nil {
		return retention.Classify(err, "reading an attachment")
	}
	defer r.Close()
	if err := tw.WriteHeader(&tar.Header{Name: path.Join(FilesDir, f.Path), Mode: 0o600, Size: f.Size, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return writeErr(err, "writing the export")
	}
	// A file that changed size since it was listed fails the write: the archive must
	// match its document.
	if _, err := io.Copy(tw, r); err != nil {
		return writeErr(err, "copying an attachment into the export")
	}
	return nil
}

// writeErr classifies a failure to write the archive as a file error.
func writeErr(err error, step string) error {
	e := retention.Classify(err, step)
	if e.Reason == retention.ReasonDatabaseError {
		e.Reason = retention.ReasonFileError
	}
	return e
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
