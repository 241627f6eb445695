package controllers

import (
	"flag"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// packagingFlags are the flags of how the operator is installed: pull secrets its tenants'
// pods use, and how often missing prerequisites are looked for again (preflight.go).
type packagingFlags struct {
	imagePullSecrets string
	// preflightInterval is how often missing CRDs are looked for again; 0 never.
	preflightInterval time.Duration
}

func (p *packagingFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&p.imagePullSecrets, "image-pull-secrets", "",
		"Comma-separated names of Secrets, in each tenant namespace, that every pod of an instance (app, jobs, gate, backups, its CloudNativePG cluster) pulls its images with.")
	fs.DurationVar(&p.preflightInterval, "preflight-interval", time.Minute,
		"How often CRDs that were missing at start (CloudNativePG's, the exposure's) are looked for again; when one appears the manager exits to restart with it. 0 only checks at start.")
}

func (p *packagingFlags) complete(r *resources.Options) {
	r.ImagePullSecrets = splitList(p.imagePullSecrets)
}
