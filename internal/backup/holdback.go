package backup

import (
	"io"
	"os/exec"
)

// A restore reads every object twice: a first pass checks it whole before the target is
// touched, and the second streams it into the target. The destination may serve different
// bytes the second time (an object swapped in between, for instance a genuine object of
// another backup of the same instance, which age authenticates since the key is the same).
// Only the SHA-256 and size in the signed manifest tell it apart, and they are known only at
// the end of the stream. So the end of the decompressed stream is held back until the
// object has been read to its end and matched the manifest; on a mismatch the consumer gets
// an error instead of the end, and never sees the rest.
//
// Why withholding the end is enough for pg_restore: a custom-format archive (pg_dump -Fc)
// written to a pipe is a header and the whole table of contents (every object's SQL) first,
// then the data blocks in TOC order, each a block header and length-prefixed chunks ending in
// a zero-length chunk, and nothing after the last block (pg_dump cannot seek back into a
// pipe, so there is no trailer or offset table). pg_restore reads the TOC completely before
// it runs anything, reads each data block up to its terminating chunk, and issues COMMIT
// (--single-transaction) only after the last data block and the post-data steps. So without
// the final bytes it either fails reading the TOC (archives smaller than the held-back part
// send nothing at all) or fails inside the last data block: it cannot reach COMMIT, and the
// server rolls the transaction back when it exits. One byte would do; 64 KiB of margin costs
// nothing, and we hold back the decompressed stream (what pg_restore reads), not the
// compressed one, whose last bytes (a checksum) might carry no data. On top of that, the
// pg_restore feeder (killOnReadError) kills pg_restore before its input ends on any error,
// so a cut stream is never taken for a complete one.
//
// For the attachments tar the end held back includes the end-of-archive blocks and the last
// files; files unpacked before a mismatch are removed again (restoreObjects' undo).
const holdbackSize = 64 << 10

// holdback passes r through but keeps the last n bytes back until r has ended and verify
// has passed; when verify fails (or r fails), that error is returned instead of them.
type holdback struct {
	r      io.Reader
	n      int
	verify func() error

	buf        []byte // buf[start:end] is read from r, not passed on yet
	start, end int
	eof        bool  // r has ended
	verified   bool  // verify passed
	err        error // r's failure or verify's verdict
	verifyErr  error // verify's verdict alone
}

func newHoldback(r io.Reader, n int, verify func() error) *holdback {
	return &holdback{r: r, n: n, verify: verify, buf: make([]byte, n+32<<10)}
}

func (h *holdback) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		avail := h.end - h.start
		if !h.verified {
			avail -= h.n
		}
		if avail > 0 {
			n := copy(p, h.buf[h.start:h.start+min(avail, len(p))])
			h.start += n
			return n, nil
		}
		switch {
		case h.err != nil:
			return 0, h.err
		case h.verified:
			return 0, io.EOF
		case h.eof:
			if err := h.verify(); err != nil {
				h.err, h.verifyErr = err, err
			} else {
				h.verified = true
			}
			continue
		}
		if h.end == len(h.buf) {
			h.end = copy(h.buf, h.buf[h.start:h.end])
			h.start = 0
		}
		n, err := h.r.Read(h.buf[h.end:])
		h.end += n
		if err == io.EOF {
			h.eof = true
		} else if err != nil {
			h.err = err
		}
	}
}

// killOnReadError feeds a program's stdin from r. On any read error (the held-back end
// rejected, an authentication failure, a broken download) it kills the program before
// os/exec closes its input, so the program never sees a cut stream end cleanly.
type killOnReadError struct {
	r   io.Reader
	cmd *exec.Cmd
}

func (k *killOnReadError) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if err != nil && err != io.EOF && k.cmd.Process != nil {
		_ = k.cmd.Process.Kill()
	}
	return n, err
}
