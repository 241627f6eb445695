package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// vaultStates remembers, per instance, what Vault last confirmed, so that a reconcile with
// nothing new for Vault makes no Vault request: the tenant (key settings, workloads'
// ServiceAccounts) is unchanged and the last check is younger than the recheck interval.
// Vault is asked again when the tenant changes, when the interval (with jitter, so a
// thousand instances do not recheck at once) has passed, and after any Vault error, which
// is never remembered. An outage therefore shows in EncryptionReady within one interval.
type vaultStates struct {
	// interval between checks of an unchanged tenant; 0 checks on every reconcile.
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	entries map[types.UID]vaultState
}

type vaultState struct {
	tenant  string // digest of what was ensured
	status  vault.TenantStatus
	secrets map[string][]byte
	due     time.Time
}

func newVaultStates(interval time.Duration, now func() time.Time) *vaultStates {
	if now == nil {
		now = time.Now
	}
	return &vaultStates{interval: interval, now: now, entries: map[types.UID]vaultState{}}
}

// digest identifies what EnsureTenant and EnsureAppSecrets were asked for.
func digest(t vault.Tenant, specs []vault.SecretSpec) string {
	b, _ := json.Marshal(struct {
		T vault.Tenant
		S []vault.SecretSpec
	}{t, specs})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// lookup returns the remembered state when it still answers for tenant, and how long it
// does.
func (v *vaultStates) lookup(uid types.UID, tenant string) (vaultState, time.Duration, bool) {
	if v.interval <= 0 {
		return vaultState{}, 0, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[uid]
	left := e.due.Sub(v.now())
	if !ok || e.tenant != tenant || left <= 0 {
		return vaultState{}, 0, false
	}
	return e, left, true
}

// remember records a confirmed state and returns when to check it again.
func (v *vaultStates) remember(uid types.UID, tenant string, status vault.TenantStatus, secrets map[string][]byte) time.Duration {
	if v.interval <= 0 {
		return 0
	}
	// Up to a tenth later, so rechecks of many instances spread out.
	wait := v.interval + time.Duration(rand.Int64N(int64(v.interval/10)+1)) //nolint:gosec // spread, not a secret
	v.mu.Lock()
	defer v.mu.Unlock()
	status.Adopted = false
	v.entries[uid] = vaultState{tenant: tenant, status: status, secrets: secrets, due: v.now().Add(wait)}
	return wait
}

func (v *vaultStates) forget(uid types.UID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.entries, uid)
}
