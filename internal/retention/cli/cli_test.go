package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	hd "github.com/privatedesk/helpdesk-operator/internal/testsupport/helpydata"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

var pgSrv *postgres.Server

func TestMain(m *testing.M) {
	os.Exit(func() int {
		srv, stop, err := postgres.StartMain()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stop()
		pgSrv = srv
		return m.Run()
	}())
}

// jobEnv sets what a Job would set through its environment, for prefix.
func jobEnv(t *testing.T, f *hd.Fixture, prefix string) {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(pgSrv.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"PGHOST": pgSrv.Host, "PGPORT": strconv.Itoa(pgSrv.Port), prefix + "DB_NAME": f.DB, "PGUSER": pgSrv.User,
		prefix + "DB_PASSWORD_FILE": pw, "PGSSLMODE": "disable", prefix + "ATTACHMENTS_DIR": f.Dir,
	} {
		t.Setenv(k, v)
	}
}

// invoke runs Main and returns the decoded last line of the result stream (stdout, or
// stderr for resultOnStderr), the other stream, and the error.
func invoke(t *testing.T, sub string, resultOnStderr bool, args ...string) (map[string]any, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := Main(ctx, sub, args, &stdout, &stderr)
	results, other := &stdout, &stderr
	if resultOnStderr {
		results, other = &stderr, &stdout
	}
	lines := strings.Split(strings.TrimSpace(results.String()), "\n")
	last := lines[len(lines)-1]
	if len(last) > 4096 {
		t.Errorf("the result line has %d bytes, more than a termination message keeps", len(last))
	}
	var res map[string]any
	if jerr := json.Unmarshal([]byte(last), &res); jerr != nil {
		t.Fatalf("%s printed %q last: %v", sub, last, jerr)
	}
	if !resultOnStderr && strings.Count(strings.TrimSpace(stdout.String()), "\n") > 0 {
		t.Errorf("stdout has more than the result line: %q", stdout.String())
	}
	return res, other.Bytes(), err
}

func exitCode(err error) int {
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestRetentionJobThroughEnvironment(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	jobEnv(t, f, "RETENTION_")
	t.Setenv("RETENTION_RULES", "ClosedTickets:Delete:8760h, Logs:Delete:720h")
	t.Setenv("RETENTION_ORPHAN_GRACE", "1ns")
	before := f.State(t)

	dry, progress, err := invoke(t, "retention", false, "--dry-run")
	if err != nil || dry["result"] != "Succeeded" || dry["dryRun"] != true || dry["changed"] != false {
		t.Fatalf("dry run: %v %v", err, dry)
	}
	f.AssertUnchanged(t, before, "the dry run")
	if !bytes.Contains(progress, []byte("ClosedTickets:Delete")) {
		t.Errorf("no progress on stderr: %q", progress)
	}
	hold, _, err := invoke(t, "retention", false, "--legal-hold", "--batch-size=2")
	if err != nil || hold["legalHold"] != true || !strings.Contains(fmt.Sprint(hold["note"]), "legal hold") {
		t.Fatalf("legal hold: %v %v", err, hold)
	}
	f.AssertUnchanged(t, before, "the legal hold run")

	// A flag replaces the environment's rules.
	applied, _, err := invoke(t, "retention", false, "--batch-size=3", "--rule=ClosedTickets:Delete:8760h", "--rule=Logs:Delete:720h")
	if err != nil || applied["result"] != "Succeeded" || applied["changed"] != true {
		t.Fatalf("run: %v %v", err, applied)
	}
	affected := applied["affected"].(map[string]any)
	if fmt.Sprint(affected) != fmt.Sprint(dry["affected"]) || fmt.Sprint(affected) != fmt.Sprint(hold["affected"]) || affected["ClosedTickets"].(float64) == 0 {
		t.Errorf("affected: applied %v, dry %v, hold %v", affected, dry["affected"], hold["affected"])
	}
	for _, key := range []string{"startTime", "completionTime", "durationSeconds", "rules", "maxBatchMillis", "orphanFiles", "appProfile"} {
		if _, ok := applied[key]; !ok {
			t.Errorf("the result lacks %s: %v", key, applied)
		}
	}
}

func TestRetentionFailuresAreClassifiedWithExitCodes(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	jobEnv(t, f, "RETENTION_")
	for _, c := range []struct {
		args   []string
		reason string
		code   int
	}{
		{[]string{"--rule=Attachments:Anonymize:8760h"}, "InvalidConfiguration", ExitTerminal},
		{[]string{}, "InvalidConfiguration", ExitTerminal},
		{[]string{"--rule=Logs:Delete:720h", "--app-profile=Zammad"}, "InvalidConfiguration", ExitTerminal},
		{[]string{"--rule=Logs:Delete:720h", "--db-sslmode=sometimes"}, "InvalidConfiguration", ExitTerminal},
		{[]string{"--rule=Logs:Delete:720h", "--db-password=wrong", "--db-password-file="}, "ConnectionFailed", ExitFailed},
	} {
		res, _, err := invoke(t, "retention", false, c.args...)
		if res["result"] != "Failed" || res["reason"] != c.reason || exitCode(err) != c.code {
			t.Errorf("%v: %v (exit %d), want %s exit %d", c.args, res, exitCode(err), c.reason, c.code)
		}
		if strings.Contains(fmt.Sprint(res), pgSrv.Password) {
			t.Errorf("%v: the result shows the password", c.args)
		}
	}
	// A schema the profile does not fit: terminal.
	f.Exec(t, `ALTER TABLE topics RENAME COLUMN closed_date TO closed_at`)
	res, _, err := invoke(t, "retention", false, "--rule=ClosedTickets:Delete:8760h")
	if res["reason"] != "SchemaMismatch" || exitCode(err) != ExitTerminal {
		t.Errorf("renamed column: %v (exit %d)", res, exitCode(err))
	}
}

func TestDSRJob(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	jobEnv(t, f, "DSR_")
	greta := f.Data.User(hd.SubjectID)
	subjectFile := filepath.Join(t.TempDir(), "subject")
	if err := os.WriteFile(subjectFile, []byte(greta.Email+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noSubject := func(res map[string]any) {
		t.Helper()
		if line, _ := json.Marshal(res); bytes.Contains(line, []byte(greta.Email)) || bytes.Contains(line, []byte(greta.Name)) {
			t.Errorf("the result line names the subject: %s", line)
		}
	}

	// Access into a file, then to stdout with the result on stderr.
	out := filepath.Join(t.TempDir(), "export.tar")
	res, _, err := invoke(t, "dsr", false, "--type=Access", "--subject-file="+subjectFile, "--output="+out)
	if err != nil || res["result"] != "Succeeded" || res["accountFound"] != true {
		t.Fatalf("access: %v %v", err, res)
	}
	noSubject(res)
	info, err := os.Stat(out)
	if err != nil || info.Mode().Perm() != 0o600 || float64(info.Size()) != res["bytes"].(float64) {
		t.Fatalf("export file: %v %v", info, err)
	}
	if res, _, err := invoke(t, "dsr", false, "--type=Access", "--subject-file="+subjectFile, "--output="+out); err == nil || res["result"] != "Failed" {
		t.Errorf("an existing export was overwritten: %v", res)
	}
	res, archive, err := invoke(t, "dsr", true, "--type=Access", "--subject="+greta.Email, "--output=-")
	if err != nil || res["result"] != "Succeeded" {
		t.Fatalf("access to stdout: %v %v", err, res)
	}
	h, err := tar.NewReader(bytes.NewReader(archive)).Next()
	if err != nil || h.Name != "export.json" {
		t.Fatalf("stdout is no archive: %v", err)
	}
	if fileBytes, _ := os.ReadFile(out); len(fileBytes) != len(archive) {
		t.Errorf("the file has %d bytes, stdout %d", len(fileBytes), len(archive))
	}

	// Refusals are final: exit 2.
	res, _, err = invoke(t, "dsr", false, "--type=Erasure", "--subject=system@test.com")
	if res["result"] != "Refused" || res["protection"] != "SystemUser" || exitCode(err) != ExitTerminal {
		t.Errorf("system user: %v (exit %d)", res, exitCode(err))
	}
	res, _, err = invoke(t, "dsr", false, "--type=Rectification", "--subject-file="+subjectFile, "--set=role=admin")
	if res["reason"] != "InvalidRequest" || exitCode(err) != ExitTerminal {
		t.Errorf("disallowed field: %v (exit %d)", res, exitCode(err))
	}

	res, _, err = invoke(t, "dsr", false, "--type=Rectification", "--subject-file="+subjectFile, "--set=city=Leipzig", "--set=zip=04109")
	if err != nil || res["result"] != "Succeeded" || fmt.Sprint(res["fields"]) != "[city zip]" {
		t.Fatalf("rectification: %v %v", err, res)
	}
	res, _, err = invoke(t, "dsr", false, "--type=Erasure", "--subject-file="+subjectFile)
	if err != nil || res["result"] != "Succeeded" || res["files"].(float64) == 0 {
		t.Fatalf("erasure: %v %v", err, res)
	}
	noSubject(res)
	if found, err := hd.FindText(hd.Ctx(t), f.Conn, greta.Email); err != nil || len(found) > 0 {
		t.Errorf("after erasure the address is in %v (%v)", found, err)
	}
}
