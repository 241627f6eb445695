package backup

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// BenchmarkBackup compares, on a pgbench database (BENCH_SCALE, default 10, about 150 MiB),
// the plain pg_dump | zstd -3 baseline, our dump+compress pipeline alone, and a full
// encrypted backup to the S3 gateway. hack/bench-backup does the same at 1 GiB with restores.
func BenchmarkBackup(b *testing.B) {
	scale := 10
	if s, err := strconv.Atoi(os.Getenv("BENCH_SCALE")); err == nil && s > 0 {
		scale = s
	}
	db := uniqueName("pgbench_")
	pgSrv.CreateDatabase(b, db)
	cfg := dbConfig(pgSrv, db)
	init := exec.Command("pgbench", "-i", "-q", "-s", strconv.Itoa(scale), db)
	init.Env = cfg.env()
	if out, err := init.CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	var size int64
	if n, err := DumpCompressed(context.Background(), cfg, io.Discard); err != nil {
		b.Fatal(err)
	} else {
		size = n
	}
	b.Run("baseline-pg_dump-zstd-cli", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			cmd := exec.Command("sh", "-c", `"$0" -Fc -Z0 | zstd -3 -q >/dev/null`, cfg.tool("pg_dump"))
			cmd.Env = cfg.env()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v %s", err, out)
			}
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := DumpCompressed(context.Background(), cfg, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backup-s3", func(b *testing.B) {
		e := newEngine(b, s3Dest(b, s3Srv), db, "")
		b.SetBytes(size)
		for b.Loop() {
			if _, err := e.Backup(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
