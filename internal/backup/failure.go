package backup

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

// What pg_dump, pg_restore and PostgreSQL say when they fail can quote the data: COPY
// context lines hold whole rows, DETAIL lines key values, and attachment paths name
// customers' files. Errors end up in the Job's termination message, then in Kubernetes
// status and Events that `view` users read, so no error carries such words: a failure is
// recognised as one of a fixed set of classes, and the error says, in our own words, what
// failed and how to fix it.

// Class is a kind of failure.
type Class string

// The classes, as reported in the result line's errorClass.
const (
	ClassConnection     Class = "connection"
	ClassAuthentication Class = "authentication"
	ClassTLS            Class = "tls"
	ClassPermission     Class = "permission"
	ClassMissing        Class = "missing-database"
	ClassNotEmpty       Class = "target-not-empty"
	ClassDataRejected   Class = "data-rejected"
	ClassDiskFull       Class = "disk-full"
	ClassOutOfMemory    Class = "out-of-memory"
	ClassVersion        Class = "version-mismatch"
	ClassCorrupt        Class = "corrupt-input"
	ClassCancelled      Class = "cancelled"
	ClassOther          Class = "other"
)

// classText says what each class means and how to fix it.
var classText = map[Class]string{
	ClassConnection:     "could not reach the database server, or lost the connection: check the database host and port, that the server runs, and that network policies let the Job reach it",
	ClassAuthentication: "the database server refused the login: check the database user, its password Secret, and the server's pg_hba.conf",
	ClassTLS:            "the TLS connection to the database server failed: check --db-sslmode, that --db-sslrootcert holds the CA that issued the server certificate, and that the certificate names --db-host",
	ClassPermission:     "permission denied: grant the database user the rights this needs (for a restore, ownership of the target database or CREATE on its schemas)",
	ClassMissing:        "the database does not exist: create it, or check --db-name",
	ClassNotEmpty:       "objects of the backup already exist in the target: restore into a new, empty database",
	ClassDataRejected:   "the target database rejected restored rows (a constraint, type or encoding check): restore into a database created like the original (encoding, extensions, settings)",
	ClassDiskFull:       "no space left: enlarge the volume the database server (or the drill's scratch folder) writes to",
	ClassOutOfMemory:    "out of memory: raise the memory limit of the Job (or of the database server)",
	ClassVersion:        "PostgreSQL version mismatch: set --pg-bin-dir to client programs of the server's major version or newer",
	ClassCorrupt:        "the archive stream is not a valid PostgreSQL archive (damaged or cut short): run a drill, or restore another backup",
	ClassCancelled:      "cancelled or timed out (the Job's deadline, or a shutdown)",
	ClassOther:          "failed for a reason not recognised",
}

// debugHint points at the way to see the tool's own words, which this error never holds.
const debugHint = "; to see the program's own messages, run with --debug-tool-output (they can contain personal data)"

// Failure is a classified failure: What names the step from our own settings (a program,
// a database name), never from the data; Code is a SQLSTATE or an exit status.
type Failure struct {
	What  string
	Class Class
	Code  string
}

func (f *Failure) Error() string {
	code := ""
	if f.Code != "" {
		code = " (" + f.Code + ")"
	}
	msg := fmt.Sprintf("%s failed%s: %s", f.What, code, classText[f.Class])
	if f.Class != ClassCancelled {
		msg += debugHint
	}
	return msg
}

// Is makes errors.Is(err, context.Canceled) hold for a cancelled step.
func (f *Failure) Is(target error) bool {
	return f.Class == ClassCancelled && target == context.Canceled
}

// ClassKeyTrimmed is the class of an error about a backup whose transit key version was
// trimmed by crypto-shredding: it cannot be decrypted any more.
const ClassKeyTrimmed Class = "key-version-trimmed"

// ErrorClass is the class of the first Failure in err's chain, or ClassKeyTrimmed; ""
// when it has neither.
func ErrorClass(err error) Class {
	if errors.Is(err, vaultage.ErrKeyVersionTrimmed) {
		return ClassKeyTrimmed
	}
	var f *Failure
	if errors.As(err, &f) {
		return f.Class
	}
	return ""
}

// pattern recognises a class in a line of a program's messages (lower-cased); all of
// parts must occur. Patterns are tried in order, most specific first, and the first line
// that matches decides: a program's first error is the cause, the rest its consequences.
// PostgreSQL servers configured for another language send their messages translated;
// those are classified "other" (the programs themselves run with LC_ALL=C).
type pattern struct {
	class Class
	parts []string
}

var patterns = func() []pattern {
	var ps []pattern
	add := func(c Class, alternatives ...string) {
		for _, a := range alternatives {
			ps = append(ps, pattern{c, strings.Split(a, "&")})
		}
	}
	add(ClassTLS, "certificate verify failed", "server certificate", "root certificate", "ssl error", "ssl syscall",
		"does not support ssl", "ssl connection", "sslmode", "x509")
	add(ClassAuthentication, "password authentication failed", "authentication failed", "no pg_hba.conf entry",
		"no password supplied", "role \"&does not exist")
	add(ClassMissing, "database \"&does not exist")
	add(ClassPermission, "permission denied", "must be owner", "must be superuser", "must be member of")
	add(ClassDiskFull, "no space left on device", "disk full", "could not extend file", "disk quota exceeded")
	add(ClassOutOfMemory, "out of memory", "cannot allocate memory")
	add(ClassVersion, "version mismatch", "unsupported version")
	add(ClassNotEmpty, "already exists")
	add(ClassDataRejected, "violates", "invalid input syntax", "invalid byte sequence", "value too long",
		"out of range", "has no equivalent in encoding", "null value in column")
	add(ClassCorrupt, "end of file", "magic string", "not a valid archive", "does not appear to be a valid archive",
		"could not read input file", "could not read from input file", "unrecognized data block", "could not find block id",
		"corrupt", "text format dump")
	add(ClassConnection, "could not connect", "connection refused", "timeout expired", "timed out",
		"could not translate host name", "name or service not known", "no route to host", "network is unreachable",
		"server closed the connection", "connection to server", "could not receive data", "could not send data",
		"terminating connection", "the database system is", "too many clients", "connection reset", "broken pipe")
	return ps
}()

// classifyLine is the class of one message line; "" when none matches.
func classifyLine(line string) Class {
	l := strings.ToLower(line)
	for _, p := range patterns {
		all := true
		for _, part := range p.parts {
			if !strings.Contains(l, part) {
				all = false
				break
			}
		}
		if all {
			return p.class
		}
	}
	return ""
}

// maxLine bounds what the classifier keeps of one line; the words that classify come early.
const maxLine = 2048

// classifier is a program's stderr: it keeps no text, only the class of the first line
// that has one. Lines are cut at maxLine bytes.
type classifier struct {
	mu    sync.Mutex
	line  []byte
	class Class
}

func (c *classifier) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		chunk := rest
		if i >= 0 {
			chunk = rest[:i]
		}
		if room := maxLine - len(c.line); room > 0 {
			c.line = append(c.line, chunk[:min(room, len(chunk))]...)
		}
		if i < 0 {
			break
		}
		c.endLine()
		rest = rest[i+1:]
	}
	return len(p), nil
}

func (c *classifier) endLine() {
	if c.class == "" {
		c.class = classifyLine(string(c.line))
	}
	clear(c.line)
	c.line = c.line[:0]
}

// result is the class of everything written, the unfinished last line included.
func (c *classifier) result() Class {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLine()
	return c.class
}

// dbFailure classifies an error of a pgx call by its SQLSTATE or its kind. The server's
// message, detail and context are not kept: they can quote values.
func dbFailure(what string, err error) error {
	if err == nil {
		return nil
	}
	f := &Failure{What: what, Class: ClassOther}
	var pgErr *pgconn.PgError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		f.Code = "SQLSTATE " + pgErr.Code
		f.Class = sqlStateClass(pgErr.Code)
	case errors.Is(err, context.Canceled):
		f.Class = ClassCancelled
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert), errors.As(err, &verifyErr),
		strings.Contains(err.Error(), "tls: "), strings.Contains(err.Error(), "server refused TLS"):
		f.Class = ClassTLS
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		f.Class = ClassConnection
	case errors.Is(err, syscall.ENOSPC):
		f.Class = ClassDiskFull
	}
	return f
}

// sqlStateClass maps a SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html)
// to a class.
func sqlStateClass(code string) Class {
	switch code {
	case "42501":
		return ClassPermission
	case "3D000":
		return ClassMissing
	case "53100":
		return ClassDiskFull
	case "53200":
		return ClassOutOfMemory
	case "53300", "57P01", "57P02", "57P03":
		return ClassConnection
	case "57014":
		return ClassCancelled
	case "42P04", "42P06", "42P07", "42710", "42723":
		return ClassNotEmpty
	}
	switch {
	case strings.HasPrefix(code, "28"):
		return ClassAuthentication
	case strings.HasPrefix(code, "08"):
		return ClassConnection
	case strings.HasPrefix(code, "22"), strings.HasPrefix(code, "23"):
		return ClassDataRejected
	}
	return ClassOther
}

// teeTo writes to w and, when set, to out too; a failing out (a closed stderr) is ignored
// rather than stopping the program whose output it is.
func teeTo(w, out io.Writer) io.Writer {
	if out == nil {
		return w
	}
	return io.MultiWriter(w, ignoreErrors{out})
}

type ignoreErrors struct{ w io.Writer }

func (i ignoreErrors) Write(p []byte) (int, error) {
	_, _ = i.w.Write(p)
	return len(p), nil
}
