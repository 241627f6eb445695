package main

import (
	"context"
	"sync"
	"testing"
)

func TestProfilesAreNumberedFromZeroAndStopWithTheirPhase(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var numbers []int
	profileUntil(ctx, &wg, func(ctx context.Context, k int) {
		numbers = append(numbers, k)
		if k == 2 {
			// The phase ends while the third profile is taken.
			cancel()
		}
	})
	wg.Wait()
	if len(numbers) != 3 || numbers[0] != 0 || numbers[2] != 2 {
		t.Fatalf("profiles %v, want 0, 1, 2 and none after the phase ended", numbers)
	}
}
