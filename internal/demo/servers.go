package demo

import (
	"context"
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/s3gw"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// s3Address is the loopback address versitygw listens on. It is not the API server's
// 127.0.0.1: the operator refuses tenant egress (the BackupPolicy's egressCIDRs) to the
// API server's addresses.
const s3Address = "127.0.0.2"

// startControlPlane starts kube-apiserver and etcd with the CRDs the tests install and
// writes a kubeconfig of a cluster administrator.
func (s *session) startControlPlane(context.Context) error {
	s.p.progress("starting kube-apiserver and etcd (envtest), installing our CRDs and CloudNativePG's Cluster CRD")
	env, err := kubeenv.Start()
	if err != nil {
		return err
	}
	s.env = env
	s.onStop("stopped kube-apiserver and etcd", func() { _ = env.Stop() })
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the demo's administrator: %w", err)
	}
	config, err := user.KubeConfig()
	if err != nil {
		return err
	}
	s.kubeconfig = s.path("kubeconfig")
	if err := os.WriteFile(s.kubeconfig, config, 0o600); err != nil {
		return err
	}
	if s.kube, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		return err
	}
	if s.clientset, err = kubernetes.NewForConfig(env.Config); err != nil {
		return err
	}
	s.p.progress("kube-apiserver %s is up (etcd behind it)", env.Config.Host)
	return nil
}

// startServers starts Vault, PostgreSQL and versitygw, each in its own folder inside the
// run's folder.
func (s *session) startServers(context.Context) error {
	vault, stopVault, err := vaultdev.StartMain()
	if err != nil {
		return fmt.Errorf("starting Vault: %w", err)
	}
	s.vault = vault
	s.onStop("stopped Vault", stopVault)
	s.p.progress("Vault %s is up: initialized and unsealed, its root token kept by the demo for the administrator's part", vault.Addr)

	pg, stopPG, err := postgres.StartMain()
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	s.pg = pg
	s.onStop("stopped PostgreSQL", stopPG)
	s.p.progress("PostgreSQL %s (Debian's, %s) is up on %s:%d", postgres.Major, pg.BinDir(), pg.Host, pg.Port)

	s3, stopS3, err := s3gw.StartMainOn(s3Address)
	if err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	s.s3 = s3
	s.onStop("stopped versitygw", stopS3)
	s.p.progress("versitygw (S3) is up on http://%s", s3.Endpoint)
	return nil
}
