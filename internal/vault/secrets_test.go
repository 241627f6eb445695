package vault

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
)

func TestEnsureAppSecretsGeneratesOnce(t *testing.T) {
	ctx := context.Background()
	var logs strings.Builder
	var logMu sync.Mutex
	c, writes := newTestClient(t, shared)
	c.log = funcr.New(func(prefix, args string) { logMu.Lock(); logs.WriteString(prefix + args + "\n"); logMu.Unlock() }, funcr.Options{Verbosity: 9})
	tenant := testTenant("secrets", "desk")
	specs := []SecretSpec{{Key: "db-password", Length: 40}, {Key: "session-key"}}
	// The test asserts first-time writes on a server shared by the package: leave nothing.
	t.Cleanup(func() { _, _ = c.DeleteTenant(context.Background(), tenant, Shred) })

	first, err := c.EnsureAppSecrets(ctx, tenant, specs)
	if err != nil {
		t.Fatal(err)
	}
	if len(first["db-password"]) != 40 || len(first["session-key"]) != 32 || bytes.Equal(first["db-password"][:32], first["session-key"]) {
		t.Fatalf("generated lengths %d and %d", len(first["db-password"]), len(first["session-key"]))
	}
	if got := writes.take(); len(got) != 1 {
		t.Errorf("first call wrote %v, want one KV write", got)
	}

	again, err := c.EnsureAppSecrets(ctx, tenant, specs)
	if err != nil {
		t.Fatal(err)
	}
	for k := range first {
		if !bytes.Equal(first[k], again[k]) {
			t.Errorf("%s changed between calls", k)
		}
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("second call wrote %v, want nothing", got)
	}

	// A new key is added without touching the others.
	more, err := c.EnsureAppSecrets(ctx, tenant, append(specs, SecretSpec{Key: "smtp", Length: 8}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(more["db-password"], first["db-password"]) || len(more["smtp"]) != 8 {
		t.Errorf("adding a key changed the others or has the wrong length")
	}
	kv := mustRead(t, rootClient(t, shared), "secret/data/helpdesk/secrets/secrets/desk")
	data := kv.Data["data"].(map[string]any)
	if data["db-password"] != string(first["db-password"]) || data["smtp"] != string(more["smtp"]) || len(data) != 3 {
		t.Errorf("KV holds keys %d, not what was returned", len(data))
	}

	for _, v := range more {
		if strings.Contains(logs.String(), string(v)) {
			t.Errorf("a secret value was logged")
		}
	}
	if _, err := c.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "a"}, {Key: "a"}}); err == nil {
		t.Error("duplicate keys accepted")
	}
}

// TestEnsureAppSecretsLosesRaceGracefully makes another writer store the secret between
// our read and our write: the check-and-set write must fail and the other values win.
func TestEnsureAppSecretsLosesRaceGracefully(t *testing.T) {
	ctx := context.Background()
	c, writes := newTestClient(t, shared)
	root := rootClient(t, shared)
	tenant := testTenant("race", "desk")
	path := "secret/data/" + SecretsPath("helpdesk", "race", "desk")

	var once sync.Once
	writes.mu.Lock()
	writes.before = func(r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, path) {
			once.Do(func() {
				if _, err := root.Logical().Write(path, map[string]any{"data": map[string]any{"token": "from-the-other-operator"}}); err != nil {
					t.Errorf("racing write: %v", err)
				}
			})
		}
	}
	writes.mu.Unlock()

	got, err := c.EnsureAppSecrets(ctx, tenant, []SecretSpec{{Key: "token"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(got["token"]) != "from-the-other-operator" {
		t.Errorf("returned a value other than the one the racing writer stored")
	}
	kv := mustRead(t, root, path)
	if kv.Data["data"].(map[string]any)["token"] != "from-the-other-operator" {
		t.Error("the racing writer's value was overwritten")
	}
	if version, _ := toInt(kv.Data["metadata"].(map[string]any)["version"]); version != 1 {
		t.Errorf("KV version %d, want 1: only the racing writer's write may land", version)
	}
}

// TestEnsureAppSecretsConcurrent: operators racing for real all end up with one set of values.
func TestEnsureAppSecretsConcurrent(t *testing.T) {
	ctx := context.Background()
	tenant := testTenant("race", "many")
	specs := []SecretSpec{{Key: "a"}, {Key: "b"}}
	const operators = 6
	clients := make([]*Client, operators)
	for i := range clients {
		clients[i], _ = newTestClient(t, shared)
	}
	results := make([]map[string][]byte, operators)
	errs := make([]error, operators)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { results[i], errs[i] = clients[i].EnsureAppSecrets(ctx, tenant, specs) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("operator %d: %v", i, errs[i])
		}
		for _, s := range specs {
			if !bytes.Equal(results[i][s.Key], results[0][s.Key]) {
				t.Errorf("operator %d got a different %s than operator 0", i, s.Key)
			}
		}
	}
}
