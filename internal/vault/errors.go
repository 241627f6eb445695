package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	ReasonRetainedState    = "VaultStateRetained"
	ReasonNotConfigured    = "VaultNotConfigured"
	ReasonError            = "VaultError"
)

// ErrNameConflict: a tenant's names in Vault hold something the operator did not create
// (a transit key with no ownership record). Nothing was changed.
var ErrNameConflict = errors.New("vault names are taken by something this operator did not create")

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
		return "rename the HelpdeskInstance or its namespace, or ask a Vault administrator to move the object aside"
	case errors.Is(e.Err, ErrRetainedState):
		return "to continue with that data, create the instance with spec.restoreFrom naming itself (it then adopts the key and its backups); to start empty, use another name, or have a Vault administrator delete the retained key and ownership record"
	case errors.Is(e.Err, ErrNotConfigured):
		return "set Vault up for the operator (the tenant policies and Kubernetes auth with use_annotations_as_alias_metadata; see config/vault/ and --vault-dev-bootstrap for development)"
	case isTLSConfigError(e.Err):
		return "Vault's TLS certificate is not trusted: pass its CA with --vault-ca-cert (or VAULT_CACERT) and check the address's host name"
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
	// A certificate Vault's CA does not sign is configuration, not an outage: backing off
	// would hide it. (*url.Error is a net.Error too, hence this check first.)
	if isTLSConfigError(err) {
		return false
	}
	var opErr *net.OpError
	var netErr net.Error
	if errors.As(err, &opErr) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return true
	}
	// The api package formats some transport failures into plain strings.
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "Vault is sealed")
}

func isTLSConfigError(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &record)
}

// ConditionMessage is a message for a status condition: what failed and how to fix it,
// without the raw transport error (addresses, ports) that would change from one attempt
// to the next and make the controller rewrite status in a loop.
func ConditionMessage(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		if IsUnavailable(err) {
			return "Vault is unreachable, sealed or overloaded"
		}
		return err.Error()
	}
	switch {
	case IsUnavailable(e.Err):
		return fmt.Sprintf("Vault unavailable during %s: %s", e.Op, e.hint())
	case IsPermissionDenied(e.Err):
		return fmt.Sprintf("%s (%s) failed: %s", e.Op, e.Path, e.hint())
	}
	return e.Error()
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
	case errors.Is(err, ErrRetainedState):
		return ReasonRetainedState
	case errors.Is(err, ErrNotConfigured):
		return ReasonNotConfigured
	}
	return ReasonError
}

func isNotFound(err error) bool {
	var resp *vaultapi.ResponseError
	return errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound
}
