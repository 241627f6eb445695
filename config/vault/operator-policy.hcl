# The Vault policy of the operator itself, for the default mounts (transit, secret,
# kubernetes) and key prefix (helpdesk). Bind it to the Kubernetes auth role the manager
# logs in with (--vault-role). It can manage only the tenant objects under the prefix;
# it can never encrypt or decrypt with a tenant key, nor export one.

# Tenant transit keys: create, read, configure (rotation period, deletion_allowed for
# Shred) and delete.
path "transit/keys/helpdesk-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# One ACL policy per tenant.
path "sys/policies/acl/helpdesk-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# One Kubernetes auth role per tenant.
path "auth/kubernetes/role/helpdesk-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# The tenants' app secrets (KV v2): generated once, read back, and removed by the Delete
# and Shred deletion policies.
path "secret/data/helpdesk/*" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/helpdesk/*" {
  capabilities = ["read", "list", "delete"]
}
