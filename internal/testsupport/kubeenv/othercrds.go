package kubeenv

import (
	"fmt"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privatedesk/helpdesk-operator/internal/scheme"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// The CRDs of the kinds the chart and config/prometheus render besides the operator's own,
// for server-side dry runs: the Prometheus Operator's ServiceMonitor and PrometheusRule, and
// cert-manager's Certificate, from the modules that publish them (never hand-copied), at
// versions of today (the monitoring API is the one CloudNativePG's module requires).
const (
	PrometheusOperatorModule  = "github.com/prometheus-operator/prometheus-operator"
	PrometheusOperatorVersion = "v0.92.0"
	CertManagerModule         = "github.com/cert-manager/cert-manager"
	CertManagerVersion        = "v1.21.2"
)

// PackagingCRDPaths are the files of those CRDs.
func PackagingCRDPaths() ([]string, error) {
	prom, err := ModuleDir(PrometheusOperatorModule, PrometheusOperatorVersion)
	if err != nil {
		return nil, err
	}
	certManager, err := ModuleDir(CertManagerModule, CertManagerVersion)
	if err != nil {
		return nil, err
	}
	crds := filepath.Join(prom, "example", "prometheus-operator-crd")
	return []string{
		filepath.Join(crds, "monitoring.coreos.com_servicemonitors.yaml"),
		filepath.Join(crds, "monitoring.coreos.com_prometheusrules.yaml"),
		filepath.Join(certManager, "deploy", "crds", "cert-manager.io_certificates.yaml"),
	}, nil
}

// StartWithCRDs starts an API server with exactly the CRDs in paths (files or folders), for
// tests that need fewer CRDs than Start installs (a cluster without CloudNativePG) or more
// (PackagingCRDPaths).
func StartWithCRDs(paths []string) (*envtest.Environment, error) {
	assets, err := binaries.EnvtestAssets()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     paths,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.New(),
	}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	return env, nil
}
