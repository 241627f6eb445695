package operator

import (
	"context"
	"crypto/tls"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	certutil "k8s.io/client-go/util/cert"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// TestMetricsServeTheGivenCertificate: with --metrics-cert-path the metrics endpoint
// presents that certificate (a mounted cert-manager Secret), not a self-signed one of its
// own; a folder without the files, or a certificate on plain HTTP, is refused at start.
func TestMetricsServeTheGivenCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := certutil.GenerateSelfSignedCertKey("hd-helpdesk-operator-metrics.helpdesk-system.svc", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) metricsTLSFlags {
		var m metricsTLSFlags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		m.bind(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return m
	}

	addr := freeAddress(t)
	opts := metricsserver.Options{BindAddress: addr, SecureServing: true}
	if err := parse("--metrics-cert-path=" + dir).apply(&opts); err != nil {
		t.Fatal(err)
	}
	srv, err := metricsserver.NewServer(opts, nil, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("metrics server: %v", err)
		}
	})
	waitUntil(t, func() error {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads which certificate is served
		if err != nil {
			return err
		}
		defer conn.Close()
		served := conn.ConnectionState().PeerCertificates[0]
		if !strings.HasPrefix(served.Subject.CommonName, "hd-helpdesk-operator-metrics.helpdesk-system.svc") {
			t.Fatalf("the metrics endpoint serves %q, not the certificate in --metrics-cert-path", served.Subject.CommonName)
		}
		return nil
	})

	for _, tc := range []struct {
		args   []string
		secure bool
		want   string
	}{
		{[]string{"--metrics-cert-path=" + dir, "--metrics-cert-key=missing.key"}, true, "--metrics-cert-key"},
		{[]string{"--metrics-cert-path=" + filepath.Join(dir, "nothing")}, true, "--metrics-cert-name"},
		{[]string{"--metrics-cert-path=" + dir}, false, "--metrics-secure"},
	} {
		o := metricsserver.Options{SecureServing: tc.secure}
		if err := parse(tc.args...).apply(&o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v (secure %v): %v, want an error naming %s", tc.args, tc.secure, err, tc.want)
		}
	}
}
