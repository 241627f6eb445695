// Package dsr runs data-subject requests (GDPR articles 15 to 17) against one helpdesk's
// database: Access exports every record of one person as a tar stream (one JSON document
// and their attachment files) that the caller encrypts and uploads; Erasure removes or
// anonymizes all of it, including the copies the application itself leaves behind;
// Rectification corrects allowed fields of their account. What each means for an
// application is data in its app profile (appprofile.Subject).
//
// The subject is an e-mail address. Requests about the system user or an administrator
// are refused with a reason; no request writes the address or any record into its result
// or its errors.
package dsr

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
)

// Type of a request.
type Type string

const (
	Access        Type = "Access"
	Erasure       Type = "Erasure"
	Rectification Type = "Rectification"
)

// Results of a request.
const (
	Succeeded = "Succeeded"
	Refused   = "Refused"
	Failed    = "Failed"
)

// Defaults of Request.
const (
	DefaultLockTimeout = 5 * time.Second
	// Erasure scans whole tables for the address; that may take a while on big ones.
	DefaultStatementTimeout = 10 * time.Minute
)

// Request is one data-subject request.
type Request struct {
	Type Type
	// Subject is the person's e-mail address.
	Subject string
	// Set holds, for Rectification, the new value of each field.
	Set map[string]string
	// Output receives the Access archive (a tar stream).
	Output io.Writer
	// AttachmentsDir is the root of the attachments volume.
	AttachmentsDir   string
	LockTimeout      time.Duration
	StatementTimeout time.Duration
	// Now is the export's time stamp.
	Now time.Time
}

// Result is what the `dsr` subcommand prints as its last line: counts and names of
// sections, tables and fields, never the subject's address or any value.
type Result struct {
	Type   Type   `json:"type"`
	Result string `json:"result"`
	// AccountFound is false when the address belongs to no account; it may still appear
	// in other people's messages, which Access and Erasure then cover.
	AccountFound bool `json:"accountFound"`
	// Records counts, for Access, the records per section; for Erasure and
	// Rectification, the rows changed per table.
	Records map[string]int64 `json:"records"`
	// Files exported (Access) or removed (Erasure), and the archive's size.
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes,omitempty"`
	// Redacted counts the mentions of other people the export replaced.
	Redacted int `json:"redacted,omitempty"`
	// Fields set by a Rectification.
	Fields []string `json:"fields,omitempty"`
	// Protection is why the request was refused.
	Protection      appprofile.Protection `json:"protection,omitempty"`
	DurationSeconds float64               `json:"durationSeconds"`
	Reason          retention.Reason      `json:"reason,omitempty"`
	Error           string                `json:"error,omitempty"`
}

// Run runs req. It always returns a result; one that did not succeed has a Reason.
func Run(ctx context.Context, conn *pgx.Conn, p appprofile.Retention, req Request) *Result {
	started := time.Now()
	if req.LockTimeout <= 0 {
		req.LockTimeout = DefaultLockTimeout
	}
	if req.StatementTimeout <= 0 {
		req.StatementTimeout = DefaultStatementTimeout
	}
	if req.Now.IsZero() {
		req.Now = started
	}
	res := &Result{Type: req.Type, Result: Succeeded, Records: map[string]int64{}}
	if err := run(ctx, conn, p, req, res); err != nil {
		e := retention.Classify(err, string(req.Type))
		res.Reason, res.Error = e.Reason, e.Message
		if e.Reason == retention.ReasonRefused {
			res.Result = Refused
		} else {
			res.Result = Failed
		}
	}
	res.DurationSeconds = time.Since(started).Seconds()
	return res
}

func run(ctx context.Context, conn *pgx.Conn, p appprofile.Retention, req Request, res *Result) error {
	email, err := checkSubject(req.Subject)
	if err != nil {
		return err
	}
	if req.Type != Access && req.Type != Erasure && req.Type != Rectification {
		return retention.Errorf(retention.ReasonInvalidRequest, "unknown request type %q (want Access, Erasure or Rectification)", req.Type)
	}
	if req.Type != Rectification && len(req.Set) > 0 {
		return retention.Errorf(retention.ReasonInvalidRequest, "fields to set are only for Rectification")
	}
	if req.AttachmentsDir == "" && req.Type != Rectification {
		return retention.Errorf(retention.ReasonInvalidConfiguration, "no attachments folder: %s covers the subject's files too", req.Type)
	}
	s, err := lookup(ctx, conn, p.Subject, email)
	if err != nil {
		return err
	}
	res.AccountFound = s.found
	if s.protection != "" {
		res.Protection = s.protection
		return refusal(s.protection)
	}
	switch req.Type {
	case Access:
		return access(ctx, conn, p, req, s, res)
	case Erasure:
		return erase(ctx, conn, p, req, s, res)
	default:
		return rectify(ctx, conn, p.Subject.Rectify, req, s, res)
	}
}

// checkSubject accepts one bare e-mail address (no display name, no list).
func checkSubject(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", retention.Errorf(retention.ReasonInvalidRequest, "the subject must be one e-mail address such as name@example.com")
	}
	return s, nil
}

// subject is who a request is about.
type subject struct {
	email string
	found bool
	id    int64
	name  string
	// protection refuses the request when set.
	protection appprofile.Protection
}

// idParam is the account id, or NULL without an account.
func (s subject) idParam() pgtype.Int8 { return pgtype.Int8{Int64: s.id, Valid: s.found} }

// ids is the account id as a list, empty without an account.
func (s subject) ids() []int64 {
	if !s.found {
		return []int64{}
	}
	return []int64{s.id}
}

func (s subject) nameParam() pgtype.Text {
	return pgtype.Text{String: s.name, Valid: s.found && s.name != ""}
}

func text(s string) pgtype.Text { return pgtype.Text{String: s, Valid: true} }

func lookup(ctx context.Context, conn *pgx.Conn, sp appprofile.Subject, email string) (subject, error) {
	s := subject{email: email}
	rows, err := conn.Query(ctx, sp.Lookup, retention.Params{"email": text(email)})
	if err != nil {
		return s, retention.Classify(err, "looking the subject up")
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, protection pgtype.Text
		if err := rows.Scan(&s.id, &name, &protection); err != nil {
			return s, retention.Classify(err, "looking the subject up")
		}
		s.found, s.name, s.protection = true, name.String, appprofile.Protection(protection.String)
		n++
	}
	if err := rows.Err(); err != nil {
		return s, retention.Classify(err, "looking the subject up")
	}
	if n > 1 {
		return s, retention.Errorf(retention.ReasonAmbiguousSubject, "%d accounts have this address in different letter case: merge or rename them in the helpdesk first", n)
	}
	return s, nil
}

func refusal(p appprofile.Protection) error {
	msg := map[appprofile.Protection]string{
		appprofile.ProtectedSystemUser: "the address belongs to the application's system user, which the application relies on and which is no person's account",
		appprofile.ProtectedAdministrator: "the address belongs to an administrator: another administrator must first give the account a " +
			"non-administrator role in the helpdesk, then repeat the request",
		appprofile.ProtectedLastAdministrator: "the address belongs to the last administrator: the helpdesk would be left without one; " +
			"make another account administrator, give this one another role, then repeat the request",
	}[p]
	if msg == "" {
		msg = fmt.Sprintf("the app profile protects this account (%s)", p)
	}
	return retention.Errorf(retention.ReasonRefused, "%s", msg)
}

// begin starts a transaction with the request's timeouts.
func begin(ctx context.Context, conn *pgx.Conn, req Request, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, retention.Classify(err, "starting a transaction")
	}
	if err := retention.SetTimeouts(ctx, tx, req.LockTimeout, req.StatementTimeout); err != nil {
		_ = tx.Rollback(ctx)
		return nil, retention.Classify(err, "setting timeouts")
	}
	return tx, nil
}
