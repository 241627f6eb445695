package vaultdev_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

func TestStopAndRestartKeepState(t *testing.T) {
	srv := vaultdev.Start(t)
	client := srv.Client(t)
	ctx := context.Background()

	if err := client.Sys().MountWithContext(ctx, "transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("enabling transit: %v", err)
	}
	if _, err := client.Logical().WriteWithContext(ctx, "transit/keys/k", nil); err != nil {
		t.Fatalf("creating a key: %v", err)
	}
	if err := client.Sys().PutPolicyWithContext(ctx, "p", `path "x" { capabilities = ["read"] }`); err != nil {
		t.Fatalf("writing a policy: %v", err)
	}
	child, err := client.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{"p"}, TTL: "1h"})
	if err != nil {
		t.Fatalf("creating a token: %v", err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	u, _ := url.Parse(srv.Addr)
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Stop", srv.Addr)
	}
	if _, err := client.Sys().HealthWithContext(ctx); err == nil {
		t.Fatal("health check succeeded with Vault stopped")
	}

	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	key, err := client.Logical().ReadWithContext(ctx, "transit/keys/k")
	if err != nil || key == nil {
		t.Fatalf("transit key after restart: %v, %v", key, err)
	}
	policy, err := client.Sys().GetPolicyWithContext(ctx, "p")
	if err != nil || policy == "" {
		t.Fatalf("policy after restart: %q, %v", policy, err)
	}
	client.SetToken(child.Auth.ClientToken)
	if _, err := client.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Fatalf("token created before the restart: %v", err)
	}
}

func TestStartMainStopsEverything(t *testing.T) {
	srv, stop, err := vaultdev.StartMain()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client(t).Sys().HealthWithContext(context.Background()); err != nil {
		t.Fatalf("health: %v", err)
	}
	stop()
	if _, err := os.Stat(srv.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s left behind after stop (stat: %v)", srv.Dir, err)
	}
	u, _ := url.Parse(srv.Addr)
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after stop", srv.Addr)
	}
}

// The Kubernetes auth method mounts as type kubernetes, as on a full Vault (the minimal
// build runs it as a plugin), and keeps its configuration across a restart, when Vault
// starts the plugin again.
func TestKubernetesAuthMountsAndSurvivesRestart(t *testing.T) {
	srv := vaultdev.Start(t)
	client := srv.Client(t)
	ctx := context.Background()

	if err := client.Sys().EnableAuthWithOptionsWithContext(ctx, "kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatalf("enabling the Kubernetes auth method: %v", err)
	}
	const host = "https://192.0.2.1:6443"
	if _, err := client.Logical().WriteWithContext(ctx, "auth/kubernetes/config", map[string]any{
		"kubernetes_host": host, "disable_local_ca_jwt": true,
	}); err != nil {
		t.Fatalf("configuring the Kubernetes auth method: %v", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	auths, err := client.Sys().ListAuthWithContext(ctx)
	if err != nil {
		t.Fatalf("listing auth methods: %v", err)
	}
	if m, ok := auths["kubernetes/"]; !ok || m.Type != "kubernetes" {
		t.Fatalf("after a restart, auth methods are %v; want kubernetes/ of type kubernetes", auths)
	}
	cfg, err := client.Logical().ReadWithContext(ctx, "auth/kubernetes/config")
	if err != nil || cfg == nil {
		t.Fatalf("reading the Kubernetes auth configuration after a restart: %v (%v)", err, cfg)
	}
	if got := cfg.Data["kubernetes_host"]; got != host {
		t.Fatalf("kubernetes_host after a restart = %v, want %s", got, host)
	}
}
