package gate

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

// ldapUser is a user of the test directory; its primary group is its group.
type ldapUser struct {
	name  string
	group string
}

// directory is a real glauth LDAP server (built by hack/test-binaries.sh glauth) serving
// LDAPS on a loopback port with a certificate made for the test.
type directory struct {
	URL      string
	BaseDN   string
	CAFile   string
	BindDN   string
	Password string // the service account's
	log      string
}

func (d *directory) LogPath() string { return d.log }

const ldapBaseDN = "dc=helpdesk,dc=test"

func startDirectory(t *testing.T, users ...ldapUser) *directory {
	t.Helper()
	return proc.ForTest(t, "glauth", func() (*directory, func(), error) { return runDirectory(t, users) })
}

func runDirectory(t *testing.T, users []ldapUser) (*directory, func(), error) {
	binary, err := binaries.Glauth()
	if err != nil {
		return nil, nil, err
	}
	dir := t.TempDir()
	key, cert := selfSignedCert(t, "test directory")
	keyFile, certFile := pemFiles(t, key, cert)
	d := &directory{BaseDN: ldapBaseDN, CAFile: certFile, Password: proc.RandomHex(12), log: filepath.Join(dir, "glauth.log"),
		BindDN: "cn=gate-search,ou=svcaccts,ou=users," + ldapBaseDN}
	for attempt := 0; attempt < 3; attempt++ {
		port, err := proc.FreePort()
		if err != nil {
			return nil, nil, err
		}
		cfgFile := filepath.Join(dir, "glauth.cfg")
		if err := os.WriteFile(cfgFile, []byte(glauthConfig(port, keyFile, certFile, d.Password, users)), 0o600); err != nil {
			return nil, nil, err
		}
		logFile, err := os.Create(d.log)
		if err != nil {
			return nil, nil, err
		}
		cmd := exec.Command(binary, "-c", cfgFile)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = logFile.Close() }
		d.URL = fmt.Sprintf("ldaps://127.0.0.1:%d", port)
		if err := waitForTLS(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second); err == nil {
			return d, stop, nil
		}
		stop()
		if !strings.Contains(proc.LogTail(d.log, 20), "address already in use") {
			return nil, nil, fmt.Errorf("glauth did not start:\n%s", proc.LogTail(d.log, 20))
		}
	}
	return nil, nil, fmt.Errorf("glauth found no free port")
}

func waitForTLS(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a readiness probe only
		if err == nil {
			_ = conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// glauthConfig: LDAPS only, users and groups from the file, failed-bind lockout off (the
// tests fail binds on purpose), and a service account that may search everything. Each
// user's password is pw-<name>.
func glauthConfig(port int, keyFile, certFile, servicePassword string, users []ldapUser) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[ldap]
  enabled = false
[ldaps]
  enabled = true
  listen = "127.0.0.1:%d"
  cert = %q
  key = %q
[backend]
  datastore = "config"
  baseDN = %q
[behaviors]
  IgnoreCapabilities = false
  LimitFailedBinds = false
[[users]]
  name = "gate-search"
  uidnumber = 5000
  primarygroup = 6000
  passsha256 = %q
  [[users.capabilities]]
    action = "search"
    object = "*"
[[groups]]
  name = "svcaccts"
  gidnumber = 6000
`, port, certFile, keyFile, ldapBaseDN, sha256Hex(servicePassword))
	gids := map[string]int{}
	for i, u := range users {
		gid, ok := gids[u.group]
		if !ok {
			gid = 6001 + len(gids)
			gids[u.group] = gid
			fmt.Fprintf(&b, "[[groups]]\n  name = %q\n  gidnumber = %d\n", u.group, gid)
		}
		fmt.Fprintf(&b, "[[users]]\n  name = %q\n  mail = %q\n  uidnumber = %d\n  primarygroup = %d\n  passsha256 = %q\n",
			u.name, u.name+"@example.com", 5001+i, gid, sha256Hex("pw-"+u.name))
	}
	return b.String()
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
