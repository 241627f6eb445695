// Package vaultage plugs Vault transit into age: each object's age file key is wrapped by
// transit encrypt on the instance's key and unwrapped by transit decrypt. It also signs
// manifests with transit hmac and checks them with transit verify (see Sign).
//
// We encrypt with age (filippo.io/age) rather than a hand-rolled construction because it is
// audited and its STREAM payload format (ChaCha20-Poly1305 over 64 KiB segments with a
// counter nonce and a last-segment flag) already detects tampering, truncation and
// reordering; the only piece we add is where the file key lives. Only the Vault ciphertext
// (vault:vN:..., which names the key version) is stored, inside the age header, so no
// plaintext key ever touches disk and transit decrypts old backups after key rotation.
package vaultage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"filippo.io/age"
	vaultapi "github.com/hashicorp/vault/api"
)

// StanzaType names our age recipient stanza; its arguments are the transit mount and key name.
const StanzaType = "helpdesk-vault-transit"

// ErrWrongKey means an object's file key was wrapped by another transit key than the one
// this restore uses (the wrong instance's key, or an edited manifest).
var ErrWrongKey = errors.New("backup encrypted with a different Vault transit key")

// ErrVault marks a failed Vault call (unreachable, sealed, denied, unknown key).
var ErrVault = errors.New("vault transit call failed")

// ErrKeyVersionTrimmed means the data was encrypted (or signed) with a version of the
// transit key that Vault no longer uses: below the key's min_decryption_version, which
// crypto-shredding raises before it trims (deletes) the old versions. Nothing can decrypt
// such data any more; it is not damage and no retry helps.
var ErrKeyVersionTrimmed = errors.New("transit key version trimmed")

// tooOld recognises Vault's refusal of a version below min_decryption_version.
func tooOld(message string) bool { return strings.Contains(message, "too old") }

var versionRE = regexp.MustCompile(`^vault:v([0-9]+):`)

// Transit names the key that wraps file keys.
type Transit struct {
	Client *vaultapi.Client
	Mount  string // e.g. "transit"
	Key    string // <prefix>_<namespace>_<name>
}

// Probe wraps a random throwaway key, proving that Vault answers, that our token may
// encrypt with the key, and returning the key version in use. Backups call it before
// reading any data so a Vault outage fails fast and touches nothing.
func (t Transit) Probe(ctx context.Context) (int, error) {
	probe := make([]byte, 16)
	rand.Read(probe)
	ct, err := t.wrap(ctx, probe)
	clear(probe)
	if err != nil {
		return 0, err
	}
	return KeyVersion(ct)
}

// KeyVersion is N in a transit ciphertext vault:vN:....
func KeyVersion(ciphertext string) (int, error) {
	m := versionRE.FindStringSubmatch(ciphertext)
	if m == nil {
		return 0, errors.New("vault transit returned a ciphertext without a vault:vN: prefix")
	}
	return strconv.Atoi(m[1])
}

// Recipient is an age.Recipient that wraps with this key; ctx bounds the Vault calls
// (age's interface carries no context).
func (t Transit) Recipient(ctx context.Context) *Recipient { return &Recipient{t: t, ctx: ctx} }

// Identity is an age.Identity that unwraps with this key.
func (t Transit) Identity(ctx context.Context) *Identity { return &Identity{t: t, ctx: ctx} }

// Recipient wraps age file keys with Vault transit. After Wrap, Version holds the key
// version that wrapped the last file key.
type Recipient struct {
	t       Transit
	ctx     context.Context
	Version int
}

var _ age.Recipient = (*Recipient)(nil)

// Wrap implements age.Recipient.
func (r *Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	ct, err := r.t.wrap(r.ctx, fileKey)
	if err != nil {
		return nil, err
	}
	if r.Version, err = KeyVersion(ct); err != nil {
		return nil, err
	}
	return []*age.Stanza{{Type: StanzaType, Args: []string{r.t.Mount, r.t.Key}, Body: []byte(ct)}}, nil
}

// Identity unwraps age file keys with Vault transit.
type Identity struct {
	t   Transit
	ctx context.Context
}

var _ age.Identity = (*Identity)(nil)

// Unwrap implements age.Identity.
func (id *Identity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != StanzaType {
			continue
		}
		if len(s.Args) != 2 {
			return nil, fmt.Errorf("malformed %s stanza in the age header (want mount and key name)", StanzaType)
		}
		if s.Args[0] != id.t.Mount || s.Args[1] != id.t.Key {
			return nil, fmt.Errorf("%w: this object's file key is wrapped by Vault transit key %q on mount %q, but this run uses key %q on mount %q; restore with the key of the instance that made the backup",
				ErrWrongKey, s.Args[1], s.Args[0], id.t.Key, id.t.Mount)
		}
		return id.t.unwrap(id.ctx, string(s.Body))
	}
	return nil, fmt.Errorf("%w: no %s stanza in the age header", age.ErrIncorrectIdentity, StanzaType)
}

// wrap sends the key as base64 in a JSON body we build and zero ourselves, so no copy of it
// outlives the call in our memory (the HTTP stack's own buffers are not ours to clear).
func (t Transit) wrap(ctx context.Context, key []byte) (string, error) {
	b64 := make([]byte, base64.StdEncoding.EncodedLen(len(key)))
	base64.StdEncoding.Encode(b64, key)
	body := make([]byte, 0, len(b64)+16)
	body = append(body, `{"plaintext":"`...)
	body = append(body, b64...)
	body = append(body, `"}`...)
	defer clear(b64)
	defer clear(body)
	secret, err := t.Client.Logical().WriteBytesWithContext(ctx, t.Mount+"/encrypt/"+t.Key, body)
	if err != nil {
		return "", t.describe("encrypt", err)
	}
	if secret == nil || secret.Data == nil {
		return "", fmt.Errorf("vault transit encrypt with key %q on mount %q returned no data", t.Key, t.Mount)
	}
	ct, _ := secret.Data["ciphertext"].(string)
	if ct == "" {
		return "", fmt.Errorf("vault transit encrypt with key %q on mount %q returned no ciphertext", t.Key, t.Mount)
	}
	return ct, nil
}

func (t Transit) unwrap(ctx context.Context, ciphertext string) ([]byte, error) {
	body, err := json.Marshal(map[string]string{"ciphertext": ciphertext})
	if err != nil {
		return nil, err
	}
	resp, err := t.Client.Logical().WriteRawWithContext(ctx, t.Mount+"/decrypt/"+t.Key, body)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, t.describe("decrypt", err)
	}
	// Decode the response ourselves so the plaintext lands only in buffers we zero.
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	defer clear(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: reading Vault transit decrypt response for key %q: %w", ErrVault, t.Key, err)
	}
	var out struct {
		Data struct {
			Plaintext []byte `json:"plaintext"` // base64 in JSON decodes straight into bytes
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%w: Vault transit decrypt response for key %q is not JSON: %w", ErrVault, t.Key, err)
	}
	if len(out.Data.Plaintext) == 0 {
		return nil, fmt.Errorf("%w: Vault transit decrypt with key %q returned no plaintext", ErrVault, t.Key)
	}
	return out.Data.Plaintext, nil
}

// describe turns a Vault error into one that says what to fix, without echoing request data.
func (t Transit) describe(op string, err error) error {
	return fmt.Errorf("%w: %w", ErrVault, t.explain(op, err))
}

func (t Transit) explain(op string, err error) error {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case 403:
			return fmt.Errorf("vault denied transit %s with key %q on mount %q (HTTP 403): check the token or Kubernetes auth role and its policy", op, t.Key, t.Mount)
		case 400, 404:
			if op == "decrypt" && tooOld(firstError(re)) {
				return fmt.Errorf("%w: this object's file key is wrapped with a version of transit key %q (mount %q) below its min_decryption_version: the version was trimmed by crypto-shredding once every backup made with it was past its retention, so nothing can decrypt this backup any more; restore a newer backup",
					ErrKeyVersionTrimmed, t.Key, t.Mount)
			}
			if op == "decrypt" {
				return fmt.Errorf("vault transit could not decrypt with key %q on mount %q (HTTP %d: %s): the data was encrypted with another key or altered, the key was deleted, or min_decryption_version excludes its version",
					t.Key, t.Mount, re.StatusCode, firstError(re))
			}
			return fmt.Errorf("vault transit %s with key %q on mount %q failed (HTTP %d: %s): check that the transit engine is mounted there and the key exists",
				op, t.Key, t.Mount, re.StatusCode, firstError(re))
		}
		return fmt.Errorf("vault transit %s with key %q on mount %q failed (HTTP %d: %s)", op, t.Key, t.Mount, re.StatusCode, firstError(re))
	}
	return fmt.Errorf("vault transit %s with key %q on mount %q failed: %w: check that Vault at %s is reachable and unsealed", op, t.Key, t.Mount, err, t.Client.Address())
}

func firstError(re *vaultapi.ResponseError) string {
	if len(re.Errors) > 0 {
		return re.Errors[0]
	}
	return "no detail"
}
