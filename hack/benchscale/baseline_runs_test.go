package main

import (
	"testing"
	"time"
)

func TestRatioIsAgainstTheMeanOfTheBracketingBaselines(t *testing.T) {
	r := row{operator: 300 * time.Second}
	r.setBaseline([]baselineRun{
		{elapsed: 100 * time.Second, writes: 7, cpu: cpuTimes{"apiserver": 80, "bench": 20}},
		{elapsed: 140 * time.Second, writes: 7, cpu: cpuTimes{"apiserver": 120, "bench": 40}},
	})
	if r.baseline != 120*time.Second || r.baselineWrites != 7 {
		t.Fatalf("baseline %s, writes %d; want the mean, 2m0s, and 7", r.baseline, r.baselineWrites)
	}
	if got := ratio(r); got != 2.5 {
		t.Errorf("ratio %.2f, want 2.50 (300 s against the mean 120 s)", got)
	}
	if got := r.cpuBaseline.total(); got != 130 {
		t.Errorf("baseline CPU %.1f, want the mean of 100 and 160", got)
	}
	if got := r.drift(); got < 0.333 || got > 0.334 {
		t.Errorf("drift %.3f, want 40 s of 120 s", got)
	}
}

func TestOneBaselineHasNoDriftAndABaselineWithoutCPUGivesNoCPURatio(t *testing.T) {
	r := row{}
	r.setBaseline([]baselineRun{{elapsed: time.Minute, cpu: cpuTimes{"apiserver": 1}}})
	if r.drift() != 0 || r.baseline != time.Minute || r.cpuBaseline == nil {
		t.Fatalf("one run: drift %.2f, baseline %s, cpu %v", r.drift(), r.baseline, r.cpuBaseline)
	}
	r = row{}
	r.setBaseline([]baselineRun{{elapsed: time.Minute, cpu: cpuTimes{"apiserver": 1}}, {elapsed: time.Minute}})
	if r.cpuBaseline != nil {
		t.Errorf("a run without CPU times must leave the CPU mean out, got %v", r.cpuBaseline)
	}
}
