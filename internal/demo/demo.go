// Package demo is `make demo`: the operator's main job on one machine, without a cluster.
// It starts a local control plane (kube-apiserver and etcd through envtest), a Vault, a
// PostgreSQL 15 and a versitygw S3 gateway on loopback; sets Vault up with the operator's
// own vault-setup; runs the manager (the operator binary, as a child process); applies
// config/samples/ into a tenant namespace; and then runs the data path with the operator's
// own subcommands (backup, verify, retention --dry-run) against a local Helpy database.
// It prints what happened, then runs until it is interrupted, and stops everything it
// started: every file it made is inside one temporary folder, removed at the end.
//
// No kubelet, scheduler or controller-manager runs: objects are stored and reconciled by
// the operator, but no pod ever starts, and the status says so.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// Options configure a demo run.
type Options struct {
	// Root is the repository: config/samples, the CRDs and hack/test-binaries.sh.
	Root string
	// OperatorBinary is the built helpdesk-operator (make build).
	OperatorBinary string
	// Namespace is the tenant namespace the samples go into.
	Namespace string
	// Out receives everything the user reads.
	Out io.Writer
	// Ready is called once everything is shown, before waiting for ctx to end.
	Ready func()
}

// session is one demo run: what it started, in order, and how to stop each.
type session struct {
	o   Options
	p   *printer
	dir string // the run's folder: TMPDIR of everything started, removed at the end

	stops []stop

	env        *envtest.Environment
	kube       client.Client
	clientset  kubernetes.Interface
	kubeconfig string
	vault      *vaultdev.Server
	pg         *postgres.Server
	s3         *s3gw.Server

	data dataPath

	operatorToken string // the manager's ServiceAccount token file
	manager       *managerProcess
}

type stop struct {
	what string
	fn   func()
}

// Run runs the demo until ctx ends (Ctrl-C), then stops everything it started. An
// interruption while starting is not an error.
func Run(ctx context.Context, o Options) error {
	s := &session{o: o, p: newPrinter(o.Out)}
	err := s.run(ctx)
	if err != nil && ctx.Err() != nil {
		// Interrupted: whatever failed then failed because of it (Ctrl-C in a terminal
		// also reaches children in the demo's process group, such as go mod download).
		if !errors.Is(err, context.Canceled) {
			s.p.progress("interrupted while %v", clip(err.Error(), 200))
		}
		err = nil
	}
	s.stopAll()
	return err
}

func (s *session) run(ctx context.Context) error {
	if err := s.makeDir(); err != nil {
		return err
	}
	s.intro()
	steps := []func(context.Context) error{
		s.startControlPlane,
		s.startServers,
		s.setUpVault,
		s.startManager,
		s.applySamples,
		s.waitForOperator,
		s.showResources,
		s.showVault,
		s.loadDatabase,
		s.backupAndDrill,
		s.retentionDryRun,
		s.showTour,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(ctx); err != nil {
			return err
		}
	}
	if s.o.Ready != nil {
		s.o.Ready()
	}
	<-ctx.Done()
	return ctx.Err()
}

// makeDir creates the run's folder and makes it the TMPDIR of this process, so that every
// server's folder (envtest's, Vault's, PostgreSQL's, versitygw's) is created inside it and
// goes with it. Others may traverse it (PostgreSQL runs as the postgres user when we are
// root) but not list it.
func (s *session) makeDir() error {
	dir, err := os.MkdirTemp("", "helpdesk-demo-")
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	s.dir = dir
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	previous, had := os.LookupEnv("TMPDIR")
	if err := os.Setenv("TMPDIR", dir); err != nil {
		return err
	}
	s.onStop("removed the demo's folder "+dir, func() {
		if had {
			_ = os.Setenv("TMPDIR", previous)
		} else {
			_ = os.Unsetenv("TMPDIR")
		}
		_ = os.RemoveAll(dir)
	})
	return os.Mkdir(s.path("logs"), 0o700)
}

// path is a file or folder in the run's folder.
func (s *session) path(name ...string) string {
	return filepath.Join(append([]string{s.dir}, name...)...)
}

// onStop registers what stops something just started, and what to say when it did
// ("stopped Vault"); stopAll runs them newest first.
func (s *session) onStop(what string, fn func()) { s.stops = append(s.stops, stop{what, fn}) }

func (s *session) stopAll() {
	if len(s.stops) == 0 {
		return
	}
	s.p.section("Stopping everything the demo started")
	for i := len(s.stops) - 1; i >= 0; i-- {
		start := time.Now()
		s.stops[i].fn()
		s.p.progress("%s (%.1fs)", s.stops[i].what, time.Since(start).Seconds())
	}
	s.stops = nil
	s.p.progress("done: no process of the demo runs and its folder is gone")
}

func (s *session) intro() {
	s.p.raw("helpdesk-operator demo: the operator's main job on this machine, without a cluster.")
	s.p.raw("")
	s.p.raw("No kubelet, scheduler or controller-manager runs here: only kube-apiserver and etcd. So no")
	s.p.raw("pod ever starts. The operator creates the CloudNativePG Cluster, the Deployment and the Jobs,")
	s.p.raw("but none of them runs, and their status below says so (DatabaseReady stays False). The data")
	s.p.raw("path is shown on a local PostgreSQL 15 with Helpy's schema, not on the Cluster, with the")
	s.p.raw("operator's own subcommands and the tenant's real Vault roles.")
	s.p.raw("")
	s.p.progress("working in %s (removed when the demo stops)", s.dir)
}

// logFile opens a log in the run's folder for a child process's output.
func (s *session) logFile(name string) (*os.File, error) {
	return os.OpenFile(s.path("logs", name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// writeSecretFile writes a credential into the run's folder, readable by us alone.
func (s *session) writeSecretFile(name, value string) (string, error) {
	path := s.path(name)
	if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
