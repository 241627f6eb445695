package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/backup"
	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
	"github.com/privatedesk/helpdesk-operator/internal/envflag"
)

type dbFlags struct {
	host, name, user, password, passwordFile, sslmode, sslRootCert, binDir string
	port                                                                   int
}

// registerBinDir registers --pg-bin-dir alone (verify needs no database settings).
func (f *dbFlags) registerBinDir(o *envflag.Set) {
	o.String(&f.binDir, "pg-bin-dir", "", "folder with the PostgreSQL programs of the server's major version: pg_dump, pg_restore, and for verify initdb and postgres (PATH when empty)")
}

func (f *dbFlags) register(o *envflag.Set) {
	o.String(&f.host, "db-host", "", "PostgreSQL host", "PGHOST")
	o.Int(&f.port, "db-port", 5432, "PostgreSQL port", "PGPORT")
	o.String(&f.name, "db-name", "", "database to back up or restore into", "PGDATABASE")
	o.String(&f.user, "db-user", "", "database user", "PGUSER")
	o.Secret(&f.password, "db-password", "database password (prefer --db-password-file)", "PGPASSWORD")
	o.String(&f.passwordFile, "db-password-file", "", "file holding the database password")
	o.String(&f.sslmode, "db-sslmode", "prefer", "libpq sslmode (verify-full to check the server's certificate and name)", "PGSSLMODE")
	o.String(&f.sslRootCert, "db-sslrootcert", "", "PEM file of the CA(s) that issued the database server's certificate", "PGSSLROOTCERT")
	f.registerBinDir(o)
}

func (f *dbFlags) build() (backup.Database, error) {
	pw, err := envflag.FromFile(f.password, f.passwordFile, "database password")
	if err != nil {
		return backup.Database{}, err
	}
	if f.host == "" || f.name == "" || f.user == "" {
		return backup.Database{}, errors.New("set --db-host, --db-name and --db-user (or BACKUP_DB_HOST, BACKUP_DB_NAME, BACKUP_DB_USER)")
	}
	return backup.Database{Host: f.host, Port: f.port, Name: f.name, User: f.user, Password: pw, SSLMode: f.sslmode,
		SSLRootCert: f.sslRootCert, BinDir: f.binDir}, nil
}

type destFlags struct {
	path                                            string
	endpoint, bucket, prefix, region, caFile        string
	accessKey, accessKeyFile, secretKey, secretFile string
	insecure, pathStyle                             bool
	partSize, threads                               int
}

func (f *destFlags) register(o *envflag.Set) {
	o.String(&f.path, "path", "", "filesystem destination (a mounted volume, plus the policy's subPath); the instance works in <namespace>/<name>/ below it; exclusive with --s3-bucket")
	o.String(&f.endpoint, "s3-endpoint", "", "S3 endpoint host[:port]")
	o.String(&f.bucket, "s3-bucket", "", "S3 bucket")
	o.String(&f.prefix, "s3-prefix", "", "the policy's folder inside the bucket; the instance works in <namespace>/<name>/ below it")
	o.String(&f.region, "s3-region", "us-east-1", "S3 region", "AWS_REGION")
	o.Secret(&f.accessKey, "s3-access-key", "S3 access key (prefer --s3-access-key-file)", "AWS_ACCESS_KEY_ID")
	o.String(&f.accessKeyFile, "s3-access-key-file", "", "file holding the S3 access key")
	o.Secret(&f.secretKey, "s3-secret-key", "S3 secret key (prefer --s3-secret-key-file)", "AWS_SECRET_ACCESS_KEY")
	o.String(&f.secretFile, "s3-secret-key-file", "", "file holding the S3 secret key")
	o.String(&f.caFile, "s3-ca-file", "", "PEM CA bundle for the S3 endpoint's certificate")
	o.Bool(&f.insecure, "s3-insecure", false, "plain HTTP to the S3 endpoint (no TLS)")
	o.Bool(&f.pathStyle, "s3-force-path-style", false, "path-style bucket URLs (for gateways without DNS-style buckets)")
	o.Int(&f.partSize, "s3-part-size-mib", 8, "multipart part size in MiB; an object holds at most 10000 parts (78 GiB at 8 MiB)")
	o.Int(&f.threads, "s3-upload-threads", 2, "parts buffered and uploaded at once (memory: threads x part size)")
}

func (f *destFlags) build() (dest.Destination, error) {
	switch {
	case f.path != "" && f.bucket != "":
		return nil, errors.New("set either --path or --s3-bucket, not both")
	case f.path != "":
		return dest.NewFS(f.path)
	case f.bucket == "":
		return nil, errors.New("no destination: set --path (BACKUP_PATH) or --s3-endpoint and --s3-bucket (BACKUP_S3_ENDPOINT, BACKUP_S3_BUCKET)")
	}
	access, err := envflag.FromFile(f.accessKey, f.accessKeyFile, "S3 access key")
	if err != nil {
		return nil, err
	}
	secretKey, err := envflag.FromFile(f.secretKey, f.secretFile, "S3 secret key")
	if err != nil {
		return nil, err
	}
	if f.partSize < 5 {
		return nil, fmt.Errorf("--s3-part-size-mib %d is below S3's minimum of 5", f.partSize)
	}
	return dest.NewS3(dest.S3Config{Endpoint: f.endpoint, Bucket: f.bucket, Prefix: f.prefix, Region: f.region,
		AccessKey: access, SecretKey: secretKey, Insecure: f.insecure, PathStyle: f.pathStyle, CAFile: f.caFile, PartSize: uint64(f.partSize) << 20, UploadThreads: f.threads})
}

type vaultFlags struct {
	addr, token, tokenFile, caFile string
	role, authMount, saTokenFile   string
	transitMount, key              string
	timeout                        time.Duration
}

func (f *vaultFlags) register(o *envflag.Set) {
	o.String(&f.addr, "vault-addr", "", "Vault address, e.g. https://vault.vault:8200", "VAULT_ADDR")
	o.Secret(&f.token, "vault-token", "Vault token (else Kubernetes auth)", "VAULT_TOKEN")
	o.String(&f.tokenFile, "vault-token-file", "", "file holding a Vault token")
	o.String(&f.caFile, "vault-ca-file", "", "PEM CA bundle for Vault's certificate", "VAULT_CACERT")
	o.String(&f.role, "vault-k8s-role", "", "Vault Kubernetes auth role (used when no token is given)")
	o.String(&f.authMount, "vault-k8s-mount", "kubernetes", "mount path of Vault's Kubernetes auth method")
	o.String(&f.saTokenFile, "vault-sa-token-file", "/var/run/secrets/kubernetes.io/serviceaccount/token", "service account token for Kubernetes auth")
	o.String(&f.transitMount, "transit-mount", "transit", "mount path of the transit engine")
	o.String(&f.key, "transit-key", "", "transit key of the instance (<prefix>_<namespace>_<name>)")
	o.Duration(&f.timeout, "vault-timeout", 30*time.Second, "timeout of each Vault request")
}

func (f *vaultFlags) build(ctx context.Context) (vaultage.Transit, error) {
	if f.addr == "" || f.key == "" {
		return vaultage.Transit{}, errors.New("set --vault-addr and --transit-key (BACKUP_VAULT_ADDR or VAULT_ADDR, BACKUP_TRANSIT_KEY)")
	}
	cfg := vaultapi.DefaultConfig()
	cfg.Address = f.addr
	cfg.Timeout = f.timeout
	cfg.MaxRetries = 1
	if f.caFile != "" {
		if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: f.caFile}); err != nil {
			return vaultage.Transit{}, fmt.Errorf("vault CA bundle: %w", err)
		}
	}
	client, err := vaultapi.NewClient(cfg)
	if err != nil {
		return vaultage.Transit{}, fmt.Errorf("vault client: %w", err)
	}
	token, err := envflag.FromFile(f.token, f.tokenFile, "Vault token")
	if err != nil {
		return vaultage.Transit{}, err
	}
	switch {
	case token != "":
		client.SetToken(token)
	case f.role != "":
		jwt, err := envflag.FromFile("", f.saTokenFile, "service account token")
		if err != nil {
			return vaultage.Transit{}, err
		}
		s, err := client.Logical().WriteWithContext(ctx, "auth/"+f.authMount+"/login", map[string]any{"role": f.role, "jwt": jwt})
		if err != nil {
			return vaultage.Transit{}, fmt.Errorf("vault Kubernetes login with role %q at auth/%s failed: %w: check the role's bound service account and namespace", f.role, f.authMount, err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return vaultage.Transit{}, fmt.Errorf("vault Kubernetes login with role %q returned no token", f.role)
		}
		client.SetToken(s.Auth.ClientToken)
	default:
		return vaultage.Transit{}, errors.New("no Vault credentials: set --vault-token(-file) or --vault-k8s-role")
	}
	return vaultage.Transit{Client: client, Mount: f.transitMount, Key: f.key}, nil
}
