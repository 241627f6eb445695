package vault

import (
	"context"
	"testing"
	"time"
)

// TestTenantStatusSaysWhenTheKeyWasRotated: EnsureTenant reports when the latest key
// version was created, from Vault's own record, and a rotation moves it on.
func TestTenantStatusSaysWhenTheKeyWasRotated(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t, shared)
	tenant := testTenant("keyage", "desk")
	before := time.Now().Add(-2 * time.Second)
	st, err := c.EnsureTenant(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if st.LatestVersion != 1 || st.LatestVersionCreated.Before(before) || st.LatestVersionCreated.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("new key: version %d created %s, want version 1 created about now", st.LatestVersion, st.LatestVersionCreated)
	}
	first := st.LatestVersionCreated
	time.Sleep(1100 * time.Millisecond) // Vault records seconds
	root := rootClient(t, shared)
	if _, err := root.Logical().WriteWithContext(ctx, c.keyPath(st.KeyName)+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	st, err = c.EnsureTenant(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if st.LatestVersion != 2 || !st.LatestVersionCreated.After(first) {
		t.Errorf("rotated key: version %d created %s, want version 2 created after %s", st.LatestVersion, st.LatestVersionCreated, first)
	}
}
