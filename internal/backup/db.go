package backup

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Database is how to reach PostgreSQL. The password goes to pg_dump and pg_restore through
// PGPASSWORD in their environment, never on a command line.
type Database struct {
	Host     string
	Port     int
	Name     string
	User     string
	Password string
	SSLMode  string // PGSSLMODE; "prefer" when empty
	// BinDir holds pg_dump and pg_restore of the server's major version; PATH when empty.
	BinDir string
}

func (d Database) withName(name string) Database { d.Name = name; return d }

func (d Database) tool(name string) string {
	if d.BinDir == "" {
		return name
	}
	return filepath.Join(d.BinDir, name)
}

// connect opens a pgx connection.
func (d Database) connect(ctx context.Context) (*pgx.Conn, error) {
	sslmode := d.SSLMode
	if sslmode == "" {
		sslmode = "prefer"
	}
	cfg, err := pgx.ParseConfig("sslmode=" + quoteConnValue(sslmode))
	if err != nil {
		return nil, fmt.Errorf("database settings: %w", err)
	}
	cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password = d.Host, uint16(d.Port), d.Name, d.User, d.Password
	for _, fb := range cfg.Fallbacks {
		fb.Host, fb.Port = d.Host, uint16(d.Port)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %q at %s as %q: %w", d.Name, net.JoinHostPort(d.Host, strconv.Itoa(d.Port)), d.User, err)
	}
	return conn, nil
}

func quoteConnValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// env is the environment for pg_dump and pg_restore: ours, minus any PG* connection
// variables that would override the settings we pass.
func (d Database) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGSSLMODE", "PGSERVICE":
			continue
		}
		env = append(env, kv)
	}
	sslmode := d.SSLMode
	if sslmode == "" {
		sslmode = "prefer"
	}
	return append(env, "PGHOST="+d.Host, "PGPORT="+strconv.Itoa(d.Port), "PGDATABASE="+d.Name,
		"PGUSER="+d.User, "PGPASSWORD="+d.Password, "PGSSLMODE="+sslmode)
}

// tailBuffer keeps the last bytes a tool printed, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

// userTablesQuery lists the tables pg_dump dumps the rows of: ordinary tables (partitions
// included, partitioned parents excluded since their rows live in the partitions) outside
// system schemas and not owned by an extension.
const userTablesQuery = `
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2`

// countRows counts the rows of every user table exactly (count(*) FROM ONLY, so inherited
// children are not counted twice), in conn's current transaction and snapshot.
func countRows(ctx context.Context, conn *pgx.Conn) (map[string]int64, error) {
	rows, err := conn.Query(ctx, userTablesQuery)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	var tables [][2]string
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			return nil, err
		}
		tables = append(tables, [2]string{schema, table})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		q := "SELECT count(*) FROM ONLY " + pgx.Identifier{t[0], t[1]}.Sanitize()
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting rows of %s.%s: %w", t[0], t[1], err)
		}
		counts[t[0]+"."+t[1]] = n
	}
	return counts, nil
}

// checkEmpty refuses a database that holds any user object, so a restore never mixes
// with or overwrites existing data.
func checkEmpty(ctx context.Context, conn *pgx.Conn, name string) error {
	const q = `
SELECT
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%')
+ (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
+ (SELECT count(*) FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public')
     AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%')
+ (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')`
	var n int64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return fmt.Errorf("checking that database %q is empty: %w", name, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: database %q already holds %d objects (tables, functions, schemas or extensions); restore into a new, empty database", ErrTargetNotEmpty, name, n)
	}
	return nil
}

// runTool runs a PostgreSQL client tool and includes the tail of its stderr in the error.
func runTool(cmd *exec.Cmd, what string) error {
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed: %w: %s", what, err, stderr.String())
	}
	return nil
}
