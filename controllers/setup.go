// Package controllers holds the reconcilers of the five helpdesk kinds.
package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/privatedesk/helpdesk-operator/internal/ssa"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// Setup completes the options, connects to Vault and registers every controller.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	c, apiReader := mgr.GetClient(), mgr.GetAPIReader()
	if err := opts.complete(ctx, apiReader); err != nil {
		return fmt.Errorf("operator configuration: %w", err)
	}
	vaultClient, err := vault.New(ctx, opts.Vault, ctrl.Log.WithName("vault"))
	if err != nil {
		return fmt.Errorf("connecting to Vault at %s: %w", opts.Vault.Address, err)
	}
	if opts.Vault.DevBootstrap {
		// Outside a pod Vault cannot read the cluster CA from its own filesystem.
		restConfig := mgr.GetConfig()
		if err := vaultClient.EnsureMounts(ctx, vault.KubernetesAuthConfig{Host: restConfig.Host, CACertPEM: string(restConfig.CAData)}); err != nil {
			return fmt.Errorf("preparing the development Vault (--vault-dev-bootstrap): %w", err)
		}
	}
	// Every replica renews its token, leader or not: a new leader must not start with an
	// expired one.
	if err := mgr.Add(vaultClient); err != nil {
		return err
	}
	applies, err := ssa.NewMetadataClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("building the client that applies objects: %w", err)
	}
	instances := &HelpdeskInstanceReconciler{
		Client:      c,
		APIReader:   apiReader,
		Applier:     ssa.NewApplier(c, applies, FieldManager),
		Vault:       vaultClient,
		Resources:   opts.Resources,
		Recorder:    mgr.GetEventRecorder(FieldManager),
		VaultStates: newVaultStates(opts.VaultRecheck, time.Now),
		KeyTrims:    newKeyTrimChecks(time.Now),
		Workers:     opts.InstanceWorkers,
	}
	if err := instances.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the HelpdeskInstance controller: %w", err)
	}
	if err := preflight(ctx, mgr, opts, vaultClient); err != nil {
		return err
	}
	if err := (&AccessPolicyReconciler{Client: c, APIReader: apiReader, Recorder: mgr.GetEventRecorder(FieldManager), Workers: opts.PolicyWorkers}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the AccessPolicy controller: %w", err)
	}
	if err := (&RetentionPolicyReconciler{Client: c, APIReader: apiReader, Now: time.Now, Recorder: mgr.GetEventRecorder(FieldManager), Workers: opts.PolicyWorkers}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the RetentionPolicy controller: %w", err)
	}
	if err := (&DataSubjectRequestReconciler{Client: c, APIReader: apiReader, Applier: ssa.NewApplier(c, applies, FieldManager), Resources: opts.Resources,
		Recorder: mgr.GetEventRecorder(FieldManager), Now: time.Now, Workers: opts.PolicyWorkers}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the DataSubjectRequest controller: %w", err)
	}
	if err := (&BackupPolicyReconciler{Client: c, APIReader: apiReader, Now: time.Now, Recorder: mgr.GetEventRecorder(FieldManager), Resources: opts.Resources, Workers: opts.PolicyWorkers}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the BackupPolicy controller: %w", err)
	}
	return nil
}
