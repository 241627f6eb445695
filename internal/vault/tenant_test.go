package vault

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

func TestEnsureTenant(t *testing.T) {
	ctx := context.Background()
	c, writes := newTestClient(t, shared)
	root := rootClient(t, shared)
	tenant := testTenant("team-a", "desk")
	tenant.RotationPeriod = 24 * time.Hour
	names := c.names(tenant.Namespace, tenant.Name)
	// The test asserts first-time writes on a server shared by the package: leave nothing.
	t.Cleanup(func() { _, _ = c.DeleteTenant(context.Background(), tenant, Shred) })

	status, err := c.EnsureTenant(ctx, tenant)
	if err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	if created := status.LatestVersionCreated; created.IsZero() || time.Since(created) > time.Minute {
		t.Errorf("status.LatestVersionCreated = %v, want the key's creation just now", created)
	}
	status.LatestVersionCreated = time.Time{}
	if status != (TenantStatus{KeyName: "helpdesk_team-a_desk", LatestVersion: 1}) {
		t.Errorf("status = %+v", status)
	}
	if got := writes.take(); !slices.Equal(got, []string{
		"PUT secret/data/helpdesk/owners/team-a/desk",
		"PUT transit/keys/helpdesk_team-a_desk",
		"PUT auth/kubernetes/role/helpdesk_team-a_desk_backup",
		"PUT auth/kubernetes/role/helpdesk_team-a_desk_restore",
	}) {
		t.Errorf("first call wrote %v, want the ownership record, the key and two roles", got)
	}

	key := mustRead(t, root, "transit/keys/"+names.Key)
	if key == nil {
		t.Fatal("transit key missing")
	}
	if key.Data["type"] != "aes256-gcm96" || key.Data["exportable"] != false ||
		key.Data["allow_plaintext_backup"] != false || key.Data["deletion_allowed"] != false {
		t.Errorf("key = type %v exportable %v allow_plaintext_backup %v deletion_allowed %v",
			key.Data["type"], key.Data["exportable"], key.Data["allow_plaintext_backup"], key.Data["deletion_allowed"])
	}
	if period, _ := toSeconds(key.Data["auto_rotate_period"]); period != 24*time.Hour {
		t.Errorf("auto_rotate_period = %v, want 24h", key.Data["auto_rotate_period"])
	}
	owner := mustRead(t, root, "secret/data/"+names.Owner)
	if data, _ := owner.Data["data"].(map[string]any); data["uid"] != tenant.UID || data["state"] != "active" || data["key"] != names.Key {
		t.Errorf("ownership record = %v", owner.Data["data"])
	}
	for _, w := range []Workload{WorkloadBackup, WorkloadRestore} {
		role := mustRead(t, root, "auth/kubernetes/role/"+names.Roles[w])
		if role == nil {
			t.Fatalf("role of %s missing", w)
		}
		ttl, _ := toSeconds(role.Data["token_ttl"])
		maxTTL, _ := toSeconds(role.Data["token_max_ttl"])
		if !slices.Equal(toStrings(role.Data["bound_service_account_names"]), []string{tenant.ServiceAccounts[w]}) ||
			!slices.Equal(toStrings(role.Data["bound_service_account_namespaces"]), []string{"team-a"}) ||
			!slices.Equal(toStrings(role.Data["token_policies"]), []string{"helpdesk-tenant-" + string(w)}) ||
			role.Data["audience"] != "vault" || ttl != 15*time.Minute || maxTTL != time.Hour {
			t.Errorf("role of %s = %v", w, role.Data)
		}
	}
	if role := mustRead(t, root, "auth/kubernetes/role/"+names.Roles[WorkloadApp]); role != nil {
		t.Error("an app role exists though the app does not log in to Vault")
	}

	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("second EnsureTenant: %v", err)
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("unchanged tenant: second call wrote %v, want nothing", got)
	}

	tenant.RotationPeriod = 7 * 24 * time.Hour
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatalf("EnsureTenant with a new rotation period: %v", err)
	}
	if got := writes.take(); !slices.Equal(got, []string{"PUT transit/keys/helpdesk_team-a_desk/config"}) {
		t.Errorf("rotation change wrote %v, want only the key config", got)
	}

	// Vault Agent delivery adds the app role; dropping it removes the role again.
	tenant.ServiceAccounts = map[Workload]string{WorkloadApp: "desk-app", WorkloadBackup: "desk-backup", WorkloadRestore: "desk-restore"}
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if got := writes.take(); !slices.Equal(got, []string{"PUT auth/kubernetes/role/helpdesk_team-a_desk_app"}) {
		t.Errorf("adding the app workload wrote %v, want only its role", got)
	}
	delete(tenant.ServiceAccounts, WorkloadApp)
	if _, err := c.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if got := writes.take(); !slices.Equal(got, []string{"DELETE auth/kubernetes/role/helpdesk_team-a_desk_app"}) {
		t.Errorf("dropping the app workload wrote %v, want only its role's deletion", got)
	}

	// Rotation shows up as LatestVersion.
	if _, err := root.Logical().Write("transit/keys/"+names.Key+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if status, err := c.EnsureTenant(ctx, tenant); err != nil || status.LatestVersion != 2 {
		t.Errorf("after rotation: %+v, %v; want LatestVersion 2", status, err)
	}
}

func TestEnsureTenantRejectsBadInput(t *testing.T) {
	c, writes := newTestClient(t, shared)
	for _, tenant := range []Tenant{
		{Namespace: "ns", Name: "x", UID: "u", RotationPeriod: time.Minute},
		{Namespace: "", Name: "x", UID: "u"},
		{Namespace: "ns", Name: "x"},
		{Namespace: "ns", Name: "*", UID: "u"},
		{Namespace: "ns", Name: "a_b", UID: "u"},
		{Namespace: "ns", Name: "x", UID: "u", ServiceAccounts: map[Workload]string{WorkloadBackup: ""}},
	} {
		if _, err := c.EnsureTenant(context.Background(), tenant); err == nil {
			t.Errorf("EnsureTenant(%+v) succeeded", tenant)
		}
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("invalid tenants wrote %v", got)
	}
}

// TestRetainedStateIsNotAdoptedUnasked: an instance deleted with Retain leaves its key and
// secrets; a new instance of the same namespace and name (another UID) is refused them
// unless it asks, and then only it gets them.
func TestRetainedStateIsNotAdoptedUnasked(t *testing.T) {
	ctx := context.Background()
	c, writes := newTestClient(t, shared)
	old := testTenant("retain-ns", "desk")
	if _, err := c.EnsureTenant(ctx, old); err != nil {
		t.Fatal(err)
	}
	secrets, err := c.EnsureAppSecrets(ctx, old, []SecretSpec{{Key: "SECRET_KEY_BASE"}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.DeleteTenant(ctx, old, Retain); err != nil || !res.Owned {
		t.Fatalf("DeleteTenant(Retain): %+v, %v", res, err)
	}
	t.Cleanup(func() {
		newest := old
		newest.UID = "adopter"
		_, _ = c.DeleteTenant(context.Background(), newest, Shred)
	})

	writes.take()
	reuse := testTenant("retain-ns", "desk")
	_, err = c.EnsureTenant(ctx, reuse)
	if !errors.Is(err, ErrRetainedState) || Reason(err) != ReasonRetainedState {
		t.Fatalf("EnsureTenant of a new instance over retained state: %v, want ErrRetainedState", err)
	}
	if msg := ConditionMessage(err); !strings.Contains(msg, "restoreFrom") || !strings.Contains(msg, "helpdesk_retain-ns_desk") {
		t.Errorf("the message does not say how to adopt or which key: %s", msg)
	}
	if res, err := c.DeleteTenant(ctx, reuse, Shred); err != nil || res.Owned {
		t.Fatalf("DeleteTenant(Shred) of the instance that never owned the state: %+v, %v; want nothing owned", res, err)
	}
	if got := writes.take(); slices.ContainsFunc(got, func(w string) bool { return !strings.HasPrefix(w, "GET") }) {
		t.Errorf("the refused instance wrote %v", got)
	}
	if info, err := c.KeyInfo(ctx, old); err != nil || info == nil {
		t.Fatalf("the retained key after the refused Shred: %v, %v", info, err)
	}
	if retained, err := c.RetainedKey(ctx, "retain-ns", "desk"); err != nil || !retained {
		t.Errorf("RetainedKey = %t, %v; want the retained key to be a restore source", retained, err)
	}

	adopter := reuse
	adopter.UID, adopter.AdoptRetained = "adopter", true
	status, err := c.EnsureTenant(ctx, adopter)
	if err != nil || !status.Adopted {
		t.Fatalf("EnsureTenant with AdoptRetained: %+v, %v", status, err)
	}
	got, err := c.EnsureAppSecrets(ctx, adopter, []SecretSpec{{Key: "SECRET_KEY_BASE"}})
	if err != nil || string(got["SECRET_KEY_BASE"]) != string(secrets["SECRET_KEY_BASE"]) {
		t.Errorf("the adopter's secrets differ from the retained ones (err %v)", err)
	}
	// Now the adopter owns it: the first instance's UID is refused, and so is a third
	// instance asking to adopt: a live owner's state is never adopted.
	writes.take()
	if _, err := c.EnsureTenant(ctx, old); !errors.Is(err, ErrNameConflict) {
		t.Errorf("the old UID after adoption: %v, want ErrNameConflict", err)
	}
	thief := reuse
	thief.UID, thief.AdoptRetained = "thief", true
	if _, err := c.EnsureTenant(ctx, thief); !errors.Is(err, ErrNameConflict) || !strings.Contains(ConditionMessage(err), "adopter") {
		t.Errorf("adopting the state of a live owner: %v, want ErrNameConflict naming the owner's UID", err)
	}
	if got := writes.take(); slices.ContainsFunc(got, func(w string) bool { return !strings.HasPrefix(w, "GET") }) {
		t.Errorf("the refused instances wrote %v", got)
	}
	if rec, err := c.readOwner(ctx, c.names("retain-ns", "desk")); err != nil || rec == nil || rec.UID != "adopter" || rec.State != stateActive {
		t.Errorf("the ownership record after the refusals: %+v, %v; want the adopter's, active", rec, err)
	}
	if retained, err := c.RetainedKey(ctx, "retain-ns", "desk"); err != nil || retained {
		t.Errorf("RetainedKey of an adopted, live key = %t, %v; want false", retained, err)
	}
}

// TestKeyWithoutRecordIsNotClaimed: a key the operator did not record (made by hand, or by
// something else under the prefix) is never adopted.
func TestKeyWithoutRecordIsNotClaimed(t *testing.T) {
	ctx := context.Background()
	c, writes := newTestClient(t, shared)
	root := rootClient(t, shared)
	if _, err := root.Logical().Write("transit/keys/helpdesk_foreign_desk", map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	writes.take()
	_, err := c.EnsureTenant(ctx, testTenant("foreign", "desk"))
	if !IsNameConflict(err) || Reason(err) != ReasonNameConflict {
		t.Fatalf("EnsureTenant over a foreign key: %v, want a name conflict", err)
	}
	if got := writes.take(); slices.ContainsFunc(got, func(w string) bool { return !strings.HasPrefix(w, "GET") }) {
		t.Errorf("wrote %v over a foreign key", got)
	}
}

// TestNotConfigured: without the tenant policies, EnsureTenant says what to set up
// instead of creating roles whose logins would get nothing.
func TestNotConfigured(t *testing.T) {
	ctx := context.Background()
	srv := vaultdev.Start(t)
	c, writes := newTestClient(t, srv)
	root := rootClient(t, srv)
	if err := root.Sys().DeletePolicy("helpdesk-tenant-restore"); err != nil {
		t.Fatal(err)
	}
	writes.take()
	_, err := c.EnsureTenant(ctx, testTenant("setup", "desk"))
	if !errors.Is(err, ErrNotConfigured) || Reason(err) != ReasonNotConfigured || !strings.Contains(err.Error(), "helpdesk-tenant-restore is missing") {
		t.Fatalf("EnsureTenant without the tenant policies: %v, want ErrNotConfigured naming the policy", err)
	}
	if got := writes.take(); len(got) != 0 {
		t.Errorf("wrote %v while Vault is not set up", got)
	}
	if err := c.EnsureMounts(ctx, placeholderKubernetes); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureTenant(ctx, testTenant("setup", "desk")); err != nil {
		t.Fatalf("after the set-up was repaired: %v", err)
	}
}
