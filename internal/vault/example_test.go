package vault_test

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// The operator's main: flags, one login, and the client handed to the manager so its token
// is renewed for as long as the manager runs.
func Example_main() {
	var cfg vault.Config
	cfg.BindFlags(flag.CommandLine)
	flag.Parse()

	var (
		ctx     = context.Background()
		log     = logr.Discard()
		mgr     manager.Manager // ctrl.NewManager(...)
		restCfg *rest.Config    // ctrl.GetConfigOrDie()
	)
	vc, err := vault.New(ctx, cfg, log)
	if err != nil {
		panic(err) // the message says which flag or Vault path to fix
	}
	if cfg.DevBootstrap {
		// Outside a pod Vault cannot read the cluster CA from its own filesystem.
		if err := vc.EnsureMounts(ctx, vault.KubernetesAuthConfig{Host: restCfg.Host, CACertPEM: string(restCfg.CAData)}); err != nil {
			panic(err)
		}
	}
	if err := mgr.Add(vc); err != nil { // runs Start on every replica
		panic(err)
	}
}

// A reconcile phase: idempotent calls, and the error class decides the handling.
func Example_reconcile() {
	var (
		ctx = context.Background()
		vc  *vault.Client
	)
	tenant := vault.Tenant{
		Namespace: "team-a", Name: "desk", UID: "0b7f…", RotationPeriod: 30 * 24 * time.Hour,
		ServiceAccounts: map[vault.Workload]string{vault.WorkloadBackup: "desk-backup", vault.WorkloadRestore: "desk-restore"},
	}
	status, err := vc.EnsureTenant(ctx, tenant)
	if err == nil {
		var secrets map[string][]byte
		secrets, err = vc.EnsureAppSecrets(ctx, tenant, []vault.SecretSpec{{Key: "db-password", Length: 40}})
		_ = secrets // into the tenant's Kubernetes Secret, never into status or events
	}
	switch {
	case err == nil:
		_ = status // status.keyName = status.KeyName; status.keyVersion = status.LatestVersion
	case vault.IsUnavailable(err):
		// Condition Ready=False, reason vault.Reason(err), message vault.ConditionMessage(err);
		// return err so the work queue backs off.
	case vault.IsPermissionDenied(err), vault.IsNameConflict(err), errors.Is(err, vault.ErrRetainedState):
		// Needs a human: mark the object and stop retrying.
		err = reconcile.TerminalError(err)
	}
	_ = err

	// On deletion, before removing the finalizer:
	_, _ = vc.DeleteTenant(ctx, tenant, vault.Retain)
}
