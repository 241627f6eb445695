// Command helpdesk-operator is the operator's one binary: the manager that runs the
// controllers, the jobs the manager schedules (backup, restore, verify), and the access
// gate it runs in front of each helpdesk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/privatedesk/helpdesk-operator/internal/appsettings"
	backupcli "github.com/privatedesk/helpdesk-operator/internal/backup/cli"
	"github.com/privatedesk/helpdesk-operator/internal/gate"
	"github.com/privatedesk/helpdesk-operator/internal/operator"
	retentioncli "github.com/privatedesk/helpdesk-operator/internal/retention/cli"
	"github.com/privatedesk/helpdesk-operator/internal/selfcopy"
	"github.com/privatedesk/helpdesk-operator/internal/version"
)

const usage = `helpdesk-operator runs isolated, privacy-hardened helpdesks on Kubernetes.

Usage:
  helpdesk-operator manager [flags]     run the controllers (the default command)
  helpdesk-operator backup [flags]      take an encrypted backup of one instance (run by a CronJob)
  helpdesk-operator restore [flags]     restore a backup into an empty database
  helpdesk-operator verify [flags]      restore drill: restore into a scratch database and compare
  helpdesk-operator list [flags]        list the complete backups of an instance
  helpdesk-operator gate [flags]        the access gate in front of one helpdesk (SSO, MFA, sessions)
  helpdesk-operator app-settings [flags] write the settings an access policy decides into the app's database (run by a Job)
  helpdesk-operator copy-binary DEST    copy this binary to DEST (init containers of job pods)
  helpdesk-operator retention [flags]   apply retention rules inside an instance's database (run by a CronJob)
  helpdesk-operator dsr [flags]         run a data-subject request: Access, Erasure or Rectification;
                                        delete or open an Access export (--delete-export, --open-export)
  helpdesk-operator vault-setup [flags] set a Vault up for the operator (administrators, once)
  helpdesk-operator version             print the version

Run "helpdesk-operator <command> -h" for a command's flags.
`

func main() {
	if err := run(ctrl.SetupSignalHandler(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "helpdesk-operator:", err)
		}
		// retention and dsr tell failures worth retrying (1) from final ones (2).
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			os.Exit(coded.ExitCode())
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	command := "manager"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, args = args[0], args[1:]
	}
	switch command {
	case "manager":
		return operator.RunManager(ctx, args, stderr)
	case "retention", "dsr":
		return retentioncli.Main(ctx, command, args, stdout, stderr)
	case "backup", "restore", "verify", "list":
		return backupcli.Main(ctx, command, args, stdout)
	case "gate":
		return gate.Main(ctx, args, stderr)
	case "app-settings":
		return appsettings.Main(ctx, args, stdout)
	case "vault-setup":
		return operator.RunVaultSetup(ctx, args, stderr)
	case "copy-binary":
		if len(args) != 1 {
			return fmt.Errorf("copy-binary takes one argument, the destination path")
		}
		return selfcopy.To(args[0])
	case "version":
		fmt.Fprintln(stdout, version.String())
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", command)
	}
}
