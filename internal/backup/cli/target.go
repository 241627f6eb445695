package cli

import (
	"context"

	"github.com/privatedesk/helpdesk-operator/internal/backup"
	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/envflag"
)

// Target is a backup destination, an instance of it and the instance's transit key, named
// by the same flags as the backup subcommands' (--path or --s3-*, --vault-*,
// --transit-*, --instance-*), for other subcommands that write to an instance's folder
// with the backup envelope: the data-subject exports of `dsr`.
type Target struct {
	dest      destFlags
	vault     vaultFlags
	namespace string
	name      string
}

// Register adds the flags to o, whose prefix names their environment variables.
func (t *Target) Register(o *envflag.Set) {
	t.dest.register(o)
	t.vault.register(o)
	o.String(&t.namespace, "instance-namespace", "", "namespace of the helpdesk instance", "POD_NAMESPACE")
	o.String(&t.name, "instance-name", "", "name of the helpdesk instance")
}

// Destination opens the destination and checks the instance's folder name; it needs no Vault.
func (t *Target) Destination() (dest.Destination, backup.Instance, error) {
	inst := backup.Instance{Namespace: t.namespace, Name: t.name}
	if _, err := inst.Folder(); err != nil {
		return nil, inst, err
	}
	d, err := t.dest.build()
	return d, inst, err
}

// Engine is a backup engine for the instance's folder, logged in to Vault.
func (t *Target) Engine(ctx context.Context) (*backup.Engine, error) {
	d, inst, err := t.Destination()
	if err != nil {
		return nil, err
	}
	transit, err := t.vault.build(ctx)
	if err != nil {
		return nil, err
	}
	return &backup.Engine{Dest: d, Instance: inst, Transit: transit}, nil
}
