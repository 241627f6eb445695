// Command helpdesk-backup runs the backup subcommands on their own, for the benchmark and
// for debugging; the operator binary calls the same cli.Main.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/privatedesk/helpdesk-operator/internal/backup/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: helpdesk-backup %v [flags]\n", cli.Subcommands)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.Main(ctx, os.Args[1], os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "helpdesk-backup %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
