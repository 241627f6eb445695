package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/retention"
)

// Entry is one complete backup as List shows it.
type Entry struct {
	ID         string       `json:"id"`
	StartedAt  time.Time    `json:"startedAt"`
	FinishedAt time.Time    `json:"finishedAt"`
	Size       int64        `json:"size"`
	KeyName    string       `json:"keyName"`
	KeyVersion int          `json:"keyVersion"`
	AppVersion string       `json:"appVersion,omitempty"`
	Drill      *DrillResult `json:"drill,omitempty"`
}

// List returns the complete backups (those with a manifest), newest first, with their last
// drill result.
func List(ctx context.Context, d dest.Destination) ([]Entry, error) {
	ids, err := ListIDs(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		m, err := ReadManifest(ctx, d, ids[i])
		if err != nil {
			return nil, err
		}
		drill, err := ReadDrill(ctx, d, ids[i])
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{ID: m.ID, StartedAt: m.StartedAt, FinishedAt: m.FinishedAt, Size: m.Size(),
			KeyName: m.Encryption.KeyName, KeyVersion: m.Encryption.KeyVersion, AppVersion: m.AppVersion, Drill: drill})
	}
	return out, nil
}

// PruneResult says what retention kept and deleted.
type PruneResult struct {
	Kept            []retention.Decision `json:"kept"`
	Deleted         []retention.Decision `json:"deleted"`
	OrphansDeleted  []string             `json:"orphansDeleted,omitempty"`
	UploadsAborted  int                  `json:"uploadsAborted,omitempty"`
	DrillsDeleted   []string             `json:"drillsDeleted,omitempty"`
	TempFilesPruned int                  `json:"tempFilesPruned,omitempty"`
}

// Prune applies policy to the backups on d and deletes, after grace, the orphans of backups
// that never finished. A backup is deleted manifest first, so it stops existing at once and
// a half-finished deletion leaves only orphans, which a later run removes.
func Prune(ctx context.Context, d dest.Destination, policy retention.Policy, grace time.Duration, now time.Time) (*PruneResult, error) {
	entries, err := List(ctx, d)
	if err != nil {
		return nil, err
	}
	var backups []retention.Backup
	passed := map[string]bool{}
	for _, e := range entries {
		backups = append(backups, retention.Backup{ID: e.ID, Time: e.StartedAt})
		if e.Drill != nil && e.Drill.Passed {
			passed[e.ID] = true
		}
	}
	res := &PruneResult{}
	res.Kept, res.Deleted = retention.Plan(backups, policy, now, passed)
	for _, del := range res.Deleted {
		m, err := ReadManifest(ctx, d, del.ID)
		if err != nil {
			return res, err
		}
		if err := d.Delete(ctx, manifestName(del.ID)); err != nil {
			return res, err
		}
		for _, o := range m.Objects {
			if err := d.Delete(ctx, o.Name); err != nil {
				return res, err
			}
		}
		if err := d.Delete(ctx, drillName(del.ID)); err != nil {
			return res, err
		}
	}
	if err := pruneOrphans(ctx, d, grace, now, res); err != nil {
		return res, err
	}
	return res, nil
}

func pruneOrphans(ctx context.Context, d dest.Destination, grace time.Duration, now time.Time, res *PruneResult) error {
	ids, err := ListIDs(ctx, d)
	if err != nil {
		return err
	}
	complete := map[string]bool{}
	for _, id := range ids {
		complete[id] = true
	}
	objs, err := d.List(ctx, dataDir)
	if err != nil {
		return err
	}
	byID := map[string][]dest.Object{}
	var orphans []retention.Orphan
	newest := map[string]time.Time{}
	for _, o := range objs {
		id, _, ok := strings.Cut(strings.TrimPrefix(o.Name, dataDir), "/")
		if !ok || complete[id] {
			continue
		}
		byID[id] = append(byID[id], o)
		if o.ModTime.After(newest[id]) {
			newest[id] = o.ModTime
		}
	}
	for id, t := range newest {
		// The later of the ID's time and the newest write: a long backup is still running.
		if it, err := IDTime(id); err == nil && it.After(t) {
			t = it
		}
		orphans = append(orphans, retention.Orphan{ID: id, Time: t})
	}
	for _, o := range retention.Orphans(orphans, grace, now) {
		for _, obj := range byID[o.ID] {
			if err := d.Delete(ctx, obj.Name); err != nil {
				return err
			}
			if strings.Contains(obj.Name, "/.tmp-") {
				res.TempFilesPruned++
			}
		}
		res.OrphansDeleted = append(res.OrphansDeleted, o.ID)
	}
	// Temp files of manifest and drill writes that a crash interrupted (filesystem destinations).
	for _, dir := range []string{manifestDir, drillDir} {
		objs, err := d.List(ctx, dir)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if strings.Contains(o.Name, "/.tmp-") && now.Sub(o.ModTime) > grace {
				if err := d.Delete(ctx, o.Name); err != nil {
					return err
				}
				res.TempFilesPruned++
			}
		}
	}
	// Drill records of backups that no longer exist.
	drills, err := d.List(ctx, drillDir)
	if err != nil {
		return err
	}
	for _, o := range drills {
		id, ok := strings.CutSuffix(strings.TrimPrefix(o.Name, drillDir), ".json")
		if ok && !strings.Contains(id, "/") && !complete[id] && now.Sub(o.ModTime) > grace {
			if err := d.Delete(ctx, o.Name); err != nil {
				return err
			}
			res.DrillsDeleted = append(res.DrillsDeleted, id)
		}
	}
	if c, ok := d.(dest.IncompleteCleaner); ok {
		n, err := c.CleanIncomplete(ctx, dataDir, now.Add(-grace))
		res.UploadsAborted = n
		if err != nil {
			return fmt.Errorf("cleaning unfinished uploads: %w", err)
		}
	}
	return nil
}
