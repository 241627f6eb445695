package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/envflag"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
)

type dbFlags struct {
	host, name, user, password, passwordFile, sslmode, sslrootcert string
	port                                                           int
}

func (f *dbFlags) register(o *envflag.Set) {
	o.String(&f.host, "db-host", "", "PostgreSQL host", "PGHOST")
	o.Int(&f.port, "db-port", 5432, "PostgreSQL port", "PGPORT")
	o.String(&f.name, "db-name", "", "the helpdesk's database", "PGDATABASE")
	o.String(&f.user, "db-user", "", "database user (the application's owner of its tables)", "PGUSER")
	o.Secret(&f.password, "db-password", "database password (prefer --db-password-file)", "PGPASSWORD")
	o.String(&f.passwordFile, "db-password-file", "", "file holding the database password")
	o.String(&f.sslmode, "db-sslmode", "verify-full", "libpq sslmode: disable, require, verify-ca or verify-full", "PGSSLMODE")
	o.String(&f.sslrootcert, "db-sslrootcert", "", "PEM file of the CA that signed the server's certificate (verify-ca, verify-full)", "PGSSLROOTCERT")
}

// config builds the connection settings; the password never leaves this process except
// to the server.
func (f *dbFlags) config(application string) (*pgx.ConnConfig, error) {
	pw, err := envflag.FromFile(f.password, f.passwordFile, "database password")
	if err != nil {
		return nil, retention.Errorf(retention.ReasonInvalidConfiguration, "%v", err)
	}
	if f.host == "" || f.name == "" || f.user == "" {
		return nil, retention.Errorf(retention.ReasonInvalidConfiguration, "set --db-host, --db-name and --db-user (or their environment variables)")
	}
	switch f.sslmode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return nil, retention.Errorf(retention.ReasonInvalidConfiguration, "--db-sslmode %q: want disable, require, verify-ca or verify-full", f.sslmode)
	}
	conn := "sslmode=" + quote(f.sslmode)
	if f.sslrootcert != "" {
		conn += " sslrootcert=" + quote(f.sslrootcert)
	}
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		// The TLS settings only; no password is in this string.
		return nil, retention.Errorf(retention.ReasonInvalidConfiguration, "database TLS settings: %v", err)
	}
	cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password = f.host, uint16(f.port), f.name, f.user, pw
	for _, fb := range cfg.Fallbacks {
		fb.Host, fb.Port = f.host, uint16(f.port)
	}
	// Shows in pg_stat_activity, so administrators (and hack/bench-retention) can tell
	// the engine's sessions apart.
	cfg.RuntimeParams["application_name"] = application
	return cfg, nil
}

func connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		var e *retention.Error
		if errors.As(err, &e) {
			return nil, e
		}
		// Connection errors tell host, user, database and the TLS or authentication
		// failure: configuration, never helpdesk data.
		return nil, retention.Errorf(retention.ReasonConnectionFailed, "connecting to the database failed: %v", err)
	}
	return conn, nil
}

// quote quotes a libpq connection string value.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
