package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// TestFailedRestorePrintsNoPersonalData: a restore fails on a row holding an e-mail address
// and a file name; neither the returned error nor the result line (the termination message)
// holds them. With --debug-tool-output, stderr does, for the administrator who asked.
func TestFailedRestorePrintsNoPersonalData(t *testing.T) {
	const email, file = "jane.roe.4711@example.org", "passport-jane-roe-4711.pdf"
	ctx := context.Background()
	pg := postgres.Start(t)
	v := vaultdev.Start(t)
	client := v.Client(t)
	if err := client.Sys().MountWithContext(ctx, "transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Logical().WriteWithContext(ctx, "transit/keys/helpdesk-ns-desk", nil); err != nil {
		t.Fatal(err)
	}
	pg.CreateDatabase(t, "app")
	pg.CreateDatabase(t, "restored")
	for db, sqls := range map[string][]string{
		"app": {
			// The CHECK fails rows in a database where test.reject_rows is on.
			`CREATE FUNCTION accepted(v text) RETURNS boolean LANGUAGE sql AS $$ SELECT coalesce(current_setting('test.reject_rows', true), '') <> 'on' $$`,
			`CREATE TABLE contacts (id int PRIMARY KEY, email text NOT NULL CHECK (accepted(email)), attachment text)`,
			`INSERT INTO contacts VALUES (1, '` + email + `', '` + file + `')`,
		},
		"postgres": {`ALTER DATABASE restored SET test.reject_rows = 'on'`},
	} {
		conn, err := pgx.Connect(ctx, pg.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range sqls {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		conn.Close(ctx)
	}
	t.Setenv("PGPASSWORD", pg.Password)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	common := []string{"--db-host=" + pg.Host, "--db-port=" + itoa(pg.Port), "--db-user=" + pg.User, "--db-sslmode=disable",
		"--pg-bin-dir=" + pg.BinDir(), "--path=" + t.TempDir(), "--vault-addr=" + v.Addr, "--transit-key=helpdesk-ns-desk",
		"--instance-namespace=ns", "--instance-name=desk"}
	if _, err := runMain(t, "backup", append(common, "--db-name=app")...); err != nil {
		t.Fatal(err)
	}
	var debug bytes.Buffer
	saved := debugOutput
	debugOutput = &debug
	t.Cleanup(func() { debugOutput = saved })
	for _, args := range [][]string{nil, {"--debug-tool-output"}} {
		debug.Reset()
		var out bytes.Buffer
		err := Main(ctx, "restore", append(append(common, "--db-name=restored"), args...), &out)
		if err == nil {
			t.Fatal("the restore of a rejected row succeeded")
		}
		for _, secret := range []string{email, file, "jane"} {
			if strings.Contains(err.Error(), secret) || strings.Contains(out.String(), secret) {
				t.Fatalf("with %v, personal data %q in the error %q or the result line %q", args, secret, err, out.String())
			}
		}
		if !strings.Contains(out.String(), `"errorClass":"data-rejected"`) {
			t.Fatalf("result line %q, want errorClass data-rejected", out.String())
		}
		if got := strings.Contains(debug.String(), email); got != (args != nil) {
			t.Fatalf("with %v, stderr holds the row: %v (%q)", args, got, debug.String())
		}
	}
}
