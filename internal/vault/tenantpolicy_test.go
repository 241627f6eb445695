package vault

import "testing"

func TestTenantPolicies(t *testing.T) {
	got := TenantPolicies(DefaultConfig(), "auth_kubernetes_1234")
	const m = "{{identity.entity.aliases.auth_kubernetes_1234.metadata."
	want := map[Workload]string{
		WorkloadApp: `# helpdesk-operator: the app's own secrets, read only.
path "secret/data/helpdesk/secrets/` + m + `service_account_namespace}}/` + m + `helpdesk_instance}}" {
  capabilities = ["read"]
}
`,
		WorkloadBackup: `# helpdesk-operator: backups wrap file keys, sign and check manifests; never decrypt.
path "transit/encrypt/helpdesk_` + m + `service_account_namespace}}_` + m + `helpdesk_instance}}" {
  capabilities = ["update"]
}
path "transit/hmac/helpdesk_` + m + `service_account_namespace}}_` + m + `helpdesk_instance}}" {
  capabilities = ["update"]
}
path "transit/verify/helpdesk_` + m + `service_account_namespace}}_` + m + `helpdesk_instance}}" {
  capabilities = ["update"]
}
`,
		WorkloadRestore: `# helpdesk-operator: restores and drills unwrap file keys and check manifests; never encrypt.
path "transit/decrypt/helpdesk_` + m + `service_account_namespace}}_` + m + `helpdesk_instance}}" {
  capabilities = ["update"]
}
path "transit/verify/helpdesk_` + m + `service_account_namespace}}_` + m + `helpdesk_instance}}" {
  capabilities = ["update"]
}
path "transit/decrypt/helpdesk_` + m + `service_account_namespace}}_` + m + `helpdesk_restore_source}}" {
  capabilities = ["update"]
}
path "transit/verify/helpdesk_` + m + `service_account_namespace}}_` + m + `helpdesk_restore_source}}" {
  capabilities = ["update"]
}
`,
	}
	for _, w := range Workloads {
		if got[w] != want[w] {
			t.Errorf("policy of %s:\n%s\nwant:\n%s", w, got[w], want[w])
		}
	}
	if ServiceAccountAnnotation(MetadataInstance) != "vault.hashicorp.com/alias-metadata-helpdesk_instance" {
		t.Errorf("annotation = %q", ServiceAccountAnnotation(MetadataInstance))
	}
}
