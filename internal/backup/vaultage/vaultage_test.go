package vaultage

import (
	"bytes"
	"context"
	"errors"
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
	seal, err := a.Sign(ctx, []byte("manifest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(ctx, []byte("manifest"), seal); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := a.Verify(ctx, []byte("manifest!"), seal); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verify of edited data: %v", err)
	}
	if err := b.Verify(ctx, []byte("manifest"), seal); !errors.Is(err, ErrVault) {
		t.Fatalf("verify with another key: %v", err)
	}

	if err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Probe(ctx); !errors.Is(err, ErrVault) || !strings.Contains(err.Error(), "reachable") {
		t.Fatalf("probe with Vault down: %v", err)
	}
}
