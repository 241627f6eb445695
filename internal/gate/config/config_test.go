package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLoadReadsTheDocumentedFormatAndFillsDefaults(t *testing.T) {
	c, err := Load("testdata/oidc.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.IdleTimeout() != 30*time.Minute || c.AbsoluteTimeout() != 12*time.Hour {
		t.Errorf("timeouts %v, %v", c.IdleTimeout(), c.AbsoluteTimeout())
	}
	if c.OIDC.GroupsClaim != "groups" || !slices.Equal(c.OIDC.Scopes, DefaultScopes) {
		t.Errorf("defaults not filled in: %+v", c.OIDC)
	}
	// What the operator renders must read back the same.
	rendered, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, rendered, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, again); diff != "" {
		t.Errorf("round trip changed the configuration (-first +again):\n%s", diff)
	}
}

func TestLoadRefusesUnknownFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"upstreamURL": "http://x", "clientSecret": "inline!"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "clientSecret") {
		t.Errorf("err = %v, want the unknown field named", err)
	}
}

// valid is a minimal valid configuration to break one field at a time.
func valid() *Config {
	c := &Config{
		UpstreamURL:           "http://helpy:3000",
		ExternalURL:           "https://help.example.com",
		ProtectedPathPrefixes: []string{"/admin", "/api"},
		Cookie:                Cookie{HashKeyFile: "/keys/hash", BlockKeyFile: "/keys/block"},
		Session:               Session{IdleTimeout: metav1.Duration{Duration: 30 * time.Minute}, AbsoluteTimeout: metav1.Duration{Duration: 12 * time.Hour}},
		MFA:                   MFAFor(true, []string{MethodTOTP, MethodWebAuthn}),
		OIDC:                  &OIDC{IssuerURL: "https://login.example.com", ClientID: "helpdesk", ClientSecretFile: "/idp/secret"},
	}
	c.SetDefaults()
	return c
}

func TestValidateNamesTheField(t *testing.T) {
	ldap := func(c *Config) {
		c.OIDC = nil
		c.MFA = MFA{}
		c.LDAP = &LDAP{URL: "ldaps://ldap.example.com", BindDN: "cn=svc", BindPasswordFile: "/idp/pw", UserSearchBase: "ou=people"}
		c.SetDefaults()
	}
	for _, tc := range []struct {
		field  string
		mutate func(*Config)
	}{
		{"upstreamURL", func(c *Config) { c.UpstreamURL = "helpy:3000" }},
		{"externalURL", func(c *Config) { c.ExternalURL = "http://help.example.com" }},
		{"externalURL", func(c *Config) { c.ExternalURL = "https://help.example.com/helpdesk" }},
		{"protectedPathPrefixes", func(c *Config) { c.ProtectedPathPrefixes = nil }},
		{"protectedPathPrefixes[1]", func(c *Config) { c.ProtectedPathPrefixes[1] = "/api/../admin" }},
		{"allowedGroups[0]", func(c *Config) { c.AllowedGroups = []string{" "} }},
		{"cookie.name", func(c *Config) { c.Cookie.Name = "bad name;" }},
		{"cookie.hashKeyFile", func(c *Config) { c.Cookie.HashKeyFile = "" }},
		{"cookie.blockKeyFile", func(c *Config) { c.Cookie.BlockKeyFile = "keys/block" }},
		{"session.idleTimeout", func(c *Config) { c.Session.IdleTimeout.Duration = 30 * time.Second }},
		{"session.absoluteTimeout", func(c *Config) { c.Session.AbsoluteTimeout.Duration = 800 * time.Hour }},
		{"session.idleTimeout", func(c *Config) { c.Session.IdleTimeout.Duration = 13 * time.Hour }},
		{"oidc/saml/ldap", func(c *Config) { c.OIDC = nil }},
		{"oidc/saml/ldap", func(c *Config) { c.SAML = &SAML{MetadataURL: "https://idp/metadata"} }},
		{"oidc.issuerURL", func(c *Config) { c.OIDC.IssuerURL = "http://login.example.com" }},
		{"oidc.clientSecretFile", func(c *Config) { c.OIDC.ClientSecretFile = "" }},
		{"mfa.acceptedAMR", func(c *Config) { c.MFA.AcceptedAMR = nil }},
		{"saml.metadataURL", func(c *Config) { c.OIDC = nil; c.SAML = &SAML{MetadataURL: "ftp://idp"}; c.SetDefaults() }},
		{"saml.binding", func(c *Config) {
			c.OIDC = nil
			c.SAML = &SAML{MetadataURL: "https://idp", Binding: "artifact"}
			c.SetDefaults()
		}},
		{"saml.keyFile", func(c *Config) {
			c.OIDC = nil
			c.SAML = &SAML{MetadataURL: "https://idp", KeyFile: "/k"}
			c.SetDefaults()
		}},
		{"mfa.acceptedAuthnContextClassRefs", func(c *Config) {
			c.OIDC = nil
			c.SAML = &SAML{MetadataURL: "https://idp"}
			c.MFA.AcceptedAuthnContextClassRefs = nil
			c.SetDefaults()
		}},
		{"ldap.url", func(c *Config) { ldap(c); c.LDAP.URL = "ldap://ldap.example.com" }},
		{"ldap.userFilter", func(c *Config) { ldap(c); c.LDAP.UserFilter = "(uid=admin)" }},
		{"ldap.groupSearch.filter", func(c *Config) { ldap(c); c.LDAP.GroupSearch = &LDAPGroupSearch{Base: "ou=groups", Filter: "(cn=x)"} }},
		{"mfa.required", func(c *Config) { ldap(c); c.MFA.Required = true }},
	} {
		c := valid()
		tc.mutate(c)
		err := c.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Problems, func(p string) bool { return strings.HasPrefix(p, tc.field+": ") }) {
			t.Errorf("breaking %s: err = %v, want a problem naming %s", tc.field, err, tc.field)
		}
	}
	c := valid()
	if err := c.Validate(); err != nil {
		t.Errorf("valid configuration refused: %v", err)
	}
	ldap(c)
	if err := c.Validate(); err != nil {
		t.Errorf("LDAP without MFA refused: %v", err)
	}
}

func TestMFAForMapsMethodsToEvidence(t *testing.T) {
	for _, tc := range []struct {
		methods []string
		amr     []string
	}{
		{[]string{MethodTOTP}, []string{"otp", "mfa"}},
		{[]string{MethodWebAuthn}, []string{"hwk", "swk", "mfa"}},
		{[]string{MethodTOTP, MethodWebAuthn}, []string{"otp", "hwk", "swk", "mfa"}},
	} {
		got := MFAFor(true, tc.methods)
		if !slices.Equal(got.AcceptedAMR, tc.amr) {
			t.Errorf("%v: amr %v, want %v", tc.methods, got.AcceptedAMR, tc.amr)
		}
		if !slices.Equal(got.AcceptedAuthnContextClassRefs, []string{ClassREFEDSMFA, ClassMicrosoftMultipleAuthn}) {
			t.Errorf("%v: SAML classes %v", tc.methods, got.AcceptedAuthnContextClassRefs)
		}
	}
	if got := MFAFor(false, []string{MethodTOTP}); got.Required || got.AcceptedAMR != nil {
		t.Errorf("MFA not required: %+v", got)
	}
}

func TestReadCookieKeysChecksLengths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key32 := "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\n" // 32 bytes
	key16 := "MDEyMzQ1Njc4OTAxMjM0NQ=="                       // 16 bytes
	if _, err := (Cookie{HashKeyFile: write("h", key32), BlockKeyFile: write("b", key32)}).ReadCookieKeys(); err != nil {
		t.Errorf("good keys refused: %v", err)
	}
	for field, c := range map[string]Cookie{
		"cookie.hashKeyFile":  {HashKeyFile: write("h16", key16), BlockKeyFile: write("b", key32)},
		"cookie.blockKeyFile": {HashKeyFile: write("h", key32), BlockKeyFile: write("b16", key16)},
	} {
		if _, err := c.ReadCookieKeys(); err == nil || !strings.HasPrefix(err.Error(), field) {
			t.Errorf("short key: err = %v, want it to name %s", err, field)
		}
	}
	if _, err := (Cookie{HashKeyFile: write("raw", "not base64 at all!"), BlockKeyFile: write("b", key32)}).ReadCookieKeys(); err == nil || strings.Contains(err.Error(), "not base64") {
		t.Errorf("err = %v: want a refusal that does not quote the file", err)
	}
}
