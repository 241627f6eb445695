package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup"
)

// startCPUProfile profiles the whole run into file (--cpu-profile); stop writes it out.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// printTimings writes one line per step (--timings), in the order they started:
//
//	timing <subcommand> <step> start <seconds> took <seconds>
//
// and a last line for the whole of Main ("total"), so that a caller who timed the process
// sees what lies outside it (process start and exit). Step names have no spaces, for awk.
func printTimings(w io.Writer, subcommand string, t *backup.Timings, started time.Time) {
	for _, s := range t.Spans() {
		fmt.Fprintf(w, "timing %s %s start %.3f took %.3f\n", subcommand, s.Name, s.Start.Seconds(), s.Duration.Seconds())
	}
	fmt.Fprintf(w, "timing %s total start 0.000 took %.3f\n", subcommand, time.Since(started).Seconds())
}
