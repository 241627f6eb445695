package vaultage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Signatures are transit HMACs rather than transit encryptions: the backup Job may only use
// encrypt, hmac and verify on its key, and the restore, drill and list Jobs only decrypt and
// verify, so whoever checks a signature can never make one, and no check needs decrypt.

// hmacAlgorithm is the hash transit HMACs with (sent in the body, not the URL path).
const hmacAlgorithm = "sha2-256"

// verifyBatchSize bounds one verify request; a catalog of many backups takes several.
const verifyBatchSize = 256

// Sign returns the transit HMAC (sha2-256) of data with the key, as vault:vN:<base64>, which
// names the key version so Verify still checks it after a rotation.
func (t Transit) Sign(ctx context.Context, data []byte) (string, error) {
	secret, err := t.Client.Logical().WriteWithContext(ctx, t.Mount+"/hmac/"+t.Key, map[string]any{
		"input":     base64.StdEncoding.EncodeToString(data),
		"algorithm": hmacAlgorithm,
	})
	if err != nil {
		return "", t.describe("hmac", err)
	}
	var sig string
	if secret != nil {
		sig, _ = secret.Data["hmac"].(string)
	}
	if !versionRE.MatchString(sig) {
		return "", fmt.Errorf("%w: vault transit hmac with key %q on mount %q returned no vault:vN: HMAC", ErrVault, t.Key, t.Mount)
	}
	return sig, nil
}

// Signed is data with the signature it claims.
type Signed struct {
	Data      []byte
	Signature string
}

// Verdict is what transit verify said about one signature.
type Verdict struct {
	Valid bool
	// Trimmed is true when the signature's key version is below the key's
	// min_decryption_version: made before crypto-shredding trimmed that version.
	Trimmed bool
}

// Verify checks many signatures with transit verify, in batches: valid[i] reports whether
// items[i].Signature is this key's HMAC of items[i].Data. A signature that is empty,
// malformed, of another key, or of a version Vault will not check (newer than the key, or
// below its min_decryption_version) is simply not valid. Only a failed call (Vault
// unreachable or sealed, permission denied, unknown key) is an error, wrapping ErrVault, so
// an outage is never mistaken for a forgery.
func (t Transit) Verify(ctx context.Context, items []Signed) ([]bool, error) {
	verdicts, err := t.VerifyAll(ctx, items)
	if err != nil {
		return nil, err
	}
	valid := make([]bool, len(verdicts))
	for i, v := range verdicts {
		valid[i] = v.Valid
	}
	return valid, nil
}

// VerifyAll is Verify with the reason of each invalid signature that Vault refused for
// its version being trimmed.
func (t Transit) VerifyAll(ctx context.Context, items []Signed) ([]Verdict, error) {
	valid := make([]Verdict, len(items))
	var batch []map[string]string
	var index []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		results, err := t.verifyBatch(ctx, batch)
		if err != nil {
			return err
		}
		for i, ok := range results {
			valid[index[i]] = ok
		}
		batch, index = batch[:0], index[:0]
		return nil
	}
	for i, it := range items {
		if it.Signature == "" {
			continue // unsigned: nothing to ask Vault
		}
		batch = append(batch, map[string]string{"input": base64.StdEncoding.EncodeToString(it.Data), "hmac": it.Signature})
		index = append(index, i)
		if len(batch) == verifyBatchSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return valid, nil
}

func (t Transit) verifyBatch(ctx context.Context, batch []map[string]string) ([]Verdict, error) {
	secret, err := t.Client.Logical().WriteWithContext(ctx, t.Mount+"/verify/"+t.Key, map[string]any{
		"batch_input": batch,
		"algorithm":   hmacAlgorithm,
	})
	if err != nil {
		return nil, t.describe("verify", err)
	}
	if secret == nil || secret.Data == nil {
		return nil, fmt.Errorf("%w: vault transit verify with key %q on mount %q returned no data", ErrVault, t.Key, t.Mount)
	}
	raw, err := json.Marshal(secret.Data["batch_results"])
	if err != nil {
		return nil, err
	}
	// A per-item error (malformed HMAC, refused version) comes back as valid=false with an
	// error text; only a version refused as too old (trimmed) is told apart.
	var results []struct {
		Valid bool   `json:"valid"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(raw, &results); err != nil || len(results) != len(batch) {
		return nil, fmt.Errorf("%w: vault transit verify with key %q on mount %q returned %d results for %d signatures", ErrVault, t.Key, t.Mount, len(results), len(batch))
	}
	out := make([]Verdict, len(results))
	for i, r := range results {
		out[i] = Verdict{Valid: r.Valid, Trimmed: !r.Valid && tooOld(r.Error)}
	}
	return out, nil
}
