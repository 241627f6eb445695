// Command demo is `make demo`: the operator's main job on this machine, without a cluster
// (see internal/demo). It runs until Ctrl-C (SIGINT) or SIGTERM, then stops everything it
// started and exits 0; it exits 1 when something fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/privatedesk/helpdesk-operator/internal/demo"
)

func main() {
	var o demo.Options
	flag.StringVar(&o.Root, "root", ".", "the repository (config/samples, CRDs, hack/test-binaries.sh)")
	flag.StringVar(&o.OperatorBinary, "operator-binary", "bin/helpdesk-operator", "the operator binary (make build)")
	flag.StringVar(&o.Namespace, "namespace", "tenant-acme", "the tenant namespace the samples go into")
	flag.Parse()
	o.Out = os.Stdout
	for _, p := range []*string{&o.Root, &o.OperatorBinary} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		*p = abs
	}

	// A closed stdout (make demo | tee, and Ctrl-C ends tee too) must not kill the demo
	// before it has stopped what it started: with SIGPIPE notified, writes fail instead.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stdout, "\n%s: stopping everything the demo started\n", sig)
		cancel()
		for range signals {
			fmt.Fprintln(os.Stdout, "still stopping (each step has a time limit)")
		}
	}()

	if err := demo.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stdout, "demo stopped cleanly")
}
