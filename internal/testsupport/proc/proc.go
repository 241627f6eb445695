// Package proc holds what the harnesses that start real servers share: a free loopback
// port, the tail of a server's log for failure messages, and random test credentials.
package proc

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"
)

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago. Another process may take
// it before the server binds it, so harnesses retry on "address in use".
func FreePort() (int, error) { return FreePortOn("127.0.0.1") }

// FreePortOn is FreePort on another local address, e.g. a test cluster's node address.
func FreePortOn(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// LogTail is the last n lines of the log at path, or why it cannot be read.
func LogTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RandomHex is n random bytes, hex-encoded: throwaway passwords and keys for test servers.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// ForTest starts a server with start (a harness's StartMain) for one test: a failure to
// start fails the test, and when the test ends the server stops, after its log's last
// lines are shown if the test failed.
func ForTest[S interface{ LogPath() string }](tb testing.TB, name string, start func() (S, func(), error)) S {
	tb.Helper()
	srv, stop, err := start()
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("%s: last lines of %s:\n%s", name, srv.LogPath(), LogTail(srv.LogPath(), 40))
		}
		stop()
	})
	return srv
}
