// Package retention decides which backups to keep: a pure function of the backups, the
// policy, the time and the drill results, so every rule is tested with a synthetic calendar.
package retention

import (
	"fmt"
	"sort"
	"time"
)

// Policy says what to keep. Zero values disable a rule; a policy with every rule disabled
// keeps everything (no policy must never mean "delete all").
type Policy struct {
	KeepLast    int           // the N newest backups
	KeepDaily   int           // the newest backup of each of the N newest days that have one
	KeepWeekly  int           // ... of each of the N newest ISO weeks
	KeepMonthly int           // ... of each of the N newest months
	MaxAge      time.Duration // backups older than this are deleted whatever else keeps them
	// Location defines day, week and month boundaries; UTC when nil.
	Location *time.Location
}

// Backup is one complete backup.
type Backup struct {
	ID   string
	Time time.Time
}

// Decision is a backup with the reasons it is kept or deleted.
type Decision struct {
	ID      string
	Time    time.Time
	Reasons []string
}

// Enabled reports whether the policy prunes anything at all.
func (p Policy) Enabled() bool {
	return p.KeepLast > 0 || p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0 || p.MaxAge > 0
}

// Plan splits backups into keep and delete, newest first. drillPassed holds the IDs of
// backups whose last restore drill passed: the newest of them is always kept, so there is
// always a backup proven to restore. The newest backup is always kept too, even past MaxAge,
// so a stalled schedule never prunes the last copy.
func Plan(backups []Backup, p Policy, now time.Time, drillPassed map[string]bool) (keep, del []Decision) {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	sorted := append([]Backup(nil), backups...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return sorted[i].ID > sorted[j].ID
	})
	reasons := make([][]string, len(sorted))
	if !p.Enabled() {
		for i := range sorted {
			reasons[i] = []string{"no retention policy"}
		}
	}
	for i := 0; i < len(sorted) && i < p.KeepLast; i++ {
		reasons[i] = append(reasons[i], fmt.Sprintf("last %d", p.KeepLast))
	}
	bucket := func(n int, label string, key func(time.Time) string) {
		seen := map[string]bool{}
		for i, b := range sorted {
			k := key(b.Time.In(loc))
			if seen[k] {
				continue
			}
			if len(seen) >= n {
				return
			}
			seen[k] = true
			reasons[i] = append(reasons[i], label+" "+k)
		}
	}
	bucket(p.KeepDaily, "daily", func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(p.KeepWeekly, "weekly", func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	})
	bucket(p.KeepMonthly, "monthly", func(t time.Time) string { return t.Format("2006-01") })

	newestDrilled := -1
	for i, b := range sorted {
		if drillPassed[b.ID] {
			newestDrilled = i
			break
		}
	}
	for i, b := range sorted {
		r := reasons[i]
		if p.MaxAge > 0 && now.Sub(b.Time) > p.MaxAge {
			r = nil
		}
		if i == 0 && len(r) == 0 {
			r = append(r, "newest backup")
		}
		if i == newestDrilled {
			r = append(r, "newest backup that passed a restore drill")
		}
		d := Decision{ID: b.ID, Time: b.Time, Reasons: r}
		if len(r) > 0 {
			keep = append(keep, d)
			continue
		}
		d.Reasons = []string{"not kept by any rule"}
		if p.MaxAge > 0 && now.Sub(b.Time) > p.MaxAge {
			d.Reasons = []string{fmt.Sprintf("older than max age %s", p.MaxAge)}
		}
		del = append(del, d)
	}
	return keep, del
}

// Orphan is data left by a backup that never wrote its manifest.
type Orphan struct {
	ID   string
	Time time.Time // when it was written (the ID's time, or the newest object's)
}

// Orphans returns the orphans old enough to delete: a backup still running has no
// manifest yet either, so only those older than grace go.
func Orphans(orphans []Orphan, grace time.Duration, now time.Time) []Orphan {
	var out []Orphan
	for _, o := range orphans {
		if now.Sub(o.Time) > grace {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
