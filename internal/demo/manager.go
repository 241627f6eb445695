package demo

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

// demoOperatorImage is what the manager puts into the pods it creates for backups,
// drills and the access gate (--operator-image). No pod starts here, so it is never pulled.
const demoOperatorImage = "helpdesk-operator:dev"

// managerStartTimeout bounds the wait for the manager's readiness probe.
const managerStartTimeout = 2 * time.Minute

// managerProcess is the running manager.
type managerProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	log    string
}

// managerArgs are the manager's flags: the defaults, except what a local run needs.
func (s *session) managerArgs(probeAddress string) []string {
	return []string{
		"manager",
		"--leader-elect=false",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=" + probeAddress,
		"--vault-address=" + s.vault.Addr,
		"--vault-auth-method=kubernetes",
		"--vault-role=" + operatorRole,
		"--vault-sa-token-path=" + s.operatorToken,
		"--operator-image=" + demoOperatorImage,
	}
}

// startManager runs `helpdesk-operator manager` against the local API server, logged in
// to Vault with its own ServiceAccount's token and role (not the root token), and waits
// until it is ready.
func (s *session) startManager(ctx context.Context) error {
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	probe := "127.0.0.1:" + strconv.Itoa(port)
	log, err := s.logFile("manager.log")
	if err != nil {
		return err
	}
	defer log.Close()
	args := s.managerArgs(probe)
	// Not bound to ctx: the manager is stopped in order, by stopAll.
	cmd := s.operatorCommand(context.WithoutCancel(ctx), []string{"KUBECONFIG=" + s.kubeconfig}, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the manager: %w", err)
	}
	m := &managerProcess{cmd: cmd, exited: make(chan struct{}), log: log.Name()}
	go func() { m.err = cmd.Wait(); close(m.exited) }()
	s.manager = m
	s.onStop("stopped the manager", m.stop)
	s.p.progress("started the manager (pid %d, log %s), logged in to Vault as its own role, not as root:", cmd.Process.Pid, m.log)
	s.p.line("%s %s", s.o.OperatorBinary, strings.Join(args, " "))
	return m.waitReady(ctx, "http://"+probe+"/readyz")
}

func (m *managerProcess) waitReady(ctx context.Context, url string) error {
	httpClient := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(managerStartTimeout)
	for {
		select {
		case <-m.exited:
			return fmt.Errorf("the manager exited: %w; see %s:\n%s", m.err, m.log, proc.LogTail(m.log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := httpClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager was not ready within %s; see %s:\n%s", managerStartTimeout, m.log, proc.LogTail(m.log, 20))
		}
	}
}

// stop asks the manager to stop (SIGTERM, as the kubelet does) and kills it if it does
// not in time.
func (m *managerProcess) stop() {
	pid := m.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(childStopTimeout):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-m.exited
	}
}
