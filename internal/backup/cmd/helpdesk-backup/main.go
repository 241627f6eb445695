// Command helpdesk-backup runs the backup subcommands on their own, for hack/bench-backup and
// for debugging; the operator binary calls the same cli.Main. Two extra subcommands serve the
// benchmark: pipeline (pg_dump through our zstd to stdout, no encryption or upload) and
// mkbucket (create the S3 bucket named by the usual options).
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
		fmt.Fprintf(os.Stderr, "usage: helpdesk-backup %v|pipeline|mkbucket [flags]\n", cli.Subcommands)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "pipeline":
		err = cli.Pipeline(ctx, os.Args[2:], os.Stdout)
	case "mkbucket":
		err = cli.MakeBucket(ctx, os.Args[2:])
	default:
		err = cli.Main(ctx, os.Args[1], os.Args[2:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helpdesk-backup %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
