package appsettings

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

// helpySettingsTable is Helpy's settings table as db/schema.rb (version 20191005134018)
// creates it in PostgreSQL.
const helpySettingsTable = `
CREATE TABLE settings (
  id serial PRIMARY KEY,
  var character varying NOT NULL,
  value text,
  thing_id integer,
  thing_type character varying(30),
  created_at timestamp without time zone,
  updated_at timestamp without time zone
);
CREATE UNIQUE INDEX index_settings_on_thing_type_and_thing_id_and_var ON settings (thing_type, thing_id, var);`

func helpyDatabase(t *testing.T) (*postgres.Server, string, *pgx.Conn) {
	t.Helper()
	srv := postgres.Start(t)
	db := "helpy_" + strconv.Itoa(os.Getpid())
	srv.CreateDatabase(t, db)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	if _, err := conn.Exec(ctx, helpySettingsTable); err != nil {
		t.Fatal(err)
	}
	// What Helpy itself wrote (Ruby's to_yaml): a global value and an agent's own setting
	// of the same name.
	if _, err := conn.Exec(ctx, `INSERT INTO settings (var, value, created_at, updated_at) VALUES
		('settings.recaptcha_enabled', E'--- ''0''\n', now(), now()),
		('settings.extension_whitelist', E'--- pdf\n', now(), now());
		INSERT INTO settings (var, value, thing_id, thing_type) VALUES ('settings.extension_whitelist', E'--- exe\n', 5, 'User')`); err != nil {
		t.Fatal(err)
	}
	return srv, db, conn
}

func global(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT var, value FROM settings WHERE thing_type IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var name string
		var value *string
		if err := rows.Scan(&name, &value); err != nil {
			t.Fatal(err)
		}
		decoded, err := Decode(value)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, dup := out[name]; dup {
			t.Errorf("setting %s has two global rows", name)
		}
		out[name] = decoded
	}
	return out
}

func TestApplyWritesHelpysSettingsOnceAndLeavesAgentsAlone(t *testing.T) {
	ctx := context.Background()
	_, _, conn := helpyDatabase(t)
	want := map[string]string{
		"settings.extension_whitelist": "pdf,png,txt",
		"settings.recaptcha_enabled":   "1",
		"settings.recaptcha_site_key":  "6Lc-site:key 'quoted' \"too\"",
		"settings.recaptcha_api_key":   "secret-value\nwith a newline",
	}
	changed, err := Apply(ctx, conn, "settings", want)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 4 {
		t.Errorf("changed %v, want all four", changed)
	}
	if got := global(t, conn); len(got) != 4 {
		t.Errorf("global settings %v", got)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
	}
	// Idempotent: nothing changes the second time, not even updated_at.
	var before string
	if err := conn.QueryRow(ctx, "SELECT string_agg(updated_at::text, ',' ORDER BY id) FROM settings").Scan(&before); err != nil {
		t.Fatal(err)
	}
	if changed, err := Apply(ctx, conn, "settings", want); err != nil || len(changed) != 0 {
		t.Errorf("second run changed %v (err %v)", changed, err)
	}
	var after string
	if err := conn.QueryRow(ctx, "SELECT string_agg(updated_at::text, ',' ORDER BY id) FROM settings").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Error("a run with nothing to change touched rows")
	}
	var agent string
	if err := conn.QueryRow(ctx, "SELECT value FROM settings WHERE thing_type = 'User' AND thing_id = 5").Scan(&agent); err != nil || agent != "--- exe\n" {
		t.Errorf("the agent's own setting changed: %q (err %v)", agent, err)
	}
	// A value Ruby wrote in its own style counts as equal.
	if changed, err := Apply(ctx, conn, "settings", map[string]string{"settings.recaptcha_enabled": "1"}); err != nil || len(changed) != 0 {
		t.Errorf("changed %v (err %v)", changed, err)
	}
	if _, err := Apply(ctx, conn, "settings; DROP TABLE settings", want); err == nil {
		t.Error("a table name that is not an identifier was used")
	}
}

// TestMainReadsSecretsFromTheEnvironment runs the subcommand as the Job does, the secret
// value coming from an environment variable and never from a flag or its output.
func TestMainReadsSecretsFromTheEnvironment(t *testing.T) {
	srv, db, conn := helpyDatabase(t)
	t.Setenv("CAPTCHA_SECRET", "the-private-key")
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(srv.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Main(context.Background(), []string{
		"--db-host=" + srv.Host, "--db-port=" + strconv.Itoa(srv.Port), "--db-name=" + db, "--db-user=" + srv.User,
		"--db-password-file=" + pw, "--db-sslmode=disable", "--table=settings",
		`--settings={"settings.recaptcha_enabled":"1","settings.extension_whitelist":""}`,
		"--secret-setting=settings.recaptcha_api_key=CAPTCHA_SECRET",
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "the-private-key") {
		t.Error("the output shows the secret value")
	}
	got := global(t, conn)
	if got["settings.recaptcha_api_key"] != "the-private-key" || got["settings.extension_whitelist"] != "" {
		t.Errorf("settings %v", got)
	}
	if err := Main(context.Background(), []string{"--db-host=x", "--db-name=y", "--db-user=z", "--table=settings", "--secret-setting=a=UNSET_VARIABLE_X"}, &out); err == nil ||
		!strings.Contains(err.Error(), "UNSET_VARIABLE_X") {
		t.Errorf("an unset secret variable: %v", err)
	}
}
