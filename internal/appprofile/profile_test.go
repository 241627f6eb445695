package appprofile

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func TestFor(t *testing.T) {
	for _, app := range []v1alpha1.AppProfile{v1alpha1.AppProfileHelpy, ""} {
		p, err := For(app)
		if err != nil || p.Name != "helpy" {
			t.Errorf("For(%q) = %q, %v", app, p.Name, err)
		}
	}
	if _, err := For("Zammad"); err == nil || !strings.Contains(err.Error(), "Helpy") {
		t.Errorf("an unknown profile must fail and name the supported ones, got %v", err)
	}
}

func TestForReturnsIndependentCopies(t *testing.T) {
	a, _ := For(v1alpha1.AppProfileHelpy)
	a.Env[0].Value = "changed"
	a.Secrets[0].Key = "changed"
	a.StartCommand[0] = "changed"
	b, _ := For(v1alpha1.AppProfileHelpy)
	if b.Env[0].Value == "changed" || b.Secrets[0].Key == "changed" || b.StartCommand[0] == "changed" {
		t.Error("a caller's change leaked into the next profile")
	}
}

func TestHelpyFacts(t *testing.T) {
	p := helpy()
	if p.Port != 3000 || p.RunAsUser == 0 || p.Database != "helpy" || p.DatabaseOwner != "helpy" {
		t.Errorf("port %d uid %d database %s/%s", p.Port, p.RunAsUser, p.Database, p.DatabaseOwner)
	}
	if got := strings.Join(p.StartCommand, " "); got != "bundle exec puma -C config/puma.rb" {
		t.Errorf("start command %q: Puma directly, not docker/run.sh", got)
	}
	if p.UploadsPath != "/helpy/public/uploads" {
		t.Errorf("uploads path %q", p.UploadsPath)
	}
	paths := map[string]bool{}
	for _, w := range p.WritablePaths {
		paths[w.Path] = true
		if w.Path == "/helpy/public" || w.Path == p.UploadsPath {
			t.Errorf("writable path %s would hide the app's files or the attachments", w.Path)
		}
	}
	for _, want := range []string{"/helpy/log", "/helpy/tmp", "/helpy/public/assets"} {
		if !paths[want] {
			t.Errorf("%s must be writable", want)
		}
	}
	env := map[string]string{}
	for _, e := range p.Env {
		env[e.Name] = e.Value
	}
	if env["RAILS_ENV"] != "production" || env["RAILS_SERVE_STATIC_FILES"] == "" {
		t.Errorf("env %v", env)
	}
	db := map[string]string{}
	for _, e := range p.DatabaseEnv {
		db[e.Name] = e.Key
	}
	want := map[string]string{"POSTGRES_HOST": "host", "POSTGRES_PORT": "port", "POSTGRES_DB": "dbname", "POSTGRES_USER": "username", "POSTGRES_PASSWORD": "password"}
	for k, v := range want {
		if db[k] != v {
			t.Errorf("%s from key %q, want %q", k, db[k], v)
		}
	}
	if p.SiteURLEnv != "Settings.site_url" {
		t.Errorf("site URL variable %q", p.SiteURLEnv)
	}
}

func TestHelpySecrets(t *testing.T) {
	p := helpy()
	if got := strings.Join(p.AppSecretKeys(), ","); got != "SECRET_KEY_BASE" {
		t.Errorf("app secrets %q", got)
	}
	if got := strings.Join(p.MigrationSecretKeys(), ","); got != "ADMIN_PASSWORD" {
		t.Errorf("migration secrets %q", got)
	}
	for _, s := range p.Secrets {
		if s.Key == "SECRET_KEY_BASE" && s.Length < 64 {
			t.Errorf("SECRET_KEY_BASE of %d characters is too short", s.Length)
		}
		if s.Key == "ADMIN_PASSWORD" && s.Length < 16 {
			t.Errorf("ADMIN_PASSWORD of %d characters is shorter than the script accepts", s.Length)
		}
	}
}

func TestHelpyMigrationScript(t *testing.T) {
	s := helpy().MigrationScript
	for _, want := range []string{
		"set -euo pipefail",
		"bundle exec rake db:schema:load db:seed",
		"bundle exec rake db:migrate\n",
		`table_exists?("schema_migrations")`,
		`ENV.fetch("ADMIN_PASSWORD"`,
		`valid_password?(seeded)`,
		`"admin@test.com"`, `"system@test.com"`,
		"bundle exec rails runner",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("migration script lacks %q", want)
		}
	}
	// The Ruby is passed inside single quotes: one inside it would end the argument.
	for _, part := range strings.Split(s, "rails runner '")[1:] {
		ruby, _, ok := strings.Cut(part, "\n'")
		if !ok || strings.Contains(ruby, "'") {
			t.Errorf("Ruby code is not a single-quoted shell word:\n%s", ruby)
		}
	}
	// Syntax only: the Rails classes are not loaded.
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		t.Fatal("ruby is needed to check the migration script's Ruby (apt-get install ruby; .ci/run does)")
	}
	for _, part := range strings.Split(s, "rails runner '")[1:] {
		code, _, _ := strings.Cut(part, "\n'")
		cmd := exec.Command(ruby, "-c", "-")
		cmd.Stdin = strings.NewReader(code)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("ruby -c: %v\n%s\n%s", err, out, code)
		}
	}
	// Schema loading drops tables: it must only run in the branch for an empty database.
	if strings.Count(s, "db:schema:load") != 1 || strings.Index(s, "db:schema:load") < strings.Index(s, "HELPDESK_SCHEMA_STATE=empty*)") {
		t.Error("db:schema:load must appear once, in the empty-database branch")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to check the migration script's syntax")
	}
	out, err := exec.Command(bash, "-n", "-c", s).CombinedOutput()
	if err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}
