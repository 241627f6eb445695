// Package kubeenv starts a real kube-apiserver and etcd (controller-runtime envtest) with
// our CRDs and CloudNativePG's Cluster CRD installed, for integration tests.
package kubeenv

import (
	"fmt"
	"path/filepath"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	helpdeskv1alpha1 "github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// Scheme knows the built-in kinds, ours and CloudNativePG's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(helpdeskv1alpha1.AddToScheme(s))
	utilruntime.Must(cnpgv1.AddToScheme(s))
	return s
}

// CRDDirectories are the folders whose CRDs every test API server gets.
func CRDDirectories() ([]string, error) {
	root, err := binaries.ModuleRoot()
	if err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(root, "config", "crd", "bases"),
		filepath.Join(root, "test", "crds", "cloudnative-pg"),
	}, nil
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
		Scheme:                Scheme(),
	}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	return env, nil
}
