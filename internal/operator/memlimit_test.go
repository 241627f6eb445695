package operator

import (
	"runtime/debug"
	"testing"

	"github.com/go-logr/logr"
)

func TestGoMemoryLimitLeavesRoomBelowTheContainers(t *testing.T) {
	const mi = 1 << 20
	for _, tc := range []struct {
		container, want int64
	}{
		{1024 * mi, 1024*mi - 1024*mi/10}, // a tenth below
		{512 * mi, 448 * mi},              // the chart's default: at least the headroom below
		{100 * mi, 50 * mi},               // never under half
	} {
		if got := goMemoryLimit(tc.container); got != tc.want {
			t.Errorf("goMemoryLimit(%d MiB) = %d MiB, want %d MiB", tc.container/mi, got/mi, tc.want/mi)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	if err := applyMemoryLimit("200Mi", "", logr.Discard()); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 136<<20 {
		t.Errorf("Go memory limit %d, want 136 MiB", got)
	}
	// The chart passes limits.memory in bytes.
	if err := applyMemoryLimit("536870912", "", logr.Discard()); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != goMemoryLimit(512<<20) {
		t.Errorf("Go memory limit %d from a limit in bytes", got)
	}
	// An explicit GOMEMLIMIT wins.
	debug.SetMemoryLimit(before)
	if err := applyMemoryLimit("200Mi", "300MiB", logr.Discard()); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("--memory-limit overrode GOMEMLIMIT: %d", got)
	}
	for _, bad := range []string{"lots", "-1Gi", "0"} {
		if err := applyMemoryLimit(bad, "", logr.Discard()); err == nil {
			t.Errorf("--memory-limit %q accepted", bad)
		}
	}
}
