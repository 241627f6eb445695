package backup

import (
	"testing"
	"time"
)

func TestTimingsRecordOverlappingStepsInStartOrder(t *testing.T) {
	var off *Timings
	off.Begin("ignored")() // a nil Timings records nothing and does not fail
	if off.Spans() != nil {
		t.Fatal("a nil Timings returned spans")
	}

	tm := NewTimings(time.Now())
	endOuter := tm.Begin("pipeline")
	endInner := tm.Begin("row-counts")
	endInner()
	endOuter()
	tm.Begin("manifest-sign")()
	spans := tm.Spans()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3: %v", len(spans), spans)
	}
	for i, want := range []string{"pipeline", "row-counts", "manifest-sign"} {
		if spans[i].Name != want {
			t.Errorf("span %d is %q, want %q (spans in start order)", i, spans[i].Name, want)
		}
		if spans[i].Start < 0 || spans[i].Duration < 0 {
			t.Errorf("span %q has start %v, duration %v", spans[i].Name, spans[i].Start, spans[i].Duration)
		}
	}
	if outer, inner := spans[0], spans[1]; inner.Start+inner.Duration > outer.Start+outer.Duration {
		t.Errorf("the inner step ends after the outer one: %v, %v", inner, outer)
	}
}
