package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// The personal data of the row the target rejects, and the name of a customer's file.
const (
	secretEmail = "jane.roe.4711@example.org"
	secretFile  = "passport-jane-roe-4711.pdf"
)

// rejectingSource is a database whose one row the target rejects when restoring: its CHECK
// calls a function that fails the row in a database where test.reject_rows is on.
func rejectingSource(t *testing.T) string {
	t.Helper()
	name := uniqueName("pii_")
	pgSrv.CreateDatabase(t, name)
	execSQL(t, pgSrv, name,
		`CREATE FUNCTION accepted(v text) RETURNS boolean LANGUAGE sql AS $$ SELECT coalesce(current_setting('test.reject_rows', true), '') <> 'on' $$`,
		`CREATE TABLE contacts (id int PRIMARY KEY, email text NOT NULL CHECK (accepted(email)), attachment text)`,
		`INSERT INTO contacts VALUES (1, '`+secretEmail+`', '`+secretFile+`')`)
	return name
}

// TestFailedRestoreQuotesNoPersonalData: pg_restore fails on a row, and says so with the row
// in its messages; the error has the class and a fix, and neither the row nor the file name.
func TestFailedRestoreQuotesNoPersonalData(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, fsDest(t), rejectingSource(t), "")
	if _, err := e.Backup(ctx); err != nil {
		t.Fatal(err)
	}
	r := restoreTarget(t, e)
	execSQL(t, pgSrv, "postgres", `ALTER DATABASE `+r.DB.Name+` SET test.reject_rows = 'on'`)
	_, err := r.Restore(ctx, "latest")
	if err == nil {
		t.Fatal("the restore of a rejected row succeeded")
	}
	for _, secret := range []string{secretEmail, secretFile, "jane", "4711"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("the error quotes personal data %q: %v", secret, err)
		}
	}
	if ErrorClass(err) != ClassDataRejected || !strings.Contains(err.Error(), "pg_restore failed") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("error %v (class %q), want pg_restore's data-rejected failure", err, ErrorClass(err))
	}
	assertUntouched(t, r)

	// The administrator who asks sees the tool's own words, row included.
	var debug bytes.Buffer
	r.ToolOutput = &debug
	if _, err := r.Restore(ctx, "latest"); err == nil || !strings.Contains(debug.String(), secretEmail) {
		t.Fatalf("with tool output on: %v; output %q", err, debug.String())
	}
}

// TestTarErrorsNameNoFile: a broken attachments archive is reported by entry number.
func TestTarErrorsNameNoFile(t *testing.T) {
	for _, hdr := range []*tar.Header{
		{Name: "../" + secretFile, Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "2026/" + secretFile, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
	} {
		var archive bytes.Buffer
		tw := tar.NewWriter(&archive)
		if err := tw.WriteHeader(&tar.Header{Name: "2026/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Close()
		_, err := extractTar(context.Background(), &archive, t.TempDir())
		if err == nil || strings.Contains(err.Error(), "passport") || !strings.Contains(err.Error(), "entry 2") {
			t.Fatalf("unpacking %s: %v; want an error naming entry 2 and no file", hdr.Name, err)
		}
	}
	// A file that cannot be created: the system's reason, not its path.
	dir := t.TempDir()
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for range 2 {
		if err := tw.WriteHeader(&tar.Header{Name: secretFile, Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	_, err := extractTar(context.Background(), &archive, dir)
	if err == nil || strings.Contains(err.Error(), "passport") || !strings.Contains(err.Error(), "file exists") {
		t.Fatalf("unpacking a duplicate entry: %v", err)
	}
}

func TestClassifyMessages(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   Class
	}{
		{"pg_restore: error: could not execute query: ERROR:  permission denied for schema public\nCommand was: CREATE TABLE public.t (\n", ClassPermission},
		{`pg_dump: error: connection to server at "db" (10.0.0.1), port 5432 failed: Connection refused`, ClassConnection},
		{`pg_dump: error: connection to server at "db" (10.0.0.1), port 5432 failed: FATAL:  password authentication failed for user "app"`, ClassAuthentication},
		{`pg_dump: error: connection to server at "db" (10.0.0.1), port 5432 failed: SSL error: certificate verify failed`, ClassTLS},
		{`pg_dump: error: connection to server at "db" (10.0.0.1), port 5432 failed: FATAL:  database "app" does not exist`, ClassMissing},
		{"pg_restore: error: COPY failed for table \"users\": ERROR:  duplicate key value violates unique constraint \"users_pkey\"\nDETAIL:  Key (email)=(a@b.c) already exists.", ClassDataRejected},
		{"pg_restore: error: could not execute query: ERROR:  relation \"users\" already exists", ClassNotEmpty},
		{"pg_restore: error: could not read from input file: end of file", ClassCorrupt},
		{"pg_restore: error: unsupported version (1.16) in file header", ClassVersion},
		{"pg_dump: error: aborting because of server version mismatch", ClassVersion},
		{"pg_restore: error: could not execute query: ERROR:  could not extend file \"base/1/2\": No space left on device", ClassDiskFull},
		{"pg_restore: error: out of memory", ClassOutOfMemory},
		{"FEHLER:  Verletzung der Check-Constraint", ClassOther},
	} {
		c := &classifier{}
		// Written in pieces, as a pipe delivers it.
		for _, piece := range strings.SplitAfter(tc.stderr, " ") {
			_, _ = c.Write([]byte(piece))
		}
		got := c.result()
		if got == "" {
			got = ClassOther
		}
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.stderr, got, tc.want)
		}
	}
	f := &Failure{What: "pg_restore", Class: ClassCancelled}
	if !errors.Is(f, context.Canceled) {
		t.Error("a cancelled failure is not context.Canceled")
	}
}
