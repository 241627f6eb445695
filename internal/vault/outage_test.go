package vault

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// TestVaultOutage: with Vault stopped or sealed every call fails fast as unavailable, and
// after a restart the same Client carries on with the state Vault kept.
func TestVaultOutage(t *testing.T) {
	ctx := context.Background()
	srv := vaultdev.Start(t)
	cfg := testConfig(srv)
	cfg.RequestTimeout = 2 * time.Second
	c, writes := newTestClientWith(t, cfg)
	tenant := withRotation(testTenant("outage", "desk"), time.Hour)
	specs := []SecretSpec{{Key: "password"}}
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	before, err := c.EnsureAppSecrets(ctx, tenant, specs)
	if err != nil {
		t.Fatal(err)
	}
	writes.take()

	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- c.Start(runCtx) }()
	defer func() {
		stopRun()
		if err := <-ran; err != nil {
			t.Errorf("Start: %v", err)
		}
	}()

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"EnsureTenant": func() error { _, err := c.EnsureTenant(ctx, tenant); return err },
		"EnsureAppSecrets": func() error {
			_, err := c.EnsureAppSecrets(ctx, tenant, specs)
			return err
		},
		"DeleteTenant": func() error { _, err := c.DeleteTenant(ctx, tenant, Shred); return err },
		"KeyInfo":      func() error { _, err := c.KeyInfo(ctx, tenant); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		elapsed := time.Since(start)
		if !IsUnavailable(err) || IsPermissionDenied(err) || Reason(err) != ReasonUnavailable {
			t.Errorf("%s with Vault stopped: %v, want unavailable", name, err)
		}
		if elapsed > cfg.RequestTimeout {
			t.Errorf("%s with Vault stopped took %s, longer than the request timeout %s", name, elapsed, cfg.RequestTimeout)
		}
		if err != nil && strings.Contains(err.Error(), srv.RootToken) {
			t.Errorf("%s error contains the token: %v", name, err)
		}
		t.Logf("%s with Vault stopped failed in %s: %v", name, elapsed, err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	status, err := c.EnsureTenant(ctx, tenant)
	if err != nil {
		t.Fatalf("EnsureTenant after restart with the same client: %v", err)
	}
	after, err := c.EnsureAppSecrets(ctx, tenant, specs)
	if err != nil {
		t.Fatalf("EnsureAppSecrets after restart: %v", err)
	}
	if !bytes.Equal(before["password"], after["password"]) || status.LatestVersion != 1 {
		t.Errorf("state lost across the restart")
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("after the restart the unchanged tenant wrote %v: Vault's state was not kept", got)
	}

	// A sealed Vault answers 503: unavailable too.
	if err := srv.Client(t).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureTenant(ctx, tenant); !IsUnavailable(err) {
		t.Errorf("EnsureTenant with Vault sealed: %v, want unavailable", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Errorf("EnsureTenant after unsealing: %v", err)
	}
}

// TestHungVaultTimesOut: a server that accepts connections but never answers must fail
// within the request timeout, classified as unavailable.
func TestHungVaultTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	cfg := testConfig(shared)
	cfg.Address = "http://" + l.Addr().String()
	cfg.RequestTimeout = time.Second
	// New does not fail on an outage (the operator must not crash-loop); the calls do.
	c, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New against a hung server: %v, want a client that logs in later", err)
	}
	start := time.Now()
	_, err = c.KeyInfo(context.Background(), Tenant{Namespace: "hung", Name: "desk"})
	elapsed := time.Since(start)
	if !IsUnavailable(err) {
		t.Fatalf("a call against a hung server: %v, want unavailable", err)
	}
	if elapsed < cfg.RequestTimeout || elapsed > cfg.RequestTimeout+2*time.Second {
		t.Errorf("a call against a hung server failed after %s, want about %s", elapsed, cfg.RequestTimeout)
	}
}

// TestVaultDownAtStart: an operator that starts while Vault is down does not crash; it
// logs in once Vault answers.
func TestVaultDownAtStart(t *testing.T) {
	ctx := context.Background()
	srv := vaultdev.Start(t)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv)
	cfg.RequestTimeout = time.Second
	c, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New with Vault down: %v, want a client that logs in later", err)
	}
	tenant := withRotation(testTenant("late", "desk"), time.Hour)
	if _, err := c.EnsureTenant(ctx, tenant); !IsUnavailable(err) {
		t.Fatalf("EnsureTenant before Vault is up: %v, want unavailable", err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go func() { _ = c.Start(runCtx) }()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.EnsureMounts(ctx, placeholderKubernetes)
		if err == nil {
			_, err = c.EnsureTenant(ctx, tenant)
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("EnsureTenant after Vault came up: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
