package appsettings

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Main runs `helpdesk-operator app-settings`: it writes --settings (a JSON object of
// public values) and each --secret-setting (name=ENV, the value read from that
// environment variable, which the Job fills from a Secret) into the app's settings table.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("app-settings", flag.ContinueOnError)
	var host, name, user, passwordFile, sslmode, sslRootCert, table, settings string
	var port int
	var secretSettings multiFlag
	fs.StringVar(&host, "db-host", "", "PostgreSQL host")
	fs.IntVar(&port, "db-port", 5432, "PostgreSQL port")
	fs.StringVar(&name, "db-name", "", "the app's database")
	fs.StringVar(&user, "db-user", "", "database user")
	fs.StringVar(&passwordFile, "db-password-file", "", "file holding the database password")
	fs.StringVar(&sslmode, "db-sslmode", "verify-full", "libpq sslmode")
	fs.StringVar(&sslRootCert, "db-sslrootcert", "", "PEM file of the CA that issued the server's certificate")
	fs.StringVar(&table, "table", "", "the app's settings table (rails-settings-cached)")
	fs.StringVar(&settings, "settings", "{}", "JSON object of setting names to values")
	fs.Var(&secretSettings, "secret-setting", "name=ENV: the setting takes the value of environment variable ENV (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	values := map[string]string{}
	if err := json.Unmarshal([]byte(settings), &values); err != nil {
		return fmt.Errorf("--settings must be a JSON object of strings: %w", err)
	}
	for _, s := range secretSettings {
		setting, env, ok := strings.Cut(s, "=")
		if !ok || setting == "" || env == "" {
			return fmt.Errorf("--secret-setting %q: want name=ENV", s)
		}
		value, present := os.LookupEnv(env)
		if !present {
			return fmt.Errorf("--secret-setting %s: environment variable %s is not set", setting, env)
		}
		values[setting] = value
	}
	if host == "" || name == "" || user == "" || table == "" {
		return errors.New("set --db-host, --db-name, --db-user and --table")
	}
	var password string
	if passwordFile != "" {
		data, err := os.ReadFile(passwordFile)
		if err != nil {
			return fmt.Errorf("--db-password-file: %w", err)
		}
		password = strings.TrimRight(string(data), "\r\n")
	}
	conn, err := Connect(ctx, host, port, name, user, password, sslmode, sslRootCert)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	changed, err := Apply(ctx, conn, table, values)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "app settings: %d written, %d changed %v\n", len(values), len(changed), changed)
	return nil
}

// Connect opens a connection, the host in the parsed settings so that verify-full checks
// the server's certificate against it.
func Connect(ctx context.Context, host string, port int, name, user, password, sslmode, sslRootCert string) (*pgx.Conn, error) {
	settings := []string{"host=" + quote(host), "port=" + strconv.Itoa(port), "dbname=" + quote(name), "user=" + quote(user), "sslmode=" + quote(sslmode)}
	if sslRootCert != "" {
		settings = append(settings, "sslrootcert="+quote(sslRootCert))
	}
	cfg, err := pgx.ParseConfig(strings.Join(settings, " "))
	if err != nil {
		return nil, fmt.Errorf("database settings: %w", err)
	}
	cfg.Password = password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %q at %s as %q: %w", name, net.JoinHostPort(host, strconv.Itoa(port)), user, err)
	}
	return conn, nil
}

func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
