package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// run calls Main and decodes its one-line JSON result.
func runMain(t *testing.T, sub string, args ...string) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := Main(ctx, sub, args, &out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%s printed %d lines, want one JSON line: %q", sub, len(lines), out.String())
	}
	var res map[string]any
	if jerr := json.Unmarshal([]byte(lines[0]), &res); jerr != nil {
		t.Fatalf("%s printed %q: %v", sub, lines[0], jerr)
	}
	if err != nil && res["error"] != err.Error() {
		t.Fatalf("%s failed with %v but printed %v", sub, err, res)
	}
	return res, err
}

func TestBackupListVerifyRestoreThroughEnvAndFlags(t *testing.T) {
	pg := postgres.Start(t)
	s3 := s3gw.Start(t)
	v := vaultdev.Start(t)
	ctx := context.Background()
	client := v.Client(t)
	if err := client.Sys().MountWithContext(ctx, "transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Logical().WriteWithContext(ctx, "transit/keys/helpdesk-ns-desk", nil); err != nil {
		t.Fatal(err)
	}
	s3.CreateBucket(t, "backups")
	pg.CreateDatabase(t, "app")
	conn, err := pgx.Connect(ctx, pg.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "a.bin"), []byte{0, 1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}

	secrets := t.TempDir()
	write := func(name, value string) string {
		p := filepath.Join(secrets, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Everything a Job would set through its environment.
	for k, val := range map[string]string{
		"BACKUP_DB_HOST": pg.Host, "PGPORT": itoa(pg.Port),
		"BACKUP_DB_NAME": "app", "BACKUP_DB_USER": pg.User, "BACKUP_DB_PASSWORD_FILE": write("pgpass", pg.Password),
		"PGSSLMODE": "disable", "BACKUP_PG_BIN_DIR": pg.BinDir(),
		"BACKUP_S3_ENDPOINT": s3.Endpoint, "BACKUP_S3_BUCKET": "backups", "BACKUP_S3_PREFIX": "policy/root/",
		"BACKUP_S3_ACCESS_KEY_FILE": write("access", s3.AccessKey), "BACKUP_S3_SECRET_KEY_FILE": write("secret", s3.SecretKey),
		"BACKUP_S3_INSECURE": "true",
		"VAULT_ADDR":         v.Addr, "BACKUP_VAULT_TOKEN_FILE": write("token", v.RootToken), "BACKUP_TRANSIT_KEY": "helpdesk-ns-desk",
		"BACKUP_INSTANCE_NAMESPACE": "ns", "BACKUP_INSTANCE_NAME": "desk", "BACKUP_APP_VERSION": "2.8.0",
		"BACKUP_ATTACHMENTS_DIR": files, "BACKUP_KEEP_LAST": "1", "BACKUP_SCRATCH_DIR": scratchDir(t),
	} {
		t.Setenv(k, val)
	}
	t.Setenv("VAULT_TOKEN", "")

	first, err := runMain(t, "backup")
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if first["id"] == "" || first["objects"].(float64) != 2 || first["size"].(float64) <= 0 {
		t.Fatalf("backup result %v", first)
	}
	if first["keyVersion"] != 1.0 || first["oldestKeyVersion"] != 1.0 {
		t.Errorf("first backup reports key version %v, oldest kept %v; want 1 and 1", first["keyVersion"], first["oldestKeyVersion"])
	}
	// The key rotates; once the first backup is pruned, no kept backup needs version 1.
	if _, err := client.Logical().WriteWithContext(ctx, "transit/keys/helpdesk-ns-desk/rotate", nil); err != nil {
		t.Fatal(err)
	}
	second, err := runMain(t, "backup")
	if err != nil {
		t.Fatalf("second backup: %v", err)
	}
	if d := second["deleted"].([]any); len(d) != 1 || d[0] != first["id"] {
		t.Fatalf("keep-last 1 deleted %v, want the first backup", second["deleted"])
	}
	if second["keyVersion"] != 2.0 || second["oldestKeyVersion"] != 2.0 {
		t.Errorf("second backup reports key version %v, oldest kept %v; want 2 and 2", second["keyVersion"], second["oldestKeyVersion"])
	}
	list, err := runMain(t, "list")
	if err != nil || len(list["backups"].([]any)) != 1 || list["ignoredManifests"] != 0.0 {
		t.Fatalf("list: %v, %v", list, err)
	}
	// The engine added the instance's folder below the policy's prefix, with one "/".
	objs, err := d3(t, s3.Endpoint, s3.AccessKey, s3.SecretKey).List(context.Background(), "")
	if err != nil || len(objs) == 0 {
		t.Fatalf("listing the bucket: %v", err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Name, "policy/root/ns/desk/") {
			t.Fatalf("object %s outside the instance's folder policy/root/ns/desk/", o.Name)
		}
	}
	drill, err := runMain(t, "verify")
	if err != nil || drill["passed"] != true || drill["id"] != second["id"] {
		t.Fatalf("verify: %v, %v", drill, err)
	}
	pg.CreateDatabase(t, "restored")
	target := filepath.Join(t.TempDir(), "files")
	res, err := runMain(t, "restore", "--db-name=restored", "--attachments-dir="+target, "--id="+second["id"].(string))
	if err != nil || res["id"] != second["id"] {
		t.Fatalf("restore: %v, %v", res, err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "a.bin")); !bytes.Equal(b, []byte{0, 1, 2, 3}) {
		t.Fatalf("restored file %v", b)
	}

	// A wrong S3 secret fails clearly and never echoes a secret.
	t.Setenv("BACKUP_S3_SECRET_KEY_FILE", write("secret", "not-the-secret-value"))
	_, err = runMain(t, "backup")
	if err == nil || strings.Contains(err.Error(), "not-the-secret-value") || strings.Contains(err.Error(), pg.Password) || strings.Contains(err.Error(), v.RootToken) {
		t.Fatalf("backup with a wrong S3 secret: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		sub  string
		args []string
		want string
	}{
		{"frobnicate", nil, "unknown backup subcommand"},
		{"list", []string{"--nope"}, "flag provided but not defined"},
		{"list", nil, "no destination"},
		{"list", []string{"--path=/x", "--s3-bucket=b"}, "either --path or --s3-bucket"},
		{"list", []string{"--path=" + os.TempDir(), "--instance-namespace=ns", "--instance-name=../desk"}, "instance name"},
		{"list", []string{"--path=" + os.TempDir(), "--instance-namespace=*", "--instance-name=desk"}, "instance namespace"},
		{"verify", []string{"--path=" + os.TempDir()}, "--scratch-dir"},
		{"verify", []string{"--db-host=db"}, "flag provided but not defined: -db-host"},
		{"list", []string{"--attachments-dir=/x"}, "flag provided but not defined"},
	} {
		t.Setenv("BACKUP_PATH", "")
		err := Main(context.Background(), tc.sub, tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want %q", tc.sub, tc.args, err, tc.want)
		}
	}
	if err := Main(context.Background(), "backup", []string{"--time-zone=Mars/Olympus"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "IANA") {
		t.Errorf("bad time zone: %v", err)
	}
	t.Setenv("BACKUP_KEEP_LAST", "many")
	if err := Main(context.Background(), "backup", nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--keep-last") {
		t.Errorf("bad env number: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// d3 is the test bucket "backups" as a destination, to look at what was written where.
func d3(t *testing.T, endpoint, access, secret string) dest.Destination {
	t.Helper()
	d, err := dest.NewS3(dest.S3Config{Endpoint: endpoint, Bucket: "backups", AccessKey: access, SecretKey: secret, Insecure: true, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// scratchDir is a folder for a drill's scratch server; when the tests run as root, it
// belongs to the postgres harness's user, whom the drill then runs its server as.
func scratchDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "scratch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHelpNeverPrintsSecrets(t *testing.T) {
	t.Setenv("PGPASSWORD", "pg-secret-value")
	t.Setenv("BACKUP_S3_SECRET_KEY", "s3-secret-value")
	t.Setenv("VAULT_TOKEN", "vault-secret-value")
	var out bytes.Buffer
	if err := Main(context.Background(), "backup", []string{"--help"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pg-secret-value", "s3-secret-value", "vault-secret-value"} {
		if strings.Contains(out.String(), s) {
			t.Fatalf("--help printed a secret from the environment")
		}
	}
	if !strings.Contains(out.String(), "BACKUP_DB_PASSWORD_FILE") {
		t.Fatalf("--help does not name the environment variables:\n%s", out.String())
	}
}
