package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	vaultapi "github.com/hashicorp/vault/api"
)

// Reasons for status conditions: stable CamelCase, one per error class.
const (
	ReasonUnavailable      = "VaultUnavailable"
	ReasonPermissionDenied = "VaultPermissionDenied"
	ReasonNameConflict     = "VaultNameConflict"
	ReasonError            = "VaultError"
)

// ErrNameConflict: the tenant's names in Vault belong to another tenant (a namespace and
// name that join with dashes to the same string, e.g. a-b/c and a/b-c). Nothing was changed.
var ErrNameConflict = errors.New("vault names already belong to another tenant")

// Error is what every Client method returns: the operation, the Vault path, the cause and
// what to do. It never holds request bodies, so no secret value or token ends up in it.
type Error struct {
	Op   string // e.g. "create transit key"
	Path string // Vault API path, without /v1/
	Err  error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("vault: %s (%s): %s", e.Op, e.Path, describe(e.Err))
	if hint := e.hint(); hint != "" {
		msg += ": " + hint
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) hint() string {
	switch {
	case IsUnavailable(e.Err):
		return "Vault is unreachable, sealed or overloaded (transient: retry later; check Vault's health if it persists)"
	case IsPermissionDenied(e.Err):
		return fmt.Sprintf("the operator's Vault token is not allowed this; grant the capability on %q in the policy of the operator's Vault role (or the token expired: check the operator's Vault login)", e.Path)
	case errors.Is(e.Err, ErrNameConflict):
		return "rename the HelpdeskInstance or its namespace, or change --vault-prefix"
	}
	return ""
}

// describe keeps Vault's own error messages but drops the request URL noise.
func describe(err error) string {
	var resp *vaultapi.ResponseError
	if errors.As(err, &resp) {
		if len(resp.Errors) > 0 {
			var msgs []string
			for _, e := range resp.Errors {
				// Vault wraps single errors as "1 error occurred:\n\t* permission denied\n\n".
				e = strings.TrimPrefix(strings.Join(strings.Fields(e), " "), "1 error occurred: * ")
				msgs = append(msgs, e)
			}
			return fmt.Sprintf("%d %s: %s", resp.StatusCode, http.StatusText(resp.StatusCode), strings.Join(msgs, "; "))
		}
		return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return err.Error()
}

func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	return &Error{Op: op, Path: path, Err: err}
}

// IsUnavailable: Vault could not be reached or could not serve (connection refused, timeout,
// 5xx, sealed, standby). Transient: requeue with backoff.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var resp *vaultapi.ResponseError
	if errors.As(err, &resp) {
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	// The caller cancelling is not Vault's fault; our own request timeout is.
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// The api package formats some transport failures into plain strings.
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "Vault is sealed")
}

// IsPermissionDenied: Vault answered 403, so the operator's token lacks a capability (or
// has expired). Retrying does not help until someone changes the policy.
func IsPermissionDenied(err error) bool {
	var resp *vaultapi.ResponseError
	return errors.As(err, &resp) && resp.StatusCode == http.StatusForbidden
}

// IsNameConflict: see ErrNameConflict. Terminal for the object.
func IsNameConflict(err error) bool { return errors.Is(err, ErrNameConflict) }

// Reason maps an error to a condition reason.
func Reason(err error) string {
	switch {
	case IsUnavailable(err):
		return ReasonUnavailable
	case IsPermissionDenied(err):
		return ReasonPermissionDenied
	case IsNameConflict(err):
		return ReasonNameConflict
	}
	return ReasonError
}

func isNotFound(err error) bool {
	var resp *vaultapi.ResponseError
	return errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound
}
