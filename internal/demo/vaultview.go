package demo

import (
	"context"
	"fmt"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// Where vault-setup and the manager's defaults put things in Vault.
const (
	vaultPrefix       = "helpdesk"
	vaultKVMount      = "secret"
	vaultTransitMount = "transit"
	vaultAuthMount    = "kubernetes"
	vaultAudience     = "vault"
)

// showVault prints, for each instance, what the operator keeps in Vault: the transit key
// (name and versions), the workload roles, and the KV entries (paths and versions). It
// reads as the administrator and prints no key material and no secret value.
func (s *session) showVault(ctx context.Context) error {
	admin, err := s.vaultAdmin()
	if err != nil {
		return err
	}
	instances, err := s.listKind(ctx, "HelpdeskInstance")
	if err != nil {
		return err
	}
	for _, inst := range instances {
		names := vault.NamesFor(vaultPrefix, inst.GetNamespace(), inst.GetName())
		s.p.section("Vault: what the operator keeps for %s/%s (names and versions, never key material)", inst.GetNamespace(), inst.GetName())
		rows := [][]string{}
		key, err := admin.Logical().ReadWithContext(ctx, vaultTransitMount+"/keys/"+names.Key)
		if err != nil {
			return err
		}
		if key == nil {
			rows = append(rows, []string{"transit key", names.Key + ": none yet"})
		} else {
			rows = append(rows, []string{"transit key", fmt.Sprintf("%s/keys/%s: %v, latest version %v, min decryption version %v, exportable %v, deletion allowed %v",
				vaultTransitMount, names.Key, key.Data["type"], key.Data["latest_version"], key.Data["min_decryption_version"], key.Data["exportable"], key.Data["deletion_allowed"])})
		}
		for _, w := range vault.Workloads {
			role, err := admin.Logical().ReadWithContext(ctx, "auth/"+vaultAuthMount+"/role/"+names.Roles[w])
			if err != nil {
				return err
			}
			if role == nil {
				rows = append(rows, []string{"role " + string(w), names.Roles[w] + ": none (" + string(w) + " workload not used)"})
				continue
			}
			rows = append(rows, []string{"role " + string(w), fmt.Sprintf("%s: ServiceAccount %v/%v, audience %v, policy %v",
				names.Roles[w], first(role.Data["bound_service_account_namespaces"]), first(role.Data["bound_service_account_names"]),
				role.Data["audience"], first(role.Data["token_policies"]))})
		}
		for _, kv := range []struct{ what, path string }{{"app secrets", names.Secrets}, {"owner record", names.Owner}} {
			rows = append(rows, []string{kv.what, kvVersion(ctx, admin, kv.path)})
		}
		s.p.table(rows)
	}
	return nil
}

// kvVersion describes a KV v2 entry by its metadata alone.
func kvVersion(ctx context.Context, admin *vaultapi.Client, path string) string {
	meta, err := admin.Logical().ReadWithContext(ctx, vaultKVMount+"/metadata/"+path)
	if err != nil {
		return fmt.Sprintf("%s/%s: %v", vaultKVMount, path, err)
	}
	if meta == nil {
		return fmt.Sprintf("%s/%s: none", vaultKVMount, path)
	}
	return fmt.Sprintf("%s/%s: version %v, written %v", vaultKVMount, path, meta.Data["current_version"], strings.SplitN(fmt.Sprint(meta.Data["updated_time"]), ".", 2)[0])
}
