package appprofile

import (
	corev1 "k8s.io/api/core/v1"
)

// HelpyDefaultImage is empty: Helpy publishes no image of its final code, so there is no
// image to default to. Until spec.app.image or the operator's --helpy-image names one
// built from Helpy's Dockerfile (docs/operations.md), an instance runs no app pod and says
// AppReady=False/AppImageNotSet.
const HelpyDefaultImage = ""

// Helpy's Dockerfile creates helpyuser with useradd in a Debian-based ruby image, which
// gives it the first regular UID and GID.
const (
	helpyUID = 1000
	helpyGID = 1000
)

// The credentials db/seeds.rb creates. Every seeded account shares the password, and the
// system user (id 2) must stay because Helpy's code relies on it.
const (
	helpySeedPassword  = "12345678"
	helpySeededAdmin   = "admin@test.com"
	helpySeededOthers  = `"system@test.com", "scott+demo@helpy.io"`
	helpyAdminPassword = "ADMIN_PASSWORD"
)

// helpyMigrationScript decides between a first install and an upgrade by looking at the
// database itself, because a Job can be retried or re-created at any time:
//   - no schema_migrations and no users table: empty database, load the schema and seed;
//   - schema_migrations present: migrate (and seed when the users table is still empty,
//     which only happens when a previous run stopped between loading and seeding);
//   - anything else: refuse, since db:schema:load drops every table it recreates.
//
// Errors in the check fail the script (set -e on the command substitution) instead of
// being read as "empty", for the same reason. The state is printed behind a marker so
// that warnings Rails prints do not confuse it.
//
// Then every seeded account that still has the seeded password gets a new one: the admin
// the password generated in Vault, the others a random one nobody knows. An account whose
// password was already changed is left alone, so a later run never resets an admin's own
// password. The script fails if a seeded password still works afterwards.
const helpyMigrationScript = `set -euo pipefail
state="$(bundle exec rails runner '
c = ActiveRecord::Base.connection
if c.table_exists?("schema_migrations")
  s = (c.table_exists?("users") && c.select_value("SELECT COUNT(*) FROM users").to_i > 0) ? "present" : "unseeded"
else
  s = c.table_exists?("users") ? "inconsistent" : "empty"
end
puts "HELPDESK_SCHEMA_STATE=" + s
')"
case "$state" in
*HELPDESK_SCHEMA_STATE=empty*)
  echo "empty database: loading the schema and seeding"
  bundle exec rake db:schema:load db:seed
  ;;
*HELPDESK_SCHEMA_STATE=unseeded*)
  echo "schema without users: migrating and seeding"
  bundle exec rake db:migrate db:seed
  ;;
*HELPDESK_SCHEMA_STATE=present*)
  echo "existing database: migrating"
  bundle exec rake db:migrate
  ;;
*)
  echo "refusing to prepare the database: tables exist but schema_migrations does not" >&2
  exit 1
  ;;
esac
bundle exec rails runner '
seeded = "` + helpySeedPassword + `"
admin = "` + helpySeededAdmin + `"
emails = [admin, ` + helpySeededOthers + `]
admin_password = ENV.fetch("` + helpyAdminPassword + `", "")
abort("` + helpyAdminPassword + ` is missing or shorter than 16 characters") if admin_password.length < 16
User.where(email: emails).each do |u|
  next unless u.valid_password?(seeded)
  pw = u.email == admin ? admin_password : SecureRandom.urlsafe_base64(48)
  u.password = pw
  u.password_confirmation = pw
  u.save!(validate: false)
  puts "replaced the seeded password of " + u.email
end
left = User.where(email: emails).select { |u| u.valid_password?(seeded) }.map(&:email)
abort("the seeded password still works for " + left.join(", ")) unless left.empty?
'
`

func helpy() Profile {
	return Profile{
		Name:          "helpy",
		DefaultImage:  HelpyDefaultImage,
		ContainerName: "helpy",
		Port:          3000,
		RunAsUser:     helpyUID,
		RunAsGroup:    helpyGID,
		// bash, not sh: Debian's dash may drop variables with dots in their names.
		Shell: "/bin/bash",
		// docker/run.sh is not used: it waits for a hard-coded host and migrates on every start.
		StartCommand:    []string{"bundle", "exec", "puma", "-C", "config/puma.rb"},
		MigrationScript: helpyMigrationScript,
		Env: []corev1.EnvVar{
			{Name: "RAILS_ENV", Value: "production"},
			// Any value makes Puma serve public/, which is where uploads live.
			{Name: "RAILS_SERVE_STATIC_FILES", Value: "true"},
			// helpyuser has no home directory and the root filesystem is read-only;
			// bundler and rails want a writable HOME.
			{Name: "HOME", Value: "/tmp"},
		},
		DatabaseEnv: []SecretEnv{
			{Name: "POSTGRES_HOST", Key: "host"},
			{Name: "POSTGRES_PORT", Key: "port"},
			{Name: "POSTGRES_DB", Key: "dbname"},
			{Name: "POSTGRES_USER", Key: "username"},
			{Name: "POSTGRES_PASSWORD", Key: "password"},
		},
		DerivedEnv: []corev1.EnvVar{
			// Rails 4.2 merges DATABASE_URL over database.yml: this raises the pool from
			// the hard-coded 5 to Puma's 16 threads and requires TLS to PostgreSQL with
			// the server's certificate verified (libpq finds the cluster's CA through
			// PGSSLROOTCERT, which the operator sets). The user and password stay in
			// database.yml's POSTGRES_* so they never have to be URL-encoded.
			{Name: "DATABASE_URL", Value: "postgresql://$(POSTGRES_HOST):$(POSTGRES_PORT)/$(POSTGRES_DB)?pool=16&sslmode=verify-full"},
		},
		SiteURLEnv: "Settings.site_url",
		Secrets: []Secret{
			// Rails wants at least 30 characters; 128 URL-safe ones carry ~768 bits.
			{Key: "SECRET_KEY_BASE", Length: 128, App: true},
			{Key: helpyAdminPassword, Length: 32, Migration: true},
		},
		Database:      "helpy",
		DatabaseOwner: "helpy",
		WritablePaths: []WritablePath{
			{Name: "log", Path: "/helpy/log"},
			{Name: "tmp", Path: "/helpy/tmp"},
			{Name: "assets", Path: "/helpy/public/assets", SeedFromImage: true},
			{Name: "tmpdir", Path: "/tmp"},
		},
		UploadsPath: "/helpy/public/uploads",
		ConfigFiles: helpyConfigFiles(),
		WorkingDir:  "/helpy",
		// config/initializers/default_settings.rb and app/controllers/application_controller.rb
		// (recaptcha_enabled? needs '1' and both keys; Recaptcha.configure reads them per
		// request from AppSettings, cached per pod); the uploaders read the allow-list.
		Settings: SettingsStore{
			Table:              "settings",
			ExtensionAllowList: "settings.extension_whitelist",
			CaptchaProvider:    "ReCaptcha",
			CaptchaEnabled:     "settings.recaptcha_enabled",
			CaptchaSiteKey:     "settings.recaptcha_site_key",
			CaptchaSecretKey:   "settings.recaptcha_api_key",
		},
		// config/routes.rb: namespace :admin (the agent UI and its root /admin) sits outside
		// the localized scope, and the Grape API is mounted under /api.
		AgentPathPrefixes: []string{"/admin", "/api"},
		// GET / answers 301 (a locale redirect) after reading settings from the database.
		HTTPProbePath:         "/",
		StartupTimeoutSeconds: 600,
	}
}
