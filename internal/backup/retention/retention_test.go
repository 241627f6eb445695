package retention

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"
)

// day returns noon UTC of a day in November 2026 (1 Nov 2026 is a Sunday; ISO week 44).
func day(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }

func ids(ds []Decision) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	sort.Strings(out)
	return out
}

func TestPlan(t *testing.T) {
	// One backup a day at 02:00 and one at 14:00 from 1 Sep 2026 through 24 Nov 2026.
	var calendar []Backup
	for t0 := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC); t0.Before(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); t0 = t0.Add(12 * time.Hour) {
		calendar = append(calendar, Backup{ID: t0.Format("0102T15"), Time: t0})
	}
	now := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)

	cases := []struct {
		name    string
		backups []Backup
		policy  Policy
		drilled map[string]bool
		keep    []string
	}{
		{
			name: "no policy keeps everything", backups: calendar[:3], policy: Policy{},
			keep: []string{"0901T02", "0901T14", "0902T02"},
		},
		{
			name: "keep last 3", backups: calendar, policy: Policy{KeepLast: 3},
			keep: []string{"1123T14", "1124T02", "1124T14"},
		},
		{
			name: "daily keeps the newest of each day", backups: calendar, policy: Policy{KeepDaily: 3},
			keep: []string{"1122T14", "1123T14", "1124T14"},
		},
		{
			// ISO weeks: 16-22 Nov is W47 (newest Sunday 22 Nov 14:00), 9-15 Nov W46.
			name: "weekly keeps the newest of each ISO week", backups: calendar, policy: Policy{KeepWeekly: 3},
			keep: []string{"1115T14", "1122T14", "1124T14"},
		},
		{
			name: "monthly keeps the newest of each month", backups: calendar, policy: Policy{KeepMonthly: 3},
			keep: []string{"0930T14", "1031T14", "1124T14"},
		},
		{
			name: "grandfather-father-son combined", backups: calendar,
			policy: Policy{KeepLast: 2, KeepDaily: 2, KeepWeekly: 2, KeepMonthly: 2},
			// last: 24th x2; daily: 24th, 23rd; weekly: W48 (24th), W47 (Sun 22nd); monthly: Nov, Oct 31st.
			keep: []string{"1031T14", "1122T14", "1123T14", "1124T02", "1124T14"},
		},
		{
			name: "max age overrides the other rules", backups: calendar,
			policy: Policy{KeepMonthly: 12, MaxAge: 30 * 24 * time.Hour},
			// 30 days before 24 Nov 18:00 is 25 Oct 18:00: October's newest (31st) is still young enough.
			keep: []string{"1031T14", "1124T14"},
		},
		{
			name: "newest drill-passed backup survives everything", backups: calendar,
			policy:  Policy{KeepLast: 1, MaxAge: 24 * time.Hour},
			drilled: map[string]bool{"0901T02": true, "1001T02": true},
			keep:    []string{"1001T02", "1124T14"},
		},
		{
			name: "the newest backup is kept even past max age", backups: calendar[:4],
			policy: Policy{MaxAge: 24 * time.Hour},
			keep:   []string{"0902T14"},
		},
		{
			name: "days follow the policy's time zone", policy: Policy{KeepDaily: 1, Location: time.FixedZone("UTC+10", 10*3600)},
			// 23 Nov 15:00 UTC is already 24 Nov 01:00 at UTC+10, the same local day as 24 Nov 02:00 UTC.
			backups: []Backup{{ID: "a", Time: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)}, {ID: "b", Time: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)}},
			keep:    []string{"a"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keep, del := Plan(tc.backups, tc.policy, now, tc.drilled)
			if got := ids(keep); !reflect.DeepEqual(got, tc.keep) {
				t.Fatalf("kept %v, want %v", got, tc.keep)
			}
			if len(keep)+len(del) != len(tc.backups) {
				t.Fatalf("kept %d + deleted %d != %d backups", len(keep), len(del), len(tc.backups))
			}
			for _, d := range append(keep, del...) {
				if len(d.Reasons) == 0 {
					t.Fatalf("decision for %s has no reason", d.ID)
				}
			}
		})
	}
}

func TestPlanReasons(t *testing.T) {
	backups := []Backup{{ID: "old", Time: day(1)}, {ID: "new", Time: day(20)}}
	keep, del := Plan(backups, Policy{KeepLast: 1, MaxAge: 10 * 24 * time.Hour}, day(21), map[string]bool{"old": true})
	if len(del) != 0 {
		t.Fatalf("deleted %v", del)
	}
	got := fmt.Sprint(keep[0].Reasons, keep[1].Reasons)
	if want := "[last 1] [newest backup that passed a restore drill]"; got != want {
		t.Fatalf("reasons %s, want %s", got, want)
	}
	_, del = Plan(backups, Policy{KeepLast: 1, MaxAge: 10 * 24 * time.Hour}, day(21), nil)
	if len(del) != 1 || del[0].ID != "old" || del[0].Reasons[0] != "older than max age 240h0m0s" {
		t.Fatalf("deleted %+v", del)
	}
}

func TestOrphans(t *testing.T) {
	now := day(10)
	got := Orphans([]Orphan{{ID: "fresh", Time: now.Add(-time.Hour)}, {ID: "stale", Time: now.Add(-25 * time.Hour)}}, 24*time.Hour, now)
	if len(got) != 1 || got[0].ID != "stale" {
		t.Fatalf("orphans to delete %v, want only stale", got)
	}
}
