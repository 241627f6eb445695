package kubeenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// The exposure CRDs the test API servers get, from the modules that publish them (never
// hand-copied): Gateway API's standard channel from sigs.k8s.io/gateway-api, the version
// go.mod requires, and Traefik's Middleware from github.com/traefik/traefik/v3, which the
// operator does not import. Envoy Gateway's module is not on the module proxy, so its two
// policy kinds come from test/crds/envoy-gateway, minimal CRDs labelled as such.
const (
	GatewayAPIModule  = "sigs.k8s.io/gateway-api"
	GatewayAPIVersion = "v1.6.3"
	TraefikModule     = "github.com/traefik/traefik/v3"
	TraefikVersion    = "v3.5.3"
)

var (
	moduleDirs   sync.Map
	moduleDirsMu sync.Mutex
)

// ModuleDir is the folder of module@version in the module cache, downloaded through the
// module proxy when missing (go mod download, outside this module, so go.mod and go.sum
// stay as they are).
func ModuleDir(module, version string) (string, error) {
	key := module + "@" + version
	if dir, ok := moduleDirs.Load(key); ok {
		return dir.(string), nil
	}
	moduleDirsMu.Lock()
	defer moduleDirsMu.Unlock()
	cmd := exec.Command("go", "mod", "download", "-json", key)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		return "", fmt.Errorf("go mod download %s: %w: %s%s", key, err, out, stderr)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w (%q)", key, err, out)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no folder in the answer: %s", key, info.Error)
	}
	moduleDirs.Store(key, info.Dir)
	return info.Dir, nil
}

// ExposureCRDPaths are the files and folders of the exposure CRDs.
func ExposureCRDPaths() ([]string, error) {
	gateway, err := ModuleDir(GatewayAPIModule, GatewayAPIVersion)
	if err != nil {
		return nil, err
	}
	traefik, err := ModuleDir(TraefikModule, TraefikVersion)
	if err != nil {
		return nil, err
	}
	root, err := binaries.ModuleRoot()
	if err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(gateway, "config", "crd", "standard"),
		filepath.Join(traefik, "docs", "content", "reference", "dynamic-configuration", "traefik.io_middlewares.yaml"),
		filepath.Join(root, "test", "crds", "envoy-gateway"),
	}, nil
}
