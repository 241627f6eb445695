package demo

import (
	"context"
	"path/filepath"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// showTour prints the kubeconfig (one line exactly KUBECONFIG=<path>, for scripts) and
// what to look at with kubectl, then what the demo did not show.
func (s *session) showTour(context.Context) error {
	assets, err := binaries.EnvtestAssets()
	if err != nil {
		return err
	}
	ns, inst := s.o.Namespace, s.data.instance
	s.p.section("Look around (kubectl from the test binaries; another terminal)")
	s.p.raw("KUBECONFIG=%s", s.kubeconfig)
	s.p.line("export KUBECONFIG=%s PATH=%s:$PATH", s.kubeconfig, assets)
	s.p.table([][]string{
		{"kubectl get helpdesk -n " + ns, "# the instances and policies"},
		{"kubectl describe hdi " + inst + " -n " + ns, "# conditions, access parts, events"},
		{"kubectl get clusters.postgresql.cnpg.io,deploy,cronjobs,netpol,sa -n " + ns, "# what the operator created"},
		{"kubectl get networkpolicy " + inst + "-default-deny -n " + ns + " -o yaml", "# the perimeter"},
	})
	s.p.line("manager log: %s", s.manager.log)
	s.p.line("subcommand logs (vault-setup, backup, verify, retention): %s", filepath.Join(s.dir, "logs"))
	s.p.section("What this demo cannot show")
	s.p.line("No pod runs: the Deployments, the CloudNativePG Clusters, the CronJobs and the access gate exist")
	s.p.line("only as objects, so whatever waits for them (DatabaseReady, AppReady, Ready) stays False, and no")
	s.p.line("Job reports a backup to the BackupPolicy's status. The backup, drill and retention dry run above")
	s.p.line("ran the subcommands those Jobs run, with the instance's Vault roles, on the local PostgreSQL")
	s.p.line("instead of the Cluster. make test-e2e runs pods on a real single-node cluster.")
	s.p.raw("")
	s.p.progress("the demo is running; press Ctrl-C to stop it and remove everything it started")
	return nil
}
