package vault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Tenant identifies one HelpdeskInstance and what its pods may do in Vault.
type Tenant struct {
	Namespace string
	Name      string
	// UID is the instance's UID: the ownership record names it, so a later instance of the
	// same namespace and name never inherits the key or secrets by accident.
	UID string
	// RotationPeriod is the transit key's auto_rotate_period; 0 disables automatic rotation.
	RotationPeriod time.Duration
	// ServiceAccounts maps each workload that logs in to Vault to the ServiceAccount (in
	// Namespace) its role is bound to. Workloads not listed get no role.
	ServiceAccounts map[Workload]string
	// AdoptRetained takes over the key and secrets an earlier, deleted instance of the same
	// namespace and name left behind (spec.restoreFrom naming the instance itself).
	AdoptRetained bool
}

// TenantStatus is what a HelpdeskInstance reports about its key.
type TenantStatus struct {
	KeyName       string
	LatestVersion int
	// LatestVersionCreated is when the latest key version was created: the key's age since
	// its last rotation; zero when Vault does not say.
	LatestVersionCreated time.Time
	// Adopted is true on the call that took over retained state.
	Adopted bool
}

// The transit key settings no tenant may change: keys never leave Vault.
const transitKeyType = "aes256-gcm96"

// Vault refuses shorter automatic rotation periods.
const minRotationPeriod = time.Hour

func (t Tenant) validate() error {
	var errs []error
	if err := ValidateTenant(t.Namespace, t.Name); err != nil {
		errs = append(errs, err)
	}
	if t.RotationPeriod != 0 && t.RotationPeriod < minRotationPeriod {
		errs = append(errs, fmt.Errorf("key rotation period %s is below Vault's minimum of %s (0 disables rotation)", t.RotationPeriod, minRotationPeriod))
	}
	for w, sa := range t.ServiceAccounts {
		if !slices.Contains(Workloads, w) || len(sa) > 253 || !namePattern.MatchString(sa) {
			errs = append(errs, fmt.Errorf("workload %q: ServiceAccount %q is not a known workload and a valid name", w, sa))
		}
	}
	if t.RotationPeriod%time.Second != 0 {
		errs = append(errs, fmt.Errorf("key rotation period %s is not whole seconds", t.RotationPeriod))
	}
	return errors.Join(errs...)
}

func (t Tenant) id() string { return t.Namespace + "/" + t.Name }

// EnsureTenant claims the tenant's names for its UID, then makes its transit key and its
// workloads' Kubernetes auth roles match t. It reads each first and writes only what
// differs, so a repeated call with an unchanged tenant makes no write to Vault.
func (c *Client) EnsureTenant(ctx context.Context, t Tenant) (TenantStatus, error) {
	if err := t.validate(); err != nil {
		return TenantStatus{}, fmt.Errorf("vault: tenant %s: %w", t.id(), err)
	}
	if t.UID == "" {
		return TenantStatus{}, fmt.Errorf("vault: tenant %s: the instance UID is required", t.id())
	}
	if err := c.checkTenantPolicies(ctx); err != nil {
		return TenantStatus{}, err
	}
	names := c.names(t.Namespace, t.Name)
	adopted, err := c.claim(ctx, t, names)
	if err != nil {
		return TenantStatus{}, err
	}
	key, err := c.ensureKey(ctx, t, names)
	if err != nil {
		return TenantStatus{}, err
	}
	if err := c.ensureRoles(ctx, t, names); err != nil {
		return TenantStatus{}, err
	}
	return TenantStatus{KeyName: names.Key, LatestVersion: key.LatestVersion, LatestVersionCreated: key.LatestVersionCreated, Adopted: adopted}, nil
}
