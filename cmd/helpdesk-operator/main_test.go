package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestCommandDispatch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &stdout, &stderr); err != nil {
		t.Fatalf("help: %v", err)
	}
	for _, command := range []string{"manager", "backup", "restore", "verify", "retention", "dsr"} {
		if !strings.Contains(stdout.String(), "helpdesk-operator "+command) {
			t.Errorf("usage does not list %s:\n%s", command, stdout.String())
		}
	}
	var version bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &version, &stderr); err != nil || !strings.HasPrefix(version.String(), "helpdesk-operator ") {
		t.Errorf("version: %q, %v", version.String(), err)
	}
	err := run(context.Background(), []string{"frobnicate"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: err = %v", err)
	}
	// Flags without a command go to the manager, which rejects what it does not know.
	if err := run(context.Background(), []string{"--no-such-flag"}, &stdout, &stderr); err == nil || !strings.Contains(stderr.String(), "no-such-flag") {
		t.Errorf("manager flag parsing: err = %v, stderr %q", err, stderr.String())
	}
}
