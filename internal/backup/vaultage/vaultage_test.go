package vaultage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

func newTransit(t *testing.T, v *vaultdev.Server, key string) Transit {
	t.Helper()
	client := v.Client(t)
	ctx := context.Background()
	mounts, err := client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mounts["transit/"]; !ok {
		if err := client.Sys().MountWithContext(ctx, "transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Logical().WriteWithContext(ctx, "transit/keys/"+key, nil); err != nil {
		t.Fatal(err)
	}
	return Transit{Client: client, Mount: "transit", Key: key}
}

func encrypt(t *testing.T, tr Transit, plain []byte) ([]byte, *Recipient) {
	t.Helper()
	var buf bytes.Buffer
	r := tr.Recipient(context.Background())
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), r
}

func decrypt(tr Transit, ct []byte) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ct), tr.Identity(context.Background()))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTripRotationWrongKeyAndSeal(t *testing.T) {
	v := vaultdev.Start(t)
	a := newTransit(t, v, "helpdesk-ns-a")
	b := newTransit(t, v, "helpdesk-ns-b")
	plain := bytes.Repeat([]byte("secret ticket "), 10000)

	ct, r := encrypt(t, a, plain)
	if r.Version != 1 || bytes.Contains(ct, []byte("secret ticket")) || !bytes.Contains(ct, []byte(StanzaType+" transit helpdesk-ns-a")) {
		t.Fatalf("version %d; the ciphertext must hold the plaintext nowhere and name the key in its stanza", r.Version)
	}
	if _, err := a.Client.Logical().Write("transit/keys/helpdesk-ns-a/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := decrypt(a, ct); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt after rotation: %v", err)
	}
	if _, r2 := encrypt(t, a, plain); r2.Version != 2 {
		t.Fatalf("version after rotation %d, want 2", r2.Version)
	}
	if _, err := decrypt(b, ct); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "helpdesk-ns-a") {
		t.Fatalf("decrypt with the wrong key: %v", err)
	}

	ctx := context.Background()
	sig, err := a.Sign(ctx, []byte("manifest"))
	if err != nil {
		t.Fatal(err)
	}
	valid, err := a.Verify(ctx, []Signed{{[]byte("manifest"), sig}, {[]byte("manifest!"), sig}, {[]byte("manifest"), ""}})
	if err != nil || !valid[0] || valid[1] || valid[2] {
		t.Fatalf("verify of the data, edited data, no signature: %v, %v; want [true false false]", valid, err)
	}
	if valid, err := b.Verify(ctx, []Signed{{[]byte("manifest"), sig}}); err != nil || valid[0] {
		t.Fatalf("verify with another key: %v, %v; want not valid, no error", valid, err)
	}

	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Probe(ctx); !errors.Is(err, ErrVault) || !strings.Contains(err.Error(), "reachable") {
		t.Fatalf("probe with Vault down: %v", err)
	}
	// An outage is an error, never a verdict on the signature.
	if valid, err := a.Verify(ctx, []Signed{{[]byte("manifest"), sig}}); !errors.Is(err, ErrVault) || valid != nil {
		t.Fatalf("verify with Vault down: %v, %v; want ErrVault", valid, err)
	}
}

// tokenWith returns a client whose token holds only the given capabilities on the key, as
// the tenant's separate Vault roles do.
func tokenWith(t *testing.T, v *vaultdev.Server, tr Transit, name string, ops ...string) Transit {
	t.Helper()
	ctx := context.Background()
	admin := v.Client(t)
	var policy strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&policy, "path %q {\n  capabilities = [\"update\"]\n}\n", tr.Mount+"/"+op+"/"+tr.Key)
	}
	if err := admin.Sys().PutPolicyWithContext(ctx, name, policy.String()); err != nil {
		t.Fatal(err)
	}
	s, err := admin.Auth().Token().CreateWithContext(ctx, &vaultapi.TokenCreateRequest{Policies: []string{name}, NoDefaultPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	client, err := admin.Clone()
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(s.Auth.ClientToken)
	tr.Client = client
	return tr
}

// TestSignaturesWithSplitRoles: the backup role (encrypt, hmac, verify) signs; the restore
// and drill role (decrypt, verify) and the list role (verify) check, and cannot sign.
func TestSignaturesWithSplitRoles(t *testing.T) {
	v := vaultdev.Start(t)
	a := newTransit(t, v, "helpdesk-ns-roles")
	ctx := context.Background()
	backup := tokenWith(t, v, a, "backup", "encrypt", "hmac", "verify")
	restore := tokenWith(t, v, a, "restore", "decrypt", "verify")
	list := tokenWith(t, v, a, "list", "verify")

	sig, err := backup.Sign(ctx, []byte("manifest"))
	if err != nil {
		t.Fatalf("sign with encrypt, hmac and verify rights: %v", err)
	}
	for name, tr := range map[string]Transit{"restore": restore, "list": list, "backup": backup} {
		valid, err := tr.Verify(ctx, []Signed{{[]byte("manifest"), sig}, {[]byte("edited"), sig}})
		if err != nil || !valid[0] || valid[1] {
			t.Fatalf("verify with the %s role: %v, %v; want [true false]", name, valid, err)
		}
	}
	for name, tr := range map[string]Transit{"restore": restore, "list": list} {
		if _, err := tr.Sign(ctx, []byte("forged")); !errors.Is(err, ErrVault) || !strings.Contains(err.Error(), "403") {
			t.Fatalf("sign with the %s role: %v, want denied", name, err)
		}
	}
	// A transit ciphertext of the data (what encrypt rights can make) is no signature.
	ct, err := backup.wrap(ctx, []byte("manifest"))
	if err != nil {
		t.Fatal(err)
	}
	if valid, err := list.Verify(ctx, []Signed{{[]byte("manifest"), ct}}); err != nil || valid[0] {
		t.Fatalf("a transit ciphertext passed as a signature: %v, %v", valid, err)
	}
	// Signatures made before a rotation still verify.
	if _, err := a.Client.Logical().WriteWithContext(ctx, "transit/keys/"+a.Key+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if valid, err := list.Verify(ctx, []Signed{{[]byte("manifest"), sig}}); err != nil || !valid[0] {
		t.Fatalf("verify after rotation: %v, %v", valid, err)
	}
	// More signatures than one batch holds.
	many := make([]Signed, verifyBatchSize+3)
	for i := range many {
		many[i] = Signed{[]byte("manifest"), sig}
	}
	many[verifyBatchSize+1].Data = []byte("edited")
	valid, err := list.Verify(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range valid {
		if ok != (i != verifyBatchSize+1) {
			t.Fatalf("batched verify: item %d valid=%v", i, ok)
		}
	}
}
