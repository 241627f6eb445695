// Package kubeenv starts a real kube-apiserver and etcd (controller-runtime envtest) with
// our CRDs, CloudNativePG's Cluster CRD and the exposure CRDs (Gateway API, Traefik's
// Middleware, Envoy Gateway's policies) installed, for integration tests.
package kubeenv

import (
	"fmt"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privatedesk/helpdesk-operator/internal/scheme"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// CRDDirectories are the folders (and files) whose CRDs every test API server gets: ours,
// CloudNativePG's Cluster, and the exposure CRDs (ExposureCRDPaths).
func CRDDirectories() ([]string, error) {
	root, err := binaries.ModuleRoot()
	if err != nil {
		return nil, err
	}
	exposure, err := ExposureCRDPaths()
	if err != nil {
		return nil, err
	}
	return append([]string{
		filepath.Join(root, "config", "crd", "bases"),
		filepath.Join(root, "test", "crds", "cloudnative-pg"),
	}, exposure...), nil
}

// Start starts the API server and installs the CRDs; call Stop on the result when done.
func Start() (*envtest.Environment, error) {
	assets, err := binaries.EnvtestAssets()
	if err != nil {
		return nil, err
	}
	dirs, err := CRDDirectories()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     dirs,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.New(),
	}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	return env, nil
}

// StartForTest starts an API server for one test, stops it when the test ends, and returns
// it with a client.
func StartForTest(t testing.TB) (*envtest.Environment, client.Client) {
	t.Helper()
	env, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return env, c
}
