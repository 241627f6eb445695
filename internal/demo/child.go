package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// childStopTimeout bounds how long a child process may take to stop after SIGTERM.
const childStopTimeout = 20 * time.Second

// operatorCommand is the operator binary with a subcommand, as a child process of its
// own process group (Ctrl-C in the terminal reaches the demo, which stops its children
// itself) that dies with the demo. Its environment is ours without the variables the
// operator reads (VAULT_*, HELPDESK_*, BACKUP_*, ...), so a developer's shell cannot
// change what the demo shows, plus env.
func (s *session) operatorCommand(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.o.OperatorBinary, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = childStopTimeout
	return cmd
}

// runOperator runs a subcommand to its end. Its stderr (logs, progress) goes to
// logs/<log>; its stdout is returned, and on failure the error carries its last line
// (the subcommands print a one-line JSON result, errors included).
func (s *session) runOperator(ctx context.Context, log string, env []string, args ...string) ([]byte, error) {
	logFile, err := s.logFile(log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	var stdout bytes.Buffer
	cmd := s.operatorCommand(ctx, env, args...)
	cmd.Stdout, cmd.Stderr = &stdout, logFile
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return stdout.Bytes(), fmt.Errorf("helpdesk-operator %s: %w: %s (log: %s)", args[0], err, clip(lastLine(stdout.Bytes()), 600), logFile.Name())
	}
	return stdout.Bytes(), nil
}

// decodeResult decodes the last line of a subcommand's output, its JSON result.
func decodeResult(out []byte, v any) error {
	line := lastLine(out)
	if err := json.Unmarshal([]byte(line), v); err != nil {
		return fmt.Errorf("reading the result %q: %w", clip(line, 200), err)
	}
	return nil
}

func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// cleanEnv is our environment without the variables the operator's commands read.
func cleanEnv() []string {
	prefixes := []string{"VAULT_", "HELPDESK_", "BACKUP_", "RETENTION_", "DSR_", "PG", "AWS_", "KUBECONFIG=", "POD_NAMESPACE="}
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}
