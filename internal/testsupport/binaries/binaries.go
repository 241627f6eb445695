// Package binaries finds the real servers that integration tests start. hack/test-binaries.sh
// builds them once per version into a cache outside the checkout and prints their paths;
// `make test` exports them, and a bare `go test` asks the script for the same paths.
package binaries

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// The environment variables hack/test-binaries.sh env prints.
const (
	EnvtestAssetsVar = "KUBEBUILDER_ASSETS"
	VaultVar         = "HELPDESK_TEST_VAULT"
	VersitygwVar     = "HELPDESK_TEST_VERSITYGW"
	HelmVar          = "HELPDESK_TEST_HELM"
	GlauthVar        = "HELPDESK_TEST_GLAUTH"
)

var (
	scriptEnvOnce sync.Once
	scriptEnv     map[string]string
	scriptEnvErr  error
)

// EnvtestAssets is the folder with kube-apiserver, etcd and kubectl.
func EnvtestAssets() (string, error) { return lookup(EnvtestAssetsVar, "kube-apiserver", "envtest") }

// Vault is the vault binary.
func Vault() (string, error) { return lookup(VaultVar, "", "vault") }

// Helm is the pinned helm binary (built by `make tools` or `make test`).
func Helm() (string, error) { return lookup(HelmVar, "", "helm (make tools)") }

// Versitygw is the versitygw S3 gateway binary.
func Versitygw() (string, error) { return lookup(VersitygwVar, "", "versitygw") }

// Glauth is the glauth LDAP server binary.
func Glauth() (string, error) { return lookup(GlauthVar, "", "glauth") }

// lookup resolves variable from the environment, else from the build script, and checks
// that what it names exists (probe names a file inside a folder).
func lookup(variable, probe, target string) (string, error) {
	path := os.Getenv(variable)
	if path == "" {
		env, err := fromScript()
		if err != nil {
			return "", err
		}
		path = env[variable]
	}
	check := path
	if probe != "" {
		check = filepath.Join(path, probe)
	}
	if _, err := os.Stat(check); err != nil {
		return "", fmt.Errorf("%s is not built (%s missing): run `hack/test-binaries.sh %s` or `make test`", target, check, target)
	}
	return path, nil
}

func fromScript() (map[string]string, error) {
	scriptEnvOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			scriptEnvErr = err
			return
		}
		out, err := exec.Command("bash", filepath.Join(root, "hack", "test-binaries.sh"), "env").Output()
		if err != nil {
			scriptEnvErr = fmt.Errorf("asking hack/test-binaries.sh for binary paths: %w", err)
			return
		}
		scriptEnv = map[string]string{}
		scanner := bufio.NewScanner(bytes.NewReader(out))
		for scanner.Scan() {
			if key, value, ok := strings.Cut(scanner.Text(), "="); ok {
				scriptEnv[key] = value
			}
		}
	})
	return scriptEnv, scriptEnvErr
}

// ModuleRoot walks up from the working directory (a package folder under go test) to go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
