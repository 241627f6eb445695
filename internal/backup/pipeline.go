package backup

import (
	"context"
	"io"
	"os/exec"

	"github.com/klauspost/compress/zstd"
)

// DumpCompressed streams pg_dump -Fc -Z0 of db through the engine's zstd settings into w,
// without encryption or upload, and returns the dump's uncompressed size. It isolates the
// cost of dumping and compressing (the benchmark's middle measurement).
func DumpCompressed(ctx context.Context, db Database, w io.Writer) (int64, error) {
	zw, err := zstd.NewWriter(w, encoderOptions...)
	if err != nil {
		return 0, err
	}
	cw := &compressor{zw: zw}
	cmd := exec.CommandContext(ctx, db.tool("pg_dump"), "--format=custom", "--compress=0", "--no-password")
	cmd.Env = db.env()
	if err := runToolInto(ctx, cmd, "pg_dump", nil, cw); err != nil {
		zw.Close()
		return cw.n, err
	}
	return cw.n, zw.Close()
}
