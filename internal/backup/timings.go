package backup

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Timings records how long each step of an operation took, for an administrator (or
// hack/bench-backup) asking where the time of a backup or restore goes: the CLI prints them
// with --timings. Steps can overlap (Vault and the destination are checked while pg_dump
// starts), so each is a span with its own start, not a slice of one timeline. A nil
// *Timings records nothing, so the engine calls it unconditionally.
type Timings struct {
	mu     sync.Mutex
	origin time.Time
	spans  []Span
}

// Span is one step: when it started, counted from the origin of its Timings, and how long
// it took.
type Span struct {
	Name     string
	Start    time.Duration
	Duration time.Duration
}

// NewTimings starts recording; spans are placed relative to origin (the process's own
// start, say, so that the time before the first step shows too).
func NewTimings(origin time.Time) *Timings {
	return &Timings{origin: origin}
}

// Begin starts the step name and returns the function that ends it.
func (t *Timings) Begin(name string) (end func()) {
	if t == nil {
		return func() {}
	}
	start := time.Now()
	return func() { t.add(name, start, time.Now()) }
}

func (t *Timings) add(name string, start, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spans = append(t.spans, Span{Name: name, Start: start.Sub(t.origin), Duration: end.Sub(start)})
}

// Spans returns the recorded steps in the order they started.
func (t *Timings) Spans() []Span {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.spans)
	slices.SortStableFunc(out, func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
	return out
}
