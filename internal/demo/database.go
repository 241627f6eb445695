package demo

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/helpydata"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

// dataPath is the sample instance the data path runs for, and what it runs with.
type dataPath struct {
	instance, backupPolicy, retentionPolicy string
	backupSA, restoreSA                     string

	// The local database standing in for the instance's Cluster.
	dbName, dbUser, dbPasswordFile string
	attachments                    string
	backupID                       string
}

// chooseDataPath picks the sample instance with a backup policy whose destination is S3.
func chooseDataPath(objs []*unstructured.Unstructured) (dataPath, error) {
	s3Policies := map[string]bool{}
	for _, obj := range objs {
		if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "destination", "s3"); obj.GetKind() == "BackupPolicy" && found {
			s3Policies[obj.GetName()] = true
		}
	}
	for _, obj := range objs {
		backup, _, _ := unstructured.NestedString(obj.Object, "spec", "backupPolicyRef", "name")
		if obj.GetKind() != "HelpdeskInstance" || !s3Policies[backup] {
			continue
		}
		retention, _, _ := unstructured.NestedString(obj.Object, "spec", "retentionPolicyRef", "name")
		names := resources.NamesFor(&v1alpha1.HelpdeskInstance{ObjectMeta: objectMeta(obj)})
		return dataPath{instance: obj.GetName(), backupPolicy: backup, retentionPolicy: retention,
			backupSA: names.BackupServiceAccount, restoreSA: names.RestoreServiceAccount}, nil
	}
	return dataPath{}, fmt.Errorf("no sample HelpdeskInstance references a BackupPolicy with an S3 destination")
}

// postgresMajor is the local PostgreSQL's major version.
func postgresMajor() int64 {
	major, _ := strconv.ParseInt(postgres.Major, 10, 64)
	return major
}

// loadDatabase creates the instance's database as CloudNativePG's initdb would (the Helpy
// profile's database and owner) on the local PostgreSQL, with Helpy's schema and the
// generated Helpy data set of the retention tests, and its attachments volume.
func (s *session) loadDatabase(ctx context.Context) error {
	prof, err := appprofile.For(v1alpha1.AppProfileHelpy)
	if err != nil {
		return err
	}
	d := &s.data
	d.dbName, d.dbUser = prof.Database, prof.DatabaseOwner
	password := proc.RandomHex(16)
	if d.dbPasswordFile, err = s.writeSecretFile("db-password", password); err != nil {
		return err
	}
	s.p.section("Data path for %s/%s, on the local PostgreSQL %s (the Cluster never runs here)", s.o.Namespace, d.instance, postgres.Major)
	admin, err := pgx.Connect(ctx, s.pg.DSN("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	for _, sql := range []string{
		// Random hex: nothing to escape.
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", pgx.Identifier{d.dbUser}.Sanitize(), password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{d.dbName}.Sanitize(), pgx.Identifier{d.dbUser}.Sanitize()),
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			return fmt.Errorf("creating the database: %w", err)
		}
	}
	cfg, err := pgx.ParseConfig(s.pg.DSN(d.dbName))
	if err != nil {
		return err
	}
	cfg.User, cfg.Password = d.dbUser, password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	start := time.Now()
	if err := helpydata.CreateSchema(ctx, conn); err != nil {
		return fmt.Errorf("creating Helpy's schema: %w", err)
	}
	d.attachments = s.path("attachments")
	if err := os.Mkdir(d.attachments, 0o700); err != nil {
		return err
	}
	data := helpydata.Generate()
	if err := helpydata.Load(ctx, conn, data, d.attachments); err != nil {
		return fmt.Errorf("loading the Helpy data set: %w", err)
	}
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables); err != nil {
		return err
	}
	files, err := countFiles(d.attachments)
	if err != nil {
		return err
	}
	customers := 0
	for _, u := range data.Users {
		if u.Customer() {
			customers++
		}
	}
	s.p.line("database %q owned by %q on %s:%d: Helpy's schema (%d tables, internal/appprofile/testdata/helpy_retention_schema.sql)",
		d.dbName, d.dbUser, s.pg.Host, s.pg.Port, tables)
	s.p.line("loaded the generated Helpy data set (internal/testsupport/helpydata) in %.1fs: %d users (%d customers), %d tickets, %d posts, %d attachment files",
		time.Since(start).Seconds(), len(data.Users), customers, len(data.Topics), len(data.Posts), files)
	return nil
}

func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			n++
		}
		return err
	})
	return n, err
}
