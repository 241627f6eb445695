package resources

import (
	"testing"

	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// The Vault Agent annotations must name the role and path internal/vault creates and the
// tenant policy allows; this catches drift between the two packages.
func TestVaultNamesMatchInternalVault(t *testing.T) {
	opts := testOptions()
	inst := vaultAgentInstance()
	names := vault.NamesFor(opts.Vault.Prefix, inst.Namespace, inst.Name)
	if got := VaultRole(inst, opts); got != names.Roles[vault.WorkloadApp] {
		t.Errorf("role %q, internal/vault creates %q", got, names.Roles[vault.WorkloadApp])
	}
	if got, want := VaultSecretPath(inst, opts), opts.Vault.KVMount+"/data/"+names.Secrets; got != want {
		t.Errorf("secret path %q, the tenant policy allows %q", got, want)
	}
	def := vault.DefaultConfig()
	d := DefaultOptions()
	if d.Vault.Prefix != def.Prefix || d.Vault.KVMount != def.KVMount || d.Vault.KubernetesAuthMount != def.KubernetesMount || d.Vault.Audience != def.Audience {
		t.Errorf("default Vault options %+v differ from internal/vault's defaults", d.Vault)
	}
}
