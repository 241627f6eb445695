package vault

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// TestTrimKeyShredsOldVersions: with exactly the documented operator policy, trimming a
// tenant key makes what older versions encrypted undecryptable for good, keeps newer
// versions working, and never goes past the latest version or back.
func TestTrimKeyShredsOldVersions(t *testing.T) {
	ctx := context.Background()
	admin, _ := newTestClient(t, shared)
	op, _ := operatorClient(t, shared)
	tenant := testTenant("shred", "desk")
	if _, err := admin.EnsureTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.DeleteTenant(context.Background(), tenant, Shred) })
	root := rootClient(t, shared)
	key := KeyName("helpdesk", tenant.Namespace, tenant.Name)

	// One ciphertext under each of versions 1 to 4.
	var sealed []string
	for v := 1; v <= 4; v++ {
		if v > 1 {
			if _, err := op.api.Logical().WriteWithContext(ctx, "transit/keys/"+key+"/rotate", nil); err != nil {
				t.Fatalf("the operator rotating the key: %v", err)
			}
		}
		s, err := root.Logical().WriteWithContext(ctx, "transit/encrypt/"+key, map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte("v"))})
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s.Data["ciphertext"].(string))
	}
	decrypt := func(ct string) error {
		_, err := root.Logical().WriteWithContext(ctx, "transit/decrypt/"+key, map[string]any{"ciphertext": ct})
		return err
	}

	before, err := op.KeyVersions(ctx, tenant.Namespace, tenant.Name)
	if err != nil {
		t.Fatal(err)
	}
	if before.Latest != 4 || before.MinDecryption != 1 || before.MinAvailable != 0 || len(before.Created) != 4 {
		t.Fatalf("key before the trim: %+v", before)
	}
	for v := 2; v <= 4; v++ {
		if before.Created[v].Before(before.Created[v-1]) || time.Since(before.Created[v]) > time.Minute {
			t.Errorf("creation times %v are not of versions rotated just now, in order", before.Created)
		}
	}

	after, err := op.TrimKey(ctx, tenant.Namespace, tenant.Name, 3)
	if err != nil {
		t.Fatalf("trimming with the documented operator policy: %v", err)
	}
	if after.MinDecryption != 3 || after.MinAvailable != 3 || after.Latest != 4 {
		t.Errorf("key after the trim: %+v", after)
	}
	for i, ct := range sealed {
		err := decrypt(ct)
		switch v := i + 1; {
		case v < 3 && (err == nil || !strings.Contains(err.Error(), "too old")):
			t.Errorf("version %d still decrypts after the trim (err %v)", v, err)
		case v >= 3 && err != nil:
			t.Errorf("version %d no longer decrypts after trimming below 3: %v", v, err)
		}
	}
	// Encryption still uses the latest version.
	s, err := root.Logical().WriteWithContext(ctx, "transit/encrypt/"+key, map[string]any{"plaintext": "dg=="})
	if err != nil || !strings.HasPrefix(s.Data["ciphertext"].(string), "vault:v4:") {
		t.Errorf("encrypting after the trim: %v %v", s, err)
	}
	// Trimmed versions cannot come back: lowering is refused by Vault itself.
	if _, err := root.Logical().WriteWithContext(ctx, "transit/keys/"+key+"/config", map[string]any{"min_decryption_version": 1}); err == nil {
		if decrypt(sealed[0]) == nil {
			t.Error("lowering min_decryption_version brought a trimmed version back")
		}
	}

	// Trimming to the same version again changes nothing; a lower one neither.
	for _, v := range []int{3, 2} {
		again, err := op.TrimKey(ctx, tenant.Namespace, tenant.Name, v)
		if err != nil || again.MinAvailable != 3 {
			t.Errorf("trimming to %d after 3: %+v, %v", v, again, err)
		}
	}
	// Never the latest version's successor: that would shred data written tomorrow.
	if _, err := op.TrimKey(ctx, tenant.Namespace, tenant.Name, 5); err == nil || !strings.Contains(err.Error(), "newer than the latest version") {
		t.Errorf("trimming past the latest version: %v", err)
	}
	// The latest version itself may go down to: everything older is shredded.
	if after, err = op.TrimKey(ctx, tenant.Namespace, tenant.Name, 4); err != nil || after.MinAvailable != 4 || decrypt(sealed[3]) != nil {
		t.Errorf("trimming to the latest version: %+v, %v", after, err)
	}
	if kv, err := op.KeyVersions(ctx, "shred", "missing"); err != nil || kv != nil {
		t.Errorf("a missing key: %+v, %v", kv, err)
	}
}
