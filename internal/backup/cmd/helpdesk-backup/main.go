// Command helpdesk-backup holds hack/bench-backup's helpers, which are no part of the product:
// pipeline (pg_dump through our zstd to stdout, no encryption or upload: the bench's
// reference row) and mkbucket (create the S3 bucket named by the usual options). The backup
// and restore the bench measures are the operator binary's (helpdesk-operator backup,
// helpdesk-operator restore), as the Jobs run them.
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
		fmt.Fprintln(os.Stderr, "usage: helpdesk-backup pipeline|mkbucket [flags] (backups and restores: helpdesk-operator backup|restore)")
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
		err = fmt.Errorf("unknown subcommand %q: backups and restores are helpdesk-operator backup|restore", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helpdesk-backup %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
