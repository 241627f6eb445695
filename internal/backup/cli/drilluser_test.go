package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// helperArgsVar makes the test binary run one verify with the JSON list of arguments it
// holds, instead of the tests: TestDrillAsAnArbitraryUser runs it as another user.
const helperArgsVar = "HELPDESK_TEST_VERIFY_ARGS"

// TestDrillAsAnArbitraryUser runs a drill as a drill pod does: as a UID that the user
// database does not list, with no HOME and an empty environment, and where the system
// allows it on a read-only root filesystem. initdb needs the user looked up; the drill
// provides it through nss_wrapper when the system has it, and otherwise says what the
// image lacks.
func TestDrillAsAnArbitraryUser(t *testing.T) {
	if raw := os.Getenv(helperArgsVar); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			t.Fatal(err)
		}
		if err := Main(context.Background(), "verify", args, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		t.Skip("switching to another UID needs root")
	}
	const uid = 54321
	if _, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		t.Skipf("UID %d is in the user database; the test needs one that is not", uid)
	}
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
	// Folders the other user can reach: below /tmp, not t.TempDir, which only root may enter.
	mine := func() string {
		dir, err := os.MkdirTemp("", "drill-user-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	destination, scratch, bin, envtestCache := mine(), mine(), mine(), mine()
	tokenFile := filepath.Join(bin, "vault-token")
	if err := os.WriteFile(tokenFile, []byte(v.RootToken), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--path=" + destination, "--vault-addr=" + v.Addr, "--vault-token-file=" + tokenFile,
		"--transit-key=helpdesk-ns-desk", "--instance-namespace=ns", "--instance-name=desk"}
	t.Setenv("PGPASSWORD", pg.Password)
	if _, err := runMain(t, "backup", append(common, "--db-host="+pg.Host, "--db-port="+itoa(pg.Port), "--db-user="+pg.User,
		"--db-sslmode=disable", "--pg-bin-dir="+pg.BinDir(), "--db-name=app")...); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(bin, "cli.test")
	copyFile(t, exe, copied)
	for _, dir := range []string{destination, scratch, bin, envtestCache} {
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, uid)
		}); err != nil {
			t.Fatal(err)
		}
	}
	args, _ := json.Marshal(append(common, "--pg-bin-dir="+pg.BinDir(), "--scratch-dir="+scratch))
	// This test binary, unlike the shipped one, links envtest, whose init panics unless it
	// can create a cache folder; without HOME that is below /tmp, read-only here.
	env := []string{helperArgsVar + "=" + string(args), "XDG_CACHE_HOME=" + envtestCache}
	cmd := asPodUser(t, uid, env, []string{destination, scratch, envtestCache},
		copied, "-test.run=^TestDrillAsAnArbitraryUser$")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("verify as UID %d: %v; stdout %q, stderr %q", uid, runErr, stdout.String(), stderr.String())
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"); err == nil {
		if runErr != nil || res["passed"] != true {
			t.Fatalf("drill as UID %d with nss_wrapper installed: %v, %v", uid, runErr, res)
		}
	} else if runErr == nil || !strings.Contains(res["error"].(string), "libnss-wrapper") {
		t.Fatalf("drill as UID %d without nss_wrapper: %v, %v; want an error naming what the image lacks", uid, runErr, res)
	}
	if entries, _ := os.ReadDir(scratch); len(entries) > 0 {
		t.Fatalf("the drill left %d entries in its scratch folder", len(entries))
	}
}

// asPodUser runs a program as uid with only env, like a pod with runAsUser and
// readOnlyRootFilesystem: when unshare and setpriv work here, in a mount namespace whose
// root is read-only but for the writable folders; else with the UID alone.
func asPodUser(t *testing.T, uid int, env, writable []string, program string, args ...string) *exec.Cmd {
	t.Helper()
	if exec.Command("unshare", "--mount", "--propagation", "private", "true").Run() == nil {
		if _, err := exec.LookPath("setpriv"); err == nil {
			// Folders bound onto themselves are mounts of their own, which stay writable
			// when the root mount is made read-only.
			var script strings.Builder
			for _, dir := range writable {
				fmt.Fprintf(&script, "mount --bind %q %q && ", dir, dir)
			}
			fmt.Fprintf(&script, `mount -o remount,bind,ro / && ! touch /.rootfs-probe 2>/dev/null && exec setpriv --reuid=%d --regid=%d --clear-groups env -i "$@"`, uid, uid)
			cmdArgs := append([]string{"--mount", "--propagation", "private", "sh", "-c", script.String(), "sh"}, env...)
			cmd := exec.Command("unshare", append(append(cmdArgs, program), args...)...)
			cmd.Dir = "/"
			return cmd
		}
	}
	t.Log("no mount namespace here: running as the UID on the writable root filesystem")
	cmd := exec.Command(program, args...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	return cmd
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
