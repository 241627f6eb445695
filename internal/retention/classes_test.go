package retention

import (
	"maps"
	"testing"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/helpydata"
)

const (
	del  = v1alpha1.RetentionActionDelete
	anon = v1alpha1.RetentionActionAnonymize
)

// classCases are one rule per class and action with what it must change, computed from
// the data set in Go (helpydata.Expect), not from the profile's SQL.
var classCases = []struct {
	rule   Rule
	expect func(d *helpydata.Data) *helpydata.Expect
}{
	{Rule{v1alpha1.DataClassClosedTickets, del, days(365)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.DeleteTickets(d.ClosedTickets(cutoff(days(365))))
	}},
	{Rule{v1alpha1.DataClassClosedTickets, anon, days(365)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.AnonymizeTickets(d.ClosedTickets(cutoff(days(365))))
	}},
	{Rule{v1alpha1.DataClassAllTickets, del, days(730)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.DeleteTickets(d.AllTickets(cutoff(days(730))))
	}},
	{Rule{v1alpha1.DataClassAllTickets, anon, days(730)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.AnonymizeTickets(d.AllTickets(cutoff(days(730))))
	}},
	{Rule{v1alpha1.DataClassAttachments, del, days(365)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.DeleteAttachments(cutoff(days(365)))
	}},
	{Rule{v1alpha1.DataClassInactiveCustomers, del, days(365)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.DeleteUsers(d.InactiveCustomers(cutoff(days(365))))
	}},
	{Rule{v1alpha1.DataClassInactiveCustomers, anon, days(365)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.AnonymizeUsers(d.InactiveCustomers(cutoff(days(365))))
	}},
	{Rule{v1alpha1.DataClassLogs, del, days(30)}, func(d *helpydata.Data) *helpydata.Expect {
		return d.DeleteLogs(cutoff(days(30)))
	}},
}

// Each class and action changes exactly the rows and files it should, and nothing else;
// its dry run changes nothing and counts what the real run then does; a second run finds
// nothing left to do.
func TestEachClassChangesExactlyItsRows(t *testing.T) {
	for _, c := range classCases {
		t.Run(c.rule.String(), func(t *testing.T) {
			f := newFixture(t)
			want := c.expect(f.data)
			if want.Records == 0 {
				t.Fatal("the data set has nothing for this rule: the test would prove nothing")
			}
			before := f.state(t)
			beforeMasked := f.snapshot(t, want.MayChange)

			dry := f.run(t, Options{DryRun: true}, c.rule)
			mustSucceed(t, dry)
			f.assertUnchanged(t, before, "the dry run")
			if dry.Changed || !dry.DryRun {
				t.Errorf("dry run result: changed %v dryRun %v", dry.Changed, dry.DryRun)
			}

			// Small batches: many transactions, the same outcome.
			applied := f.run(t, Options{BatchSize: 3}, c.rule)
			mustSucceed(t, applied)
			f.assertChanges(t, before, beforeMasked, want)

			got, gotDry := applied.Rules[0], dry.Rules[0]
			if got.Records != want.Records || applied.Affected[string(c.rule.Class)] != want.Records {
				t.Errorf("counted %d records (affected %d), want %d", got.Records, applied.Affected[string(c.rule.Class)], want.Records)
			}
			if got.Files != int64(len(want.Files)) {
				t.Errorf("counted %d files, want %d", got.Files, len(want.Files))
			}
			if gotDry.Records != got.Records || gotDry.Files != got.Files || !maps.Equal(gotDry.Rows, got.Rows) {
				t.Errorf("dry run counted records %d files %d rows %v; the real run %d, %d, %v",
					gotDry.Records, gotDry.Files, gotDry.Rows, got.Records, got.Files, got.Rows)
			}
			for table, ids := range want.Deleted {
				if got.Rows[table] < int64(len(ids)) {
					t.Errorf("rows[%s] = %d, but %d were deleted", table, got.Rows[table], len(ids))
				}
			}
			if !applied.Changed || got.Batches < 2 || !got.Completed {
				t.Errorf("real run: changed %v, %d batches, completed %v", applied.Changed, got.Batches, got.Completed)
			}

			again := f.run(t, Options{}, c.rule)
			mustSucceed(t, again)
			if again.Rules[0].Records != 0 || again.Rules[0].Files != 0 {
				t.Errorf("a second run counted %d records and %d files again", again.Rules[0].Records, again.Rules[0].Files)
			}
		})
	}
}

// InactiveCustomers never touches staff or the system user, although in the data set
// they are older and quieter than any customer.
func TestInactiveCustomersSparesStaffAndSystemUser(t *testing.T) {
	for _, action := range []v1alpha1.RetentionAction{del, anon} {
		f := newFixture(t)
		res := f.run(t, Options{}, Rule{v1alpha1.DataClassInactiveCustomers, action, days(100)})
		mustSucceed(t, res)
		var n int
		if err := f.conn.QueryRow(testCtx(t), `SELECT count(*) FROM users WHERE id = ANY($1) AND email LIKE '%@example.org'
  OR id = $2 AND email = 'system@test.com'`, []int64{helpydata.AdminID, helpydata.AgentID, helpydata.EditorID, helpydata.SecondAdmin},
			helpydata.SystemUserID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 5 {
			t.Errorf("%s: %d of the 5 staff and system accounts are left as they were", action, n)
		}
	}
}
