package backup

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a server certificate and key (PEM) for 127.0.0.1 only.
func (ca *testCA) issue(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// startTLSPostgres starts a PostgreSQL server that offers TLS with a certificate of ca.
func startTLSPostgres(t *testing.T, ca *testCA) *postgres.Server {
	t.Helper()
	srv := postgres.Start(t)
	certPEM, keyPEM := ca.issue(t)
	// The server reads them as its own user (postgres when the tests run as root), and
	// refuses a key others may read.
	st, err := os.Stat(srv.Dir)
	if err != nil {
		t.Fatal(err)
	}
	owner := st.Sys().(*syscall.Stat_t)
	for name, content := range map[string][]byte{"server.crt": certPEM, "server.key": keyPEM} {
		p := filepath.Join(srv.Dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, int(owner.Uid), int(owner.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	execSQL(t, srv, "postgres",
		"ALTER SYSTEM SET ssl_cert_file = '"+filepath.Join(srv.Dir, "server.crt")+"'",
		"ALTER SYSTEM SET ssl_key_file = '"+filepath.Join(srv.Dir, "server.key")+"'",
		"ALTER SYSTEM SET ssl = on",
		"SELECT pg_reload_conf()")
	// The reload is asynchronous: wait until new connections get TLS.
	ctx := testCtx(t)
	for deadline := time.Now().Add(30 * time.Second); ; {
		conn, err := pgx.Connect(ctx, strings.Replace(srv.DSN("postgres"), "sslmode=disable", "sslmode=require", 1))
		if err == nil {
			conn.Close(ctx)
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not offer TLS after reloading: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDatabaseTLSIsVerified: with verify-full, the engine (pgx) and pg_dump and pg_restore
// connect when the CA file holds the server certificate's issuer, and refuse otherwise.
func TestDatabaseTLSIsVerified(t *testing.T) {
	ctx := testCtx(t)
	ca, otherCA := newTestCA(t, "helpdesk test CA"), newTestCA(t, "another CA")
	srv := startTLSPostgres(t, ca)
	dir := t.TempDir()
	caFile, otherFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "other.crt")
	if err := os.WriteFile(caFile, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherFile, otherCA.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	src := uniqueName("tls_")
	srv.CreateDatabase(t, src)
	execSQL(t, srv, src, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t SELECT generate_series(1, 100)`)

	db := dbConfig(srv, src)
	db.SSLMode, db.SSLRootCert = "verify-full", caFile
	e := newEngine(t, fsDest(t), src, "")
	e.DB = db
	res, err := e.Backup(ctx)
	if err != nil {
		t.Fatalf("backup over verified TLS: %v", err)
	}
	target := uniqueName("tls_dst_")
	srv.CreateDatabase(t, target)
	r := *e
	r.DB.Name = target
	if _, err := r.Restore(ctx, res.ID); err != nil {
		t.Fatalf("restore over verified TLS: %v", err)
	}
	if _, err := DumpCompressed(ctx, db, io.Discard); err != nil {
		t.Fatalf("pg_dump over verified TLS: %v", err)
	}

	wrong := db
	wrong.SSLRootCert = otherFile
	if _, err := wrong.connect(ctx); ErrorClass(err) != ClassTLS {
		t.Fatalf("connecting with another CA: %v (class %q), want a TLS failure", err, ErrorClass(err))
	}
	// pg_dump alone, so its own check is what fails.
	if _, err := DumpCompressed(ctx, wrong, io.Discard); ErrorClass(err) != ClassTLS {
		t.Fatalf("pg_dump with another CA: %v (class %q), want a TLS failure", err, ErrorClass(err))
	}
	e.DB = wrong
	if _, err := e.Backup(ctx); ErrorClass(err) != ClassTLS {
		t.Fatalf("backup with another CA: %v, want a TLS failure", err)
	}
	// The certificate names 127.0.0.1, not localhost, by which it is reached now.
	misnamed := db
	misnamed.Host = "localhost"
	if _, err := misnamed.connect(ctx); ErrorClass(err) != ClassTLS {
		t.Fatalf("verify-full with a certificate for another host name: %v, want a TLS failure", err)
	}
}
