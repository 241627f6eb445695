// Package controllers holds the reconcilers of the four helpdesk kinds.
package controllers

import (
	"context"
	"flag"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options configure the controllers; the manager binds them to flags.
type Options struct{}

// BindFlags registers the controllers' flags on fs.
func (o *Options) BindFlags(fs *flag.FlagSet) {}

// Setup registers every controller with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	client, apiReader := mgr.GetClient(), mgr.GetAPIReader()
	if err := (&AccessPolicyReconciler{Client: client, APIReader: apiReader}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the AccessPolicy controller: %w", err)
	}
	if err := (&RetentionPolicyReconciler{Client: client, Now: time.Now}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the RetentionPolicy controller: %w", err)
	}
	if err := (&BackupPolicyReconciler{Client: client, APIReader: apiReader, Now: time.Now}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the BackupPolicy controller: %w", err)
	}
	return nil
}
