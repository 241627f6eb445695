package retention

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/helpydata"
)

func allRules(tickets v1alpha1.RetentionAction) []Rule {
	return []Rule{
		// Given out of order: the engine runs them in the profile's order.
		{v1alpha1.DataClassInactiveCustomers, tickets, days(365)},
		{v1alpha1.DataClassAllTickets, tickets, days(730)},
		{v1alpha1.DataClassClosedTickets, tickets, days(365)},
		{v1alpha1.DataClassAttachments, del, days(365)},
		{v1alpha1.DataClassLogs, del, days(30)},
	}
}

// With every rule at once, where rules overlap (closed tickets are old tickets too,
// attachments belong to posts that tickets take along), a dry run still counts what the
// real run then does, per rule; a legal hold changes nothing and counts the same.
func TestDryRunAndLegalHoldOfAllRulesCountWhatARealRunDoes(t *testing.T) {
	for _, action := range []v1alpha1.RetentionAction{del, anon} {
		t.Run(string(action), func(t *testing.T) {
			f := newFixture(t)
			rules := allRules(action)
			before := f.state(t)

			hold := f.run(t, Options{LegalHold: true}, rules...)
			mustSucceed(t, hold)
			f.assertUnchanged(t, before, "the legal hold run")
			if !hold.LegalHold || hold.Changed || !strings.Contains(hold.Note, "legal hold") {
				t.Errorf("legal hold result: legalHold %v changed %v note %q", hold.LegalHold, hold.Changed, hold.Note)
			}
			dry := f.run(t, Options{DryRun: true, BatchSize: 7}, rules...)
			mustSucceed(t, dry)
			f.assertUnchanged(t, before, "the dry run")

			applied := f.run(t, Options{BatchSize: 5}, rules...)
			mustSucceed(t, applied)
			var order []v1alpha1.DataClass
			for i, r := range applied.Rules {
				order = append(order, r.DataClass)
				for name, other := range map[string]*Result{"dry run": dry, "legal hold": hold} {
					o := other.Rules[i]
					if o.DataClass != r.DataClass || o.Records != r.Records || o.Files != r.Files {
						t.Errorf("%s counted %s: %d records, %d files; the real run %d, %d", name, o.DataClass, o.Records, o.Files, r.Records, r.Files)
					}
				}
				if r.Records == 0 {
					t.Errorf("%s: nothing to do in the combined run: the overlap is not tested", r.DataClass)
				}
			}
			want := []v1alpha1.DataClass{"Logs", "Attachments", "ClosedTickets", "AllTickets", "InactiveCustomers"}
			if !slices.Equal(order, want) {
				t.Errorf("rules ran in the order %v, want %v", order, want)
			}
		})
	}
}

// A batch that fails leaves the batches before it committed and the rest untouched; the
// run is Failed with a classified reason whose text carries nothing from the database's
// error message (here, an address a trigger put into it).
func TestFailedBatchKeepsEarlierBatchesAndIsClassified(t *testing.T) {
	f := newFixture(t)
	ids := f.data.ClosedTickets(cutoff(days(365))).Sorted()
	// The poisoned ticket has attachment files, past the first batch, and the trigger
	// fails its batch at COMMIT, after every statement ran: the batch must leave its
	// files, since its transaction never committed.
	withFiles := map[int64]bool{}
	for _, p := range f.data.Posts {
		if len(p.Attachments) > 0 {
			withFiles[p.TopicID] = true
		}
	}
	k := slices.IndexFunc(ids, func(id int64) bool { return withFiles[id] && id != ids[0] && id != ids[1] })
	if k < 2 || len(ids) < k+2 {
		t.Fatalf("the data set has no closed ticket with files past the first batch: %v", ids)
	}
	committed := ids[:k-k%2] // batches of 2 before the poisoned one
	batch := k/2 + 1
	if _, err := f.conn.Exec(testCtx(t), `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.id = `+strconv.FormatInt(ids[k], 10)+` THEN
    RAISE EXCEPTION 'ticket of greta.subject@example.net must stay';
  END IF;
  RETURN OLD;
END $$;
CREATE CONSTRAINT TRIGGER refuse AFTER DELETE ON topics DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION refuse();`); err != nil {
		t.Fatal(err)
	}
	want := f.data.DeleteTickets(helpydata.IDs(committed...))
	before := f.state(t)
	beforeMasked := f.snapshot(t, want.MayChange)
	res := f.run(t, Options{BatchSize: 2}, Rule{v1alpha1.DataClassClosedTickets, del, days(365)})
	if res.Result != Failed || res.Reason != ReasonDatabaseError {
		t.Fatalf("result %s reason %s, want Failed DatabaseError", res.Result, res.Reason)
	}
	for _, want := range []string{"batch " + strconv.Itoa(batch), "P0001", "ending the transaction"} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("error %q does not say %q", res.Error, want)
		}
	}
	if strings.Contains(res.Error, "greta") || strings.Contains(res.Error, "must stay") {
		t.Errorf("error %q repeats the database's message", res.Error)
	}
	r := res.Rules[0]
	if r.Completed || r.Records != int64(len(committed)) || r.Batches != batch-1 || res.Affected["ClosedTickets"] != int64(len(committed)) {
		t.Errorf("rule result %+v, affected %v: want %d batches with %d records, not completed", r, res.Affected, batch-1, len(committed))
	}
	f.assertChanges(t, before, beforeMasked, want)
}

// Folders whose records are gone (a crash between commit and removal, or Helpy's own
// deletion) are removed by the next run once older than the grace; a dry run only counts
// them; anything the engine cannot name itself stays, and symlinks are never followed.
func TestOrphanFoldersAreRemovedByTheNextRun(t *testing.T) {
	f := newFixture(t)
	old := time.Now().Add(-2 * time.Hour)
	mk := func(rel string, mtime time.Time) {
		t.Helper()
		dir := filepath.Join(f.dir, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "file.pdf"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	var withFiles, withoutFiles int64
	for _, p := range f.data.Posts {
		if len(p.Attachments) > 0 && withFiles == 0 {
			withFiles = p.ID
		}
		if len(p.Attachments) == 0 && withoutFiles == 0 {
			withoutFiles = p.ID
		}
	}
	mk("post/attachments/99999", old)                                // no such post
	mk("post/attachments/"+strconv.FormatInt(withoutFiles, 10), old) // the post owns no files
	mk("post/attachments/99998", time.Now())                         // too young: maybe uncommitted
	mk("post/attachments/not-a-number", old)                         // not ours to name
	mk("post/attachments/0099997", old)                              // not how we write ids
	mk("user/profile_image/99999", old)                              // no such user
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(f.dir, "post/attachments/99996")); err != nil {
		t.Fatal(err)
	}
	before := f.files(t)
	nothing := Rule{v1alpha1.DataClassLogs, del, days(100000)}

	dry := f.run(t, Options{DryRun: true, OrphanGrace: time.Hour}, nothing)
	mustSucceed(t, dry)
	if dry.OrphanFiles != 3 || len(f.files(t)) != len(before) {
		t.Errorf("dry run: %d orphan files counted (want 3), %d files now, %d before", dry.OrphanFiles, len(f.files(t)), len(before))
	}
	hold := f.run(t, Options{LegalHold: true, OrphanGrace: time.Hour}, nothing)
	if hold.OrphanFiles != 3 || len(f.files(t)) != len(before) {
		t.Errorf("legal hold: %d orphan files, and files changed", hold.OrphanFiles)
	}

	res := f.run(t, Options{OrphanGrace: time.Hour}, nothing)
	mustSucceed(t, res)
	gone := helpydata.Missing(before, f.files(t))
	want := []string{"post/attachments/" + strconv.FormatInt(withoutFiles, 10) + "/file.pdf", "post/attachments/99999/file.pdf", "user/profile_image/99999/file.pdf"}
	slices.Sort(want)
	if !slices.Equal(gone, want) || res.OrphanFiles != 3 {
		t.Errorf("removed %v (counted %d), want %v", gone, res.OrphanFiles, want)
	}
	if _, err := os.Stat(filepath.Join(f.dir, helpydata.PostDir(withFiles))); err != nil {
		t.Errorf("a live post's folder went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep.txt")); err != nil {
		t.Errorf("a file outside the volume went through a symlink: %v", err)
	}
}

// A record whose folder is a symlink out of the volume loses the link, never the target.
func TestRemovalNeverFollowsSymlinksOutOfTheVolume(t *testing.T) {
	f := newFixture(t)
	closed := f.data.ClosedTickets(cutoff(days(365)))
	var post int64
	for _, p := range f.data.Posts {
		if closed[p.TopicID] && len(p.Attachments) == 0 {
			post = p.ID
			break
		}
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(f.dir, helpydata.PostDir(post))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, f.run(t, Options{}, Rule{v1alpha1.DataClassClosedTickets, del, days(365)}))
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep.txt")); err != nil {
		t.Errorf("the target outside the volume went: %v", err)
	}
}

// A ticket the application holds locked is skipped, not waited for: the run finishes and
// the next one takes it.
func TestRowsTheApplicationHoldsAreLeftForTheNextRun(t *testing.T) {
	f := newFixture(t)
	closed := f.data.ClosedTickets(cutoff(days(365))).Sorted()
	app := connect(t, f.db)
	ctx := testCtx(t)
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM topics WHERE id = $1 FOR UPDATE`, closed[0]); err != nil {
		t.Fatal(err)
	}
	rule := Rule{v1alpha1.DataClassClosedTickets, del, days(365)}
	res := f.run(t, Options{BatchSize: 2}, rule)
	mustSucceed(t, res)
	if res.Rules[0].Records != int64(len(closed)-1) {
		t.Errorf("took %d tickets, want all %d but the locked one", res.Rules[0].Records, len(closed)-1)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	next := f.run(t, Options{}, rule)
	mustSucceed(t, next)
	if next.Rules[0].Records != 1 {
		t.Errorf("the next run took %d tickets, want the one left", next.Rules[0].Records)
	}
}

// When the application holds a lock the batch needs (the forum row whose counter it
// updates), the batch gives up after the lock timeout, is retried, and then the run
// fails as LockTimeout, without waiting for the application.
func TestLockTimeoutIsRetriedThenClassified(t *testing.T) {
	f := newFixture(t)
	app := connect(t, f.db)
	ctx := testCtx(t)
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `UPDATE forums SET name = name`); err != nil {
		t.Fatal(err)
	}
	before := f.state(t)
	start := time.Now()
	res := f.run(t, Options{LockTimeout: 100 * time.Millisecond}, Rule{v1alpha1.DataClassClosedTickets, del, days(365)})
	if res.Result != Failed || res.Reason != ReasonLockTimeout {
		t.Fatalf("result %s %s (%s), want Failed LockTimeout", res.Result, res.Reason, res.Error)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s: the batches waited for the lock", took)
	}
	_ = tx.Rollback(ctx)
	f.assertUnchanged(t, before, "the failed run")
}

func TestRulesAreCheckedLikeThePolicy(t *testing.T) {
	p := helpyProfile(t)
	for _, bad := range []string{"ClosedTickets:Delete", "Tickets:Delete:1h", "ClosedTickets:Shred:1h", "Logs:Anonymize:8760h",
		"Attachments:Anonymize:8760h", "ClosedTickets:Delete:30m", "ClosedTickets:Delete:soon"} {
		r, err := ParseRule(bad)
		if err == nil {
			err = CheckRules([]Rule{r}, p)
		}
		var e *Error
		if !errors.As(err, &e) || e.Reason != ReasonInvalidConfiguration {
			t.Errorf("%s: %v, want InvalidConfiguration", bad, err)
		}
	}
	r, _ := ParseRule("ClosedTickets:Delete:8760h")
	if err := CheckRules([]Rule{r, r}, p); err == nil {
		t.Error("two rules for one class were accepted")
	}
	if err := CheckRules(nil, p); err == nil {
		t.Error("no rules were accepted")
	}
	good := []Rule{}
	for _, s := range []string{"ClosedTickets:Delete:8760h", "AllTickets:Anonymize:17520h", "Attachments:Delete:720h",
		"InactiveCustomers:Anonymize:26280h", "Logs:Delete:2160h"} {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, r)
	}
	if err := CheckRules(good, p); err != nil {
		t.Errorf("valid rules refused: %v", err)
	}
}

// A class the application does not support is refused before anything runs, with the
// profile's reason.
func TestUnsupportedClassIsRefusedWithTheProfilesReason(t *testing.T) {
	f := newFixture(t)
	p := helpyProfile(t)
	p.Classes = map[v1alpha1.DataClass]appprofile.DataClass{}
	for c, v := range helpyProfile(t).Classes {
		if c != v1alpha1.DataClassLogs {
			p.Classes[c] = v
		}
	}
	p.Unsupported = map[v1alpha1.DataClass]string{v1alpha1.DataClassLogs: "this helpdesk keeps no logs"}
	before := f.state(t)
	res := Run(testCtx(t), f.conn, p, Options{Rules: []Rule{{v1alpha1.DataClassClosedTickets, del, days(365)}, {v1alpha1.DataClassLogs, del, days(30)}},
		AttachmentsDir: f.dir, Now: helpydata.Now})
	if res.Reason != ReasonUnsupportedDataClass || !strings.Contains(res.Error, "keeps no logs") {
		t.Errorf("result %s %s", res.Reason, res.Error)
	}
	f.assertUnchanged(t, before, "a refused run")
}

// A real run creates the profile's missing indexes, replacing one an interrupted build
// left invalid; a dry run or a legal hold creates none.
func TestRealRunsCreateTheProfilesIndexes(t *testing.T) {
	f := newFixture(t)
	p := helpyProfile(t)
	indexes := func() map[string]bool {
		t.Helper()
		rows, err := f.conn.Query(testCtx(t), `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relname LIKE 'helpdesk_retention_%'`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		var name string
		var valid bool
		if _, err := pgx.ForEachRow(rows, []any{&name, &valid}, func() error { out[name] = valid; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	rule := Rule{v1alpha1.DataClassLogs, del, days(30)}
	mustSucceed(t, f.run(t, Options{DryRun: true}, rule))
	mustSucceed(t, f.run(t, Options{LegalHold: true}, rule))
	if got := indexes(); len(got) != 0 {
		t.Fatalf("a run that may change nothing created %v", got)
	}
	// An invalid leftover, as a build interrupted half-way leaves it.
	f.Exec(t, `CREATE INDEX helpdesk_retention_posts_topic_id ON posts (topic_id);
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'helpdesk_retention_posts_topic_id'::regclass`)
	res := f.run(t, Options{}, rule)
	mustSucceed(t, res)
	got := indexes()
	for _, ix := range p.Indexes {
		if !got[ix.Name] || !slices.Contains(res.IndexesCreated, ix.Name) {
			t.Errorf("index %s: valid %v, created %v", ix.Name, got[ix.Name], res.IndexesCreated)
		}
	}
	if again := f.run(t, Options{}, rule); len(again.IndexesCreated) != 0 || again.IndexWarning != "" {
		t.Errorf("the next run created %v (%s)", again.IndexesCreated, again.IndexWarning)
	}
}
