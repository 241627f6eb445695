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

// ListResult is the instance's backups, newest first, and how many manifests in its folder
// were ignored as not trusted (unsigned, edited, or of another instance or key).
type ListResult struct {
	Backups          []Entry `json:"backups"`
	IgnoredManifests int     `json:"ignoredManifests"`
}

// List returns the instance's trusted backups, newest first, with their last drill result.
func (e *Engine) List(ctx context.Context) (*ListResult, error) {
	s, err := e.scoped()
	if err != nil {
		return nil, err
	}
	c, err := s.readCatalog(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := s.entries(ctx, c)
	if err != nil {
		return nil, err
	}
	return &ListResult{Backups: entries, IgnoredManifests: c.ignored}, nil
}

func (e *Engine) entries(ctx context.Context, c *catalog) ([]Entry, error) {
	out := make([]Entry, 0, len(c.trusted))
	for i := len(c.trusted) - 1; i >= 0; i-- {
		m := c.trusted[i]
		drill, err := readDrill(ctx, e.Dest, m.ID)
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
	// IgnoredManifests counts untrusted manifests: neither they nor their data are deleted.
	IgnoredManifests int `json:"ignoredManifests,omitempty"`

	// kept are the trusted manifests of the backups kept, for KeptKeyVersionFloor.
	kept []*Manifest
}

// Prune applies policy to the instance's trusted backups and deletes, after grace, the
// orphans of backups that never finished. A backup is deleted manifest first, so it stops
// existing at once and a half-finished deletion leaves only orphans, which a later run
// removes. Untrusted manifests count for nothing in the plan and are left alone, with the
// data of their IDs.
func (e *Engine) Prune(ctx context.Context, policy retention.Policy, grace time.Duration, now time.Time) (*PruneResult, error) {
	s, err := e.scoped()
	if err != nil {
		return nil, err
	}
	end := s.Timings.Begin("prune-catalog")
	c, err := s.readCatalog(ctx)
	end()
	if err != nil {
		return nil, err
	}
	end = s.Timings.Begin("prune-drill-records")
	entries, err := s.entries(ctx, c)
	end()
	if err != nil {
		return nil, err
	}
	var backups []retention.Backup
	passed := map[string]bool{}
	for _, en := range entries {
		backups = append(backups, retention.Backup{ID: en.ID, Time: en.StartedAt})
		if en.Drill != nil && en.Drill.Passed {
			passed[en.ID] = true
		}
	}
	res := &PruneResult{IgnoredManifests: c.ignored}
	res.Kept, res.Deleted = retention.Plan(backups, policy, now, passed)
	byID := map[string]*Manifest{}
	for _, m := range c.trusted {
		byID[m.ID] = m
	}
	for _, k := range res.Kept {
		res.kept = append(res.kept, byID[k.ID])
	}
	d := s.Dest
	defer s.Timings.Begin("prune-delete")()
	for _, del := range res.Deleted {
		m := byID[del.ID]
		if err := d.Delete(ctx, manifestName(del.ID)); err != nil {
			return res, err
		}
		delete(c.present, del.ID)
		for _, o := range m.Objects {
			if err := d.Delete(ctx, o.Name); err != nil {
				return res, err
			}
		}
		if err := d.Delete(ctx, drillName(del.ID)); err != nil {
			return res, err
		}
	}
	if err := pruneOrphans(ctx, d, c.present, grace, now, res); err != nil {
		return res, err
	}
	return res, nil
}

// pruneOrphans deletes, after grace, data of IDs without any manifest (backups that never
// finished, or whose deletion was cut short), temp files of interrupted writes, and drill
// records of backups that no longer exist.
func pruneOrphans(ctx context.Context, d dest.Destination, present map[string]bool, grace time.Duration, now time.Time, res *PruneResult) error {
	objs, err := d.List(ctx, dataDir)
	if err != nil {
		return err
	}
	byID := map[string][]dest.Object{}
	var orphans []retention.Orphan
	newest := map[string]time.Time{}
	for _, o := range objs {
		id, _, ok := strings.Cut(strings.TrimPrefix(o.Name, dataDir), "/")
		if !ok || present[id] {
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
		if ok && !strings.Contains(id, "/") && !present[id] && now.Sub(o.ModTime) > grace {
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
