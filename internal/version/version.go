// Package version is the operator's version, stamped at build time:
//
//	go build -ldflags "-X github.com/privatedesk/helpdesk-operator/internal/version.Version=v0.1.0 \
//	  -X github.com/privatedesk/helpdesk-operator/internal/version.Commit=$(git rev-parse HEAD)"
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker; a plain `go build` leaves the defaults, and String falls back to what
// the Go toolchain recorded (the VCS revision of the checkout it built).
var (
	Version = "dev"
	Commit  = ""
)

// String is one line for `helpdesk-operator version` and the manager's start-up log.
func String() string {
	commit := Commit
	if commit == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("helpdesk-operator %s (commit %s, %s, %s/%s)", Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
