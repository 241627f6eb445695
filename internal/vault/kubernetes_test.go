package vault

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// TestKubernetesAuth logs in to a real Vault with a real ServiceAccount token from a real API
// server, through the tenant role EnsureTenant wrote, and keeps working past the token's
// max TTL thanks to renewal and re-login.
func TestKubernetesAuth(t *testing.T) {
	ctx := context.Background()
	kube := startKube(t)
	srv := vaultdev.Start(t)

	const ttl, maxTTL = 5 * time.Second, 10 * time.Second
	adminCfg := testConfig(srv)
	adminCfg.TenantTokenTTL, adminCfg.TenantTokenMaxTTL = ttl, maxTTL
	admin, adminWrites := newTestClientWith(t, adminCfg)
	k8s := kube.authConfig(t)
	if err := admin.EnsureMounts(ctx, k8s); err != nil {
		t.Fatalf("EnsureMounts: %v", err)
	}
	authCfg := mustRead(t, srv.Client(t), "auth/kubernetes/config")
	if authCfg.Data["kubernetes_host"] != kube.cfg.Host || authCfg.Data["disable_local_ca_jwt"] != true ||
		authCfg.Data["use_annotations_as_alias_metadata"] != true || authCfg.Data["token_reviewer_jwt_set"] != true ||
		strings.TrimSpace(toString(authCfg.Data["kubernetes_ca_cert"])) != strings.TrimSpace(string(kube.cfg.CAData)) {
		t.Errorf("kubernetes auth config = %v", authCfg.Data)
	}
	adminWrites.take()
	if err := admin.EnsureMounts(ctx, k8s); err != nil {
		t.Fatal(err)
	}
	if got := adminWrites.take(); len(got) != 0 {
		t.Errorf("second EnsureMounts wrote %v", got)
	}

	// A tenant's backup workload stands in for the operator's own role here: what matters
	// is a real login whose token expires.
	tenant := testTenant("kube-e2e", "desk")
	if _, err := admin.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	sa := tenant.ServiceAccounts[WorkloadBackup]
	kube.serviceAccount(t, tenant.Namespace, sa, instanceAnnotations(tenant.Name))
	tokenPath := tokenFile(t, kube.token(t, tenant.Namespace, sa, "vault"))
	keyName := KeyName(adminCfg.Prefix, tenant.Namespace, tenant.Name)

	cfg := testConfig(srv)
	cfg.AuthMethod, cfg.Token = AuthKubernetes, ""
	cfg.Role = RoleName(cfg.Prefix, tenant.Namespace, tenant.Name, WorkloadBackup)
	cfg.ServiceAccountTokenPath = tokenPath
	counter := &writeCounter{}
	c, err := newClient(ctx, cfg, testLogger(t), options{wrapTransport: func(rt http.RoundTripper) http.RoundTripper {
		counter.next = rt
		return counter
	}})
	if err != nil {
		t.Fatalf("New with Kubernetes auth: %v", err)
	}
	self, err := c.API().Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	policies, _ := self.TokenPolicies()
	if !slices.Contains(policies, "helpdesk-tenant-backup") {
		t.Errorf("token policies %v lack the tenant policy helpdesk-tenant-backup", policies)
	}

	// The role admits only the tenant's ServiceAccount.
	kube.serviceAccount(t, tenant.Namespace, "intruder", instanceAnnotations(tenant.Name))
	intruder := cfg
	intruder.ServiceAccountTokenPath = tokenFile(t, kube.token(t, tenant.Namespace, "intruder", "vault"))
	if _, err := New(ctx, intruder, testLogger(t)); !IsPermissionDenied(err) {
		t.Errorf("another ServiceAccount logging in with the tenant role: %v, want permission denied", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- c.Start(runCtx) }()

	// Use the tenant key throughout one and a half max TTLs: every call must work.
	plaintext := base64.StdEncoding.EncodeToString([]byte("hello"))
	deadline := time.Now().Add(maxTTL + maxTTL/2)
	calls := 0
	for time.Now().Before(deadline) {
		if _, err := c.API().Logical().Write("transit/encrypt/"+keyName, map[string]any{"plaintext": plaintext}); err != nil {
			stop()
			t.Fatalf("encrypt after %d calls: %v", calls, err)
		}
		calls++
		// Pacing, not waiting for a condition: the point is to keep using the client for
		// a fixed stretch of wall time that spans token expiries.
		time.Sleep(250 * time.Millisecond)
	}
	var logins, renewals int
	for _, w := range counter.take() {
		switch {
		case strings.HasSuffix(w, "auth/kubernetes/login"):
			logins++
		case strings.HasSuffix(w, "auth/token/renew-self"):
			renewals++
		}
	}
	t.Logf("%d encrypt calls over %s: %d logins, %d renewals", calls, maxTTL+maxTTL/2, logins, renewals)
	if logins < 2 || renewals < 1 {
		t.Errorf("got %d logins and %d renewals, want a renewal and a re-login after the max TTL", logins, renewals)
	}

	// Vault down past the token's lifetime: the client's token dies with it, so Start must
	// log in again, with backoff, once Vault is back, and the same Client then works.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*maxTTL, "a login attempt while Vault is down", func() bool {
		return slices.ContainsFunc(counter.take(), func(w string) bool { return strings.HasSuffix(w, "auth/kubernetes/login") })
	})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Whatever token the client held is dead now, so only a fresh login can make it work.
	oldToken := c.API().Token()
	if err := srv.Client(t).Auth().Token().RevokeTree(oldToken); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitFor(t, maxLoginBackoff+maxTTL, "the client to work again after Vault restarted", func() bool {
		_, err := c.API().Logical().Write("transit/encrypt/"+keyName, map[string]any{"plaintext": plaintext})
		return err == nil
	})
	t.Logf("client working again %s after Vault restarted", time.Since(restarted).Round(100*time.Millisecond))
	if c.API().Token() == oldToken {
		t.Error("the client works with a revoked token?")
	}

	stop()
	if err := <-ran; err != nil {
		t.Errorf("Start: %v", err)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
