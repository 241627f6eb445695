package vault

import (
	"context"
	"fmt"
)

// OperatorIdentity is who the operator runs as, for its own Kubernetes auth role.
type OperatorIdentity struct {
	// Role is the operator's Kubernetes auth role (the manager's --vault-role).
	Role string
	// Namespace and ServiceAccount are where the manager runs.
	Namespace      string
	ServiceAccount string
	// Policy names the operator's own policy; OperatorPolicy renders its text.
	Policy string
}

// SetUp is what a Vault administrator runs once (helpdesk-operator vault-setup): the
// mounts, Kubernetes auth for the cluster, the fixed tenant policies, the operator's
// policy and the operator's role. It needs a privileged token and is safe to repeat.
func (c *Client) SetUp(ctx context.Context, k KubernetesAuthConfig, op OperatorIdentity) error {
	if op.Role == "" || op.Namespace == "" || op.ServiceAccount == "" || op.Policy == "" {
		return fmt.Errorf("vault set-up: the operator's role, namespace, ServiceAccount and policy name are required")
	}
	if err := c.EnsureMounts(ctx, k); err != nil {
		return err
	}
	policyPath := "sys/policies/acl/" + op.Policy
	want := OperatorPolicy(c.cfg, op.Role)
	current, err := c.api.Sys().GetPolicyWithContext(ctx, op.Policy)
	if err != nil {
		return wrap("read the operator policy", policyPath, err)
	}
	if current != want {
		if err := c.api.Sys().PutPolicyWithContext(ctx, op.Policy, want); err != nil {
			return wrap("write the operator policy", policyPath, err)
		}
		c.log.Info("wrote the operator policy", "policy", op.Policy)
	}
	rolePath := c.rolePath(op.Role)
	role := map[string]any{
		"bound_service_account_names":      []string{op.ServiceAccount},
		"bound_service_account_namespaces": []string{op.Namespace},
		"token_policies":                   []string{op.Policy},
		"token_ttl":                        3600,
		"token_max_ttl":                    4 * 3600,
	}
	if _, err := c.api.Logical().WriteWithContext(ctx, rolePath, role); err != nil {
		return wrap("write the operator role", rolePath, err)
	}
	c.log.Info("wrote the operator role", "role", op.Role, "serviceAccount", op.Namespace+"/"+op.ServiceAccount)
	return nil
}
