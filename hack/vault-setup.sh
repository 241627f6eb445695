#!/usr/bin/env bash
# Sets a Vault up for helpdesk-operator, as an administrator does once: the transit, KV v2
# and Kubernetes auth mounts, Kubernetes auth for the cluster in your kubeconfig (with alias
# metadata from ServiceAccount annotations), the three fixed tenant policies, the
# operator's policy and its role. It runs `helpdesk-operator vault-setup` from this
# checkout, so the policies are exactly what this version expects.
#
#   VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=<admin token> \
#     hack/vault-setup.sh --token-reviewer-jwt-file=reviewer.jwt
#   VAULT_ADDR=... VAULT_TOKEN=... hack/vault-setup.sh --in-cluster-vault
#
# Other flags (mount paths, prefix, the operator's namespace and ServiceAccount): see
# `hack/vault-setup.sh -h`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${VAULT_ADDR:?set VAULT_ADDR to Vault's URL}"
: "${VAULT_TOKEN:?set VAULT_TOKEN to a token that may manage mounts, auth methods and policies}"
export GOTOOLCHAIN=local
exec go run ./cmd/helpdesk-operator vault-setup "$@"
