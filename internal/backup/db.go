package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// Database is how to reach PostgreSQL. The password goes to pg_dump and pg_restore through
// PGPASSWORD in their environment, never on a command line.
type Database struct {
	// Host is a host name or address, or the folder of a Unix socket (the drill's server).
	Host     string
	Port     int
	Name     string
	User     string
	Password string
	SSLMode  string // PGSSLMODE; "prefer" when empty
	// SSLRootCert is a PEM file of the CAs to trust for the server's certificate (libpq's
	// sslrootcert); with SSLMode verify-full the certificate must also name Host.
	SSLRootCert string
	// BinDir holds pg_dump and pg_restore (and, for drills, initdb and postgres) of the
	// server's major version; PATH when empty.
	BinDir string
}

func (d Database) tool(name string) string {
	if d.BinDir == "" {
		return name
	}
	return filepath.Join(d.BinDir, name)
}

func (d Database) sslmode() string {
	if d.SSLMode == "" {
		return "prefer"
	}
	return d.SSLMode
}

// connect opens a pgx connection. The host is part of the parsed settings (not set
// afterwards) because pgx derives the TLS server name that verify-full checks from it.
func (d Database) connect(ctx context.Context) (*pgx.Conn, error) {
	settings := []string{"host=" + quoteConnValue(d.Host), "port=" + strconv.Itoa(d.Port),
		"dbname=" + quoteConnValue(d.Name), "user=" + quoteConnValue(d.User), "sslmode=" + quoteConnValue(d.sslmode())}
	if d.SSLRootCert != "" {
		settings = append(settings, "sslrootcert="+quoteConnValue(d.SSLRootCert))
	}
	cfg, err := pgx.ParseConfig(strings.Join(settings, " "))
	if err != nil {
		return nil, fmt.Errorf("database settings: %w (check --db-sslmode and --db-sslrootcert)", err)
	}
	cfg.Password = d.Password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, dbFailure(fmt.Sprintf("connecting to database %q at %s as %q", d.Name, net.JoinHostPort(d.Host, strconv.Itoa(d.Port)), d.User), err)
	}
	return conn, nil
}

func quoteConnValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// env is the environment for pg_dump and pg_restore: ours, minus any PG* connection
// variables that would override the settings we pass and any locale, since their messages
// are classified in English (LC_ALL=C).
func (d Database) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C", "PGHOST="+d.Host, "PGPORT="+strconv.Itoa(d.Port), "PGDATABASE="+d.Name,
		"PGUSER="+d.User, "PGPASSWORD="+d.Password, "PGSSLMODE="+d.sslmode())
	if d.SSLRootCert != "" {
		env = append(env, "PGSSLROOTCERT="+d.SSLRootCert)
	}
	return env
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
		return nil, dbFailure("listing tables", err)
	}
	var tables [][2]string
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			return nil, dbFailure("listing tables", err)
		}
		tables = append(tables, [2]string{schema, table})
	}
	if err := rows.Err(); err != nil {
		return nil, dbFailure("listing tables", err)
	}
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		q := "SELECT count(*) FROM ONLY " + pgx.Identifier{t[0], t[1]}.Sanitize()
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			return nil, dbFailure(fmt.Sprintf("counting rows of %s.%s", t[0], t[1]), err)
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
		return dbFailure(fmt.Sprintf("checking that database %q is empty", name), err)
	}
	if n > 0 {
		return fmt.Errorf("%w: database %q already holds %d objects (tables, functions, schemas or extensions); restore into a new, empty database", ErrTargetNotEmpty, name, n)
	}
	return nil
}

// runTool runs a PostgreSQL program. Its messages can quote rows, so they never reach the
// error: a classifier reads them and only the class is kept (see failure.go). debug, when
// set, gets them raw (--debug-tool-output).
func runTool(ctx context.Context, cmd *exec.Cmd, what string, debug io.Writer) error {
	c := &classifier{}
	cmd.Stderr = teeTo(c, debug)
	err := cmd.Run()
	if err == nil {
		return nil
	}
	f := &Failure{What: what, Class: c.result()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			f.Code = fmt.Sprintf("signal %d, %s", int(ws.Signal()), ws.Signal())
			// Not by us: the kernel's out-of-memory killer is the usual sender of SIGKILL.
			if f.Class == "" && ws.Signal() == syscall.SIGKILL && ctx.Err() == nil {
				f.Class = ClassOutOfMemory
			}
		} else {
			f.Code = fmt.Sprintf("exit status %d", exit.ExitCode())
		}
	}
	if ctx.Err() != nil {
		f.Class = ClassCancelled
	}
	if f.Class == "" {
		f.Class = ClassOther
	}
	return f
}
