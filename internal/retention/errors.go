package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// Reason classifies why a run or request failed, as a stable CamelCase value the
// controller can put into a condition.
type Reason string

const (
	ReasonInvalidConfiguration Reason = "InvalidConfiguration"
	ReasonUnsupportedDataClass Reason = "UnsupportedDataClass"
	ReasonConnectionFailed     Reason = "ConnectionFailed"
	ReasonLockTimeout          Reason = "LockTimeout"
	ReasonStatementTimeout     Reason = "StatementTimeout"
	ReasonConflict             Reason = "Conflict"
	ReasonPermissionDenied     Reason = "PermissionDenied"
	ReasonSchemaMismatch       Reason = "SchemaMismatch"
	ReasonConstraintViolation  Reason = "ConstraintViolation"
	ReasonDatabaseError        Reason = "DatabaseError"
	ReasonFileError            Reason = "FileError"
	ReasonCanceled             Reason = "Canceled"
	// Data-subject requests only.
	ReasonRefused          Reason = "Refused"
	ReasonInvalidRequest   Reason = "InvalidRequest"
	ReasonAmbiguousSubject Reason = "AmbiguousSubject"
)

// Error is a classified failure. Its message is built only from what this package
// writes (step names, SQLSTATE codes, table and constraint names, error kinds), never from
// a database message, a row or a path, which may carry personal data.
type Error struct {
	Reason  Reason
	Message string
	// Retryable errors (lock timeouts, deadlocks, serialization failures) may succeed
	// when the batch runs again.
	Retryable bool
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Message }

// Errorf returns a classified error with a message formatted from safe values only.
func Errorf(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Classify turns err, which happened during step (a description without data), into an
// *Error. An *Error passes through unchanged.
func Classify(err error, step string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Errorf(ReasonCanceled, "%s: canceled or out of time", step)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return classifyPg(pg, step)
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		// The operation and the system's error, not the path: a file name may be personal.
		return Errorf(ReasonFileError, "%s: %s failed: %v", step, pathErr.Op, pathErr.Err)
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) {
		return Errorf(ReasonConnectionFailed, "%s: the database connection failed or was lost", step)
	}
	// Anything else may quote a value (encoding errors do), so only its type is told.
	return Errorf(ReasonDatabaseError, "%s: unexpected %T error", step, err)
}

func classifyPg(pg *pgconn.PgError, step string) *Error {
	where := ""
	if pg.TableName != "" {
		where += " on table " + pg.TableName
	}
	if pg.ConstraintName != "" {
		where += " (constraint " + pg.ConstraintName + ")"
	}
	msg := fmt.Sprintf("%s: SQLSTATE %s%s", step, pg.Code, where)
	e := &Error{Reason: ReasonDatabaseError, Message: msg}
	switch {
	case pg.Code == "55P03":
		e.Reason, e.Retryable = ReasonLockTimeout, true
		e.Message += ": a lock was not granted within the lock timeout (the application holds the rows)"
	case pg.Code == "57014":
		e.Reason = ReasonStatementTimeout
		e.Message += ": a statement ran longer than the statement timeout"
	case pg.Code == "40P01" || pg.Code == "40001":
		e.Reason, e.Retryable = ReasonConflict, true
		e.Message += ": deadlock or serialization failure with a concurrent transaction"
	case pg.Code == "42501":
		e.Reason = ReasonPermissionDenied
		e.Message += ": the database user lacks a privilege"
	case pg.Code == "42P01" || pg.Code == "42703" || pg.Code == "42883" || pg.Code == "42804":
		e.Reason = ReasonSchemaMismatch
		e.Message += ": the database schema is not what the app profile expects"
	case len(pg.Code) == 5 && pg.Code[:2] == "23":
		e.Reason = ReasonConstraintViolation
	case len(pg.Code) == 5 && pg.Code[:2] == "08":
		e.Reason = ReasonConnectionFailed
	}
	return e
}
