package resources

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// BackupNetworkPolicy lets the instance's backup, drill and restore pods reach the S3
// destination: exactly BackupEgressCIDRs (within the operator's egress bounds) on the
// endpoint's port, added to what the <name>-jobs policy allows (database and Vault). It is
// nil for a volume destination, which needs no network, and when no CIDR is left (a host
// name without egressCIDRs: no policy can name a host; or CIDRs the bounds refuse): the
// BackupPolicy reports it instead.
func BackupNetworkPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy) *networkingv1.NetworkPolicy {
	return s3EgressPolicy(inst, prof, opts, policy, BackupNamesFor(inst).EgressPolicy, "")
}

// RestoreNetworkPolicy lets the restore pod of spec.restoreFrom reach the S3 destination
// of the policy it restores from, which need not be the instance's backupPolicyRef. It
// is nil when BackupNetworkPolicy would be.
func RestoreNetworkPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy) *networkingv1.NetworkPolicy {
	return s3EgressPolicy(inst, prof, opts, policy, BackupNamesFor(inst).RestoreEgressPolicy, BackupRunRestore)
}

func s3EgressPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.BackupPolicy, name, run string) *networkingv1.NetworkPolicy {
	s3 := policy.Spec.Destination.S3
	to := tenantPeers(opts.TenantEgress, BackupEgressCIDRs(s3))
	if len(to) == 0 {
		return nil
	}
	// Only the backup pods, not the migration Job, which shares the job role.
	selector := SelectorLabels(inst, RoleJob)
	selector[LabelComponent] = ComponentBackup
	if run != "" {
		selector[LabelBackupRun] = run
	}
	p := networkPolicy(inst, prof, opts, name, selector, networkingv1.PolicyTypeEgress)
	p.Labels[LabelBackupPolicy] = BackupPolicyLabel(policy.Name)
	if run != "" {
		p.Labels[LabelBackupRun] = run
	}
	p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To:    to,
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, s3Port(s3.Endpoint))},
	}}
	return p
}
