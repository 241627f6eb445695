package gate

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

func TestProtectedPrefixesCoverSpellingsOfTheSamePath(t *testing.T) {
	g := &Gate{cfg: &config.Config{ProtectedPathPrefixes: []string{"/admin", "/api"}}}
	for path, want := range map[string]bool{
		"/admin": true, "/admin/": true, "/admin/topics/1": true, "/admin.json": true, "/Admin": true,
		"//admin": true, "/./admin": true, "/x/../admin": true, "/api/v1/tickets": true, "admin": true,
		"/": false, "/en/knowledgebase": false, "/tickets/new": false, "/widget": false, "/x/admin": false,
	} {
		if got := g.protected(path); got != want {
			t.Errorf("protected(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestReturnPathStaysOnThisHost(t *testing.T) {
	for in, want := range map[string]string{
		"/admin?x=1": "/admin?x=1", "//evil.example/admin": "/", "/\\evil.example": "/", "https://evil.example/": "/", "": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIdentityHeadersAreRecognisedInEverySpelling(t *testing.T) {
	for _, name := range []string{"X-Forwarded-User", "x-forwarded-user", "X_Forwarded_User", "X-Forwarded-Groups", "Remote-User",
		"REMOTE_USER", "X-Remote-User", "X-Auth-Request-Email", "X-Forwarded-Preferred-Username"} {
		if !isIdentityHeader(name) {
			t.Errorf("%s is not stripped", name)
		}
	}
	for _, name := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "Cookie", "Authorization", "User-Agent", "X-Csrf-Token"} {
		if isIdentityHeader(name) {
			t.Errorf("%s is stripped, but is no identity header", name)
		}
	}
}

func TestMainReportsConfigurationErrorsByField(t *testing.T) {
	var stderr bytes.Buffer
	err := Main(context.Background(), []string{"--config=testdata/does-not-exist.json"}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.json") {
		t.Errorf("err = %v", err)
	}
	err = Main(context.Background(), []string{"--config=config/testdata/oidc.json"}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "cookie.hashKeyFile") {
		t.Errorf("err = %v, want the missing key file named by its field", err)
	}
}
