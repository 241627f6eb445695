//go:build tools

// Package tools records the Traefik command this module builds, so that go mod tidy
// keeps every module it needs in go.sum.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
