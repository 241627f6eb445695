package vault

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

func TestErrorClasses(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name        string
		err         error
		unavailable bool
		denied      bool
		reason      string
	}{
		{"nil", nil, false, false, ReasonError},
		{"503 sealed", &vaultapi.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed"}}, true, false, ReasonUnavailable},
		{"500", &vaultapi.ResponseError{StatusCode: 500}, true, false, ReasonUnavailable},
		{"429", &vaultapi.ResponseError{StatusCode: 429}, true, false, ReasonUnavailable},
		{"403", &vaultapi.ResponseError{StatusCode: 403, Errors: []string{"1 error occurred:\n\t* permission denied\n\n"}}, false, true, ReasonPermissionDenied},
		{"400", &vaultapi.ResponseError{StatusCode: 400, Errors: []string{"bad"}}, false, false, ReasonError},
		{"connection refused", refused, true, false, ReasonUnavailable},
		{"our deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), true, false, ReasonUnavailable},
		{"caller cancelled", fmt.Errorf("get: %w", context.Canceled), false, false, ReasonError},
		{"untrusted certificate", fmt.Errorf("get: %w", x509.UnknownAuthorityError{}), false, false, ReasonError},
		{"name conflict", wrap("claim", "sys/policies/acl/p", ErrNameConflict), false, false, ReasonNameConflict},
		{"wrapped 403", wrap("write policy", "sys/policies/acl/p", &vaultapi.ResponseError{StatusCode: 403}), false, true, ReasonPermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsUnavailable(tt.err); got != tt.unavailable {
				t.Errorf("IsUnavailable = %t", got)
			}
			if got := IsPermissionDenied(tt.err); got != tt.denied {
				t.Errorf("IsPermissionDenied = %t", got)
			}
			if got := Reason(tt.err); got != tt.reason {
				t.Errorf("Reason = %s, want %s", got, tt.reason)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	denied := wrap("write policy", "sys/policies/acl/helpdesk-a-b", &vaultapi.ResponseError{
		StatusCode: 403, HTTPMethod: "PUT", URL: "http://127.0.0.1:8200/v1/sys/policies/acl/helpdesk-a-b",
		Errors: []string{"1 error occurred:\n\t* permission denied\n\n"},
	})
	want := `vault: write policy (sys/policies/acl/helpdesk-a-b): 403 Forbidden: permission denied: the operator's Vault token is not allowed this; grant the capability on "sys/policies/acl/helpdesk-a-b" in the policy of the operator's Vault role (or the token expired: check the operator's Vault login)`
	if got := denied.Error(); got != want {
		t.Errorf("message:\n%s\nwant:\n%s", got, want)
	}
	down := wrap("read transit key", "transit/keys/k", &net.OpError{Op: "dial", Net: "tcp",
		Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	msg := ConditionMessage(down)
	if strings.Contains(msg, "41234") || !strings.Contains(msg, "read transit key") {
		t.Errorf("condition message has volatile text or lacks the operation: %s", msg)
	}
}

// TestUntrustedTLS: a Vault whose certificate the operator does not trust is a configuration
// error with a fix, not an outage to wait out.
func TestUntrustedTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	cfg := testConfig(shared)
	cfg.Address = srv.URL
	cfg.RequestTimeout = 2 * time.Second
	_, err := New(context.Background(), cfg, testLogger(t))
	if err == nil || IsUnavailable(err) {
		t.Fatalf("New against an untrusted certificate: %v, want a configuration error", err)
	}
	if !strings.Contains(err.Error(), "--vault-ca-cert") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("not an *Error: %T", err)
	}
}
