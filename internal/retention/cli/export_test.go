package cli

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	hd "github.com/privatedesk/helpdesk-operator/internal/testsupport/helpydata"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// exportVault is a Vault with transit and an instance key, and a token that may only do
// what the backup workload may (encrypt, hmac, verify: never decrypt), as the Access Job
// logs in with.
func exportVault(t *testing.T) (srv *vaultdev.Server, key, backupToken string) {
	t.Helper()
	srv = vaultdev.Start(t)
	root := srv.Client(t)
	if err := root.Sys().Mount("transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	key = "helpdesk_ns_desk"
	if _, err := root.Logical().Write("transit/keys/"+key, nil); err != nil {
		t.Fatal(err)
	}
	policy := `path "transit/encrypt/helpdesk_ns_desk" { capabilities = ["update"] }
path "transit/hmac/helpdesk_ns_desk" { capabilities = ["update"] }
path "transit/verify/helpdesk_ns_desk" { capabilities = ["update"] }`
	if err := root.Sys().PutPolicy("backup-only", policy); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"backup-only"}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, key, tok.Auth.ClientToken
}

// TestDSRAccessExportToTheBackupDestination runs the Access Job as the operator does: the
// archive goes through the backup envelope into exports/ of the instance's folder, never
// to a file in the clear, with a token that cannot decrypt it; an administrator's token
// opens it; the delete mode removes it without Vault.
func TestDSRAccessExportToTheBackupDestination(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	jobEnv(t, f, "DSR_")
	srv, key, backupToken := exportVault(t)
	destDir := t.TempDir()
	greta := f.Data.User(hd.SubjectID)
	subjectFile := filepath.Join(t.TempDir(), "subject")
	if err := os.WriteFile(subjectFile, []byte(greta.Email+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := []string{"--path=" + destDir, "--instance-namespace=ns", "--instance-name=desk", "--vault-addr=" + srv.Addr, "--transit-key=" + key}
	id := "6f1c2d3e-4a5b-4c6d-8e7f-000000000042"

	res, _, err := invoke(t, "dsr", false, append([]string{"--type=Access", "--subject-file=" + subjectFile, "--export-id=" + id, "--vault-token=" + backupToken}, target...)...)
	if err != nil || res["result"] != "Succeeded" {
		t.Fatalf("access export: %v %v", err, res)
	}
	export, _ := res["export"].(map[string]any)
	if export["id"] != id || export["object"] != "exports/"+id+".tar.zst.age" || export["keyVersion"] != float64(1) || export["size"].(float64) == 0 {
		t.Errorf("result's export %v", export)
	}
	if line, _ := json.Marshal(res); bytes.Contains(line, []byte(greta.Email)) || bytes.Contains(line, []byte(greta.Name)) || bytes.Contains(line, []byte(backupToken)) {
		t.Errorf("the result line names the subject or the token: %s", line)
	}
	// Nothing in the clear on the destination: the address is in no file.
	err = filepath.Walk(destDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(greta.Email)) {
			t.Errorf("%s holds the subject's address in the clear", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := filepath.Join(destDir, "ns", "desk", "exports", id+".tar.zst.age")
	if _, err := os.Stat(stored); err != nil {
		t.Fatalf("the export is not where the status will say: %v", err)
	}

	// The backup token cannot read it back.
	out := filepath.Join(t.TempDir(), "export.tar")
	res, _, err = invoke(t, "dsr", false, append([]string{"--open-export=" + id, "--output=" + out, "--vault-token=" + backupToken}, target...)...)
	if err == nil || res["result"] != "Failed" || !strings.Contains(res["error"].(string), "403") {
		t.Errorf("the backup workload decrypted an export: %v %v", err, res)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed open left %s behind", out)
	}
	// An administrator's token does; the archive is the engine's, about the subject.
	res, _, err = invoke(t, "dsr", false, append([]string{"--open-export=" + id, "--output=" + out, "--vault-token=" + srv.RootToken}, target...)...)
	if err != nil || res["result"] != "Succeeded" {
		t.Fatalf("opening the export: %v %v", err, res)
	}
	file, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(file)
	h, err := tr.Next()
	if err != nil || h.Name != "export.json" {
		t.Fatalf("the opened export is no archive: %v", err)
	}
	doc, _ := io.ReadAll(tr)
	file.Close()
	if !bytes.Contains(doc, []byte(greta.Email)) {
		t.Error("the export does not hold the subject's records")
	}

	// A failed request leaves no export behind.
	res, _, err = invoke(t, "dsr", false, append([]string{"--type=Access", "--subject=system@test.com", "--export-id=refused-one", "--vault-token=" + backupToken}, target...)...)
	if res["result"] != "Refused" || exitCode(err) != ExitTerminal {
		t.Errorf("refused access: %v (exit %d)", res, exitCode(err))
	}
	if entries, _ := filepath.Glob(filepath.Join(destDir, "ns", "desk", "exports", "refused-one*")); len(entries) != 0 {
		t.Errorf("a refused request left %v", entries)
	}
	// Vault unreachable: nothing is read, nothing written, and a retry may succeed.
	res, _, err = invoke(t, "dsr", false, append([]string{"--type=Access", "--subject-file=" + subjectFile, "--export-id=no-vault", "--vault-token=x"},
		"--path="+destDir, "--instance-namespace=ns", "--instance-name=desk", "--vault-addr=http://127.0.0.1:1", "--transit-key="+key)...)
	if res["result"] != "Failed" || res["reason"] != "ExportFailed" || !strings.Contains(res["error"].(string), "export aborted before reading any data") || exitCode(err) != ExitFailed {
		t.Errorf("access with Vault down: %v (exit %d)", res, exitCode(err))
	}

	// Delete: no Vault flags at all; twice is fine.
	for range 2 {
		res, _, err = invoke(t, "dsr", false, "--delete-export="+id, "--path="+destDir, "--instance-namespace=ns", "--instance-name=desk")
		if err != nil || res["result"] != "Succeeded" {
			t.Fatalf("deleting the export: %v %v", err, res)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(destDir, "ns", "desk", "exports")); len(entries) != 0 {
		t.Errorf("after deletion exports/ holds %v", entries)
	}
	// A hostile ID is refused before anything is touched.
	res, _, err = invoke(t, "dsr", false, "--delete-export=../manifests", "--path="+destDir, "--instance-namespace=ns", "--instance-name=desk")
	if err == nil || res["result"] != "Failed" {
		t.Errorf("deleting ../manifests: %v %v", err, res)
	}
}

// TestDSRRectificationValuesFromFiles: the values come from files (projected from the
// request's Secrets), never from the command line.
func TestDSRRectificationValuesFromFiles(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	jobEnv(t, f, "DSR_")
	greta := f.Data.User(hd.SubjectID)
	dir := t.TempDir()
	for name, value := range map[string]string{"subject": greta.Email + "\n", "city": "Leipzig\n", "name": "Greta Q. Example"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, _, err := invoke(t, "dsr", false, "--type=Rectification", "--subject-file="+filepath.Join(dir, "subject"),
		"--set-file=city="+filepath.Join(dir, "city"), "--set-file=name="+filepath.Join(dir, "name"))
	if err != nil || res["result"] != "Succeeded" || strings.Join(toStrings(res["fields"]), ",") != "city,name" {
		t.Fatalf("rectification from files: %v %v", err, res)
	}
	var city, name string
	if err := f.Conn.QueryRow(hd.Ctx(t), `SELECT city, name FROM users WHERE id = $1`, hd.SubjectID).Scan(&city, &name); err != nil {
		t.Fatal(err)
	}
	if city != "Leipzig" || name != "Greta Q. Example" {
		t.Errorf("after rectification city %q name %q", city, name)
	}
	if line, _ := json.Marshal(res); bytes.Contains(line, []byte("Leipzig")) || bytes.Contains(line, []byte("Greta Q.")) {
		t.Errorf("the result line carries a new value: %s", line)
	}
	// A missing file is named, not read; a field twice is refused.
	res, _, err = invoke(t, "dsr", false, "--type=Rectification", "--subject-file="+filepath.Join(dir, "subject"), "--set-file=city="+filepath.Join(dir, "missing"))
	if res["reason"] != "InvalidConfiguration" || exitCode(err) != ExitTerminal {
		t.Errorf("missing value file: %v", res)
	}
	res, _, _ = invoke(t, "dsr", false, "--type=Rectification", "--subject-file="+filepath.Join(dir, "subject"), "--set-file=city="+filepath.Join(dir, "city"), "--set=city=Halle")
	if res["reason"] != "InvalidRequest" {
		t.Errorf("a field set twice: %v", res)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
