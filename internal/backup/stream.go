package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

// Encoder settings, matched to the baseline pg_dump | zstd -3 (hack/bench-backup). The
// level: on the bench's 719 MB dump zstd -3 (the C CLI) writes 6.6 MB in about 1.2 s of CPU;
// this package's SpeedDefault writes 5.6 MB but takes 2.0-2.5 s, SpeedFastest 6.2 MB in
// 1.25 s. SpeedFastest matches it (on text-heavy dumps it compresses like zstd -1, some
// 10% larger than -3). No frame checksum: age authenticates every 64 KiB of the compressed
// stream and the manifest signs its SHA-256, so the xxhash would check nothing more and
// costs 0.2-0.4 s a GiB, once when writing and once when restoring. One worker: the dump
// arrives no faster than one core compresses it, and more workers only add hand-offs
// (measured: two workers made the pipeline about 40% slower than pg_dump | zstd -3).
// The window is zstd -3's, 2 MiB: memory stays flat whatever the database size, and the
// encoder's history (twice the window) is 4 MiB, not 8; on the bench's dump a 4 MiB window
// compressed no better and slower.
var encoderOptions = []zstd.EOption{
	zstd.WithEncoderLevel(zstd.SpeedFastest),
	zstd.WithEncoderCRC(false),
	zstd.WithEncoderConcurrency(1),
	zstd.WithWindowSize(2 << 20),
}

// The decoder refuses windows larger than we write (plus margin), bounding restore memory.
var decoderOptions = []zstd.DOption{
	zstd.WithDecoderConcurrency(2),
	zstd.WithDecoderMaxWindow(32 << 20),
	zstd.WithDecoderLowmem(true),
}

// hashWriter counts and hashes what passes through to w: the stored ciphertext.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// compressor is the zstd encoder counting the plain bytes it takes.
type compressor struct {
	zw *zstd.Encoder
	n  int64
}

func (c *compressor) Write(p []byte) (int, error) {
	n, err := c.zw.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom lets io.Copy, and so os/exec's copy of pg_dump's output, hand the pipe to zstd,
// which reads straight into its block buffer: one copy of the whole dump less.
func (c *compressor) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.zw.ReadFrom(r)
	c.n += n
	return n, err
}

// seal stores what produce writes as object name: produce → zstd → age → SHA-256 → upload,
// all streamed through a pipe. Any failure on either side stops the other, and the
// destination never completes the object.
func (e *Engine) seal(ctx context.Context, name, kind string, produce func(io.Writer) error) (ObjectEntry, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The first failure is the cause; the other side's failure is its consequence.
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err })
		cancel()
	}
	pr, pw := io.Pipe()
	hw := &hashWriter{w: pw, h: sha256.New()}
	recipient := e.Transit.Recipient(ctx)
	plainc := make(chan int64, 1)
	go func() {
		endCompress := e.Timings.Begin(kind + "-compress-encrypt")
		plain, err := func() (int64, error) {
			aw, err := age.Encrypt(hw, recipient)
			if err != nil {
				return 0, fmt.Errorf("starting encryption of %s: %w", name, err)
			}
			zw, err := zstd.NewWriter(aw, encoderOptions...)
			if err != nil {
				return 0, err
			}
			cw := &compressor{zw: zw}
			if err := produce(cw); err != nil {
				zw.Close()
				return cw.n, err
			}
			if err := zw.Close(); err != nil {
				return cw.n, fmt.Errorf("compressing %s: %w", name, err)
			}
			if err := aw.Close(); err != nil {
				return cw.n, fmt.Errorf("encrypting %s: %w", name, err)
			}
			return cw.n, nil
		}()
		endCompress()
		if err != nil {
			fail(err)
		}
		pw.CloseWithError(err)
		plainc <- plain
	}()
	endUpload := e.Timings.Begin(kind + "-upload")
	if err := e.Dest.Put(ctx, name, pr); err != nil {
		fail(err)
	}
	endUpload()
	// If the upload gave up early, unblock the producer's writes.
	pr.CloseWithError(errUploadStopped)
	plain := <-plainc
	if firstErr != nil {
		return ObjectEntry{}, 0, firstErr
	}
	return ObjectEntry{Name: name, Kind: kind, Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil)), PlainSize: plain}, recipient.Version, nil
}

var errUploadStopped = errors.New("upload stopped")

// hashReader hashes and counts what is read from r, and remembers r's own failures so they
// are not mistaken for authentication failures.
type hashReader struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	ioErr error
}

func (hr *hashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	if err != nil && err != io.EOF && hr.ioErr == nil {
		hr.ioErr = err
	}
	return n, err
}

// open reads object obj, decrypts it and hands the decompressed stream to consume (or, when
// raw is set, the decrypted but still compressed stream). Age checks every segment's tag as
// it goes; the end of the stream is held back (see holdback) until the object has been read
// to its end and its size and SHA-256 matched the manifest, so a consumer never gets the
// whole of an object that does not match. What the consumer leaves is read and checked too.
func (e *Engine) open(ctx context.Context, obj ObjectEntry, raw bool, consume func(io.Reader) error) error {
	rc, err := e.Dest.Get(ctx, obj.Name)
	if err != nil {
		return err
	}
	defer rc.Close()
	hr := &hashReader{r: rc, h: sha256.New()}
	integrity := func(err error) error {
		if hr.ioErr != nil {
			return fmt.Errorf("reading %s from %s: %w", obj.Name, e.Dest, hr.ioErr)
		}
		if errors.Is(err, vaultage.ErrWrongKey) || errors.Is(err, vaultage.ErrVault) || errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("%w: %s failed authentication (tampered, truncated or reordered): %w", ErrIntegrity, obj.Name, err)
	}
	ar, err := age.Decrypt(hr, e.Transit.Identity(ctx))
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return fmt.Errorf("%w: %s failed authentication: its age header has no Vault transit stanza (stanzas %v): the header was tampered with, or the object was not written by this engine", ErrIntegrity, obj.Name, noMatch.StanzaTypes)
		}
		return integrity(err)
	}
	// authErr captures age failures seen by the consumer, which may report them differently.
	ag := &authReader{r: ar}
	var stream io.Reader = ag
	if !raw {
		zr, err := zstd.NewReader(ag, decoderOptions...)
		if err != nil {
			return err
		}
		defer zr.Close()
		stream = zr
	}
	// verify runs when the stream has ended. zstd reports its end only after age reported
	// its own (it looks for a next frame), so age has checked the last segment; the object
	// must end there, and match the manifest.
	verify := func() error {
		if _, err := io.Copy(io.Discard, ag); err != nil && ag.err == nil {
			ag.err = err
		}
		if ag.err != nil {
			return integrity(ag.err)
		}
		if _, err := io.Copy(io.Discard, hr); err != nil || hr.ioErr != nil {
			return integrity(err)
		}
		if hr.n != obj.Size {
			return fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrIntegrity, obj.Name, hr.n, obj.Size)
		}
		if sum := hex.EncodeToString(hr.h.Sum(nil)); sum != obj.SHA256 {
			return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrIntegrity, obj.Name, sum, obj.SHA256)
		}
		return nil
	}
	hb := newHoldback(stream, holdbackSize, verify)
	consumeErr := consume(hb)
	if consumeErr == nil && !hb.verified {
		if _, err := io.Copy(io.Discard, hb); err != nil && hb.verifyErr == nil && ag.err == nil && hr.ioErr == nil {
			consumeErr = fmt.Errorf("decompressing %s: %w", obj.Name, err)
		}
	}
	// The cause first: a mismatch or an authentication failure makes the consumer fail too.
	switch {
	case hb.verifyErr != nil:
		return hb.verifyErr
	case ag.err != nil:
		return integrity(ag.err)
	case hr.ioErr != nil:
		return integrity(hr.ioErr)
	case consumeErr != nil:
		return consumeErr
	case !hb.verified:
		return fmt.Errorf("%w: %s was not read to its end", ErrIntegrity, obj.Name)
	}
	return nil
}

// authReader records the first error of the age payload reader (authentication failures,
// truncation), before consumers such as zstd or pg_restore rephrase it.
type authReader struct {
	r   io.Reader
	err error
}

func (a *authReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF && a.err == nil {
		a.err = err
	}
	return n, err
}
