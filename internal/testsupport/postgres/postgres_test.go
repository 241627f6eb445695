package postgres

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartCreateDatabaseAndClientTools(t *testing.T) {
	srv := Start(t)
	srv.CreateDatabase(t, "harness_check")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.DSN("harness_check"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version[:2] != Major {
		t.Fatalf("server_version_num %s, want major %s", version, Major)
	}
	out, err := exec.Command(filepath.Join(srv.BinDir(), "pg_dump"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump --version: %v %s", err, out)
	}
}
