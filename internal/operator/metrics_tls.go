package operator

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsTLSFlags name the metrics endpoint's serving certificate: a folder with the
// certificate and key (a mounted cert-manager or other TLS Secret). The server reloads them
// when they change. Without a folder it serves a self-signed certificate of its own.
type metricsTLSFlags struct {
	certPath, certName, keyName string
}

func (m *metricsTLSFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&m.certPath, "metrics-cert-path", "",
		"Folder with the metrics endpoint's TLS certificate and key (e.g. a mounted cert-manager Secret), reloaded when they change; empty serves a self-signed certificate.")
	fs.StringVar(&m.certName, "metrics-cert-name", "tls.crt", "File name of the certificate in --metrics-cert-path.")
	fs.StringVar(&m.keyName, "metrics-cert-key", "tls.key", "File name of the private key in --metrics-cert-path.")
}

// apply sets the certificate on the metrics server's options. A folder without the files
// is an error: the server would otherwise fall back to a self-signed certificate silently.
func (m metricsTLSFlags) apply(o *metricsserver.Options) error {
	if m.certPath == "" {
		return nil
	}
	if !o.SecureServing {
		return fmt.Errorf("--metrics-cert-path needs --metrics-secure: plain HTTP has no certificate")
	}
	for _, f := range []struct{ flag, name string }{{"metrics-cert-name", m.certName}, {"metrics-cert-key", m.keyName}} {
		if _, err := os.Stat(filepath.Join(m.certPath, f.name)); err != nil {
			return fmt.Errorf("--metrics-cert-path %s: %s (--%s) is missing: %w", m.certPath, f.name, f.flag, err)
		}
	}
	o.CertDir, o.CertName, o.KeyName = m.certPath, m.certName, m.keyName
	return nil
}
