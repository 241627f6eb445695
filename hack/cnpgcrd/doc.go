// Package cnpgcrd pins github.com/cloudnative-pg/api in go.mod so that `make manifests`
// can generate CloudNativePG's CRDs from the same API version the operator compiles
// against; the tests install the Cluster CRD from test/crds/cloudnative-pg.
package cnpgcrd

import _ "github.com/cloudnative-pg/api/pkg/api/v1"
