package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// Backups follow retention. A RetentionPolicy removes personal data from the helpdesk
// after its age; an erasure removes one person's data at once. Neither can reach into the
// instance's backups: they are encrypted, signed and meant to stay as they were. So a
// backup kept longer than the longest age of the RetentionPolicy still holds data the
// policy has removed, and would bring it back on a restore. BackupRetentionAligned says
// so, on both policies, for every instance that uses both; crypto-shredding
// (helpdeskinstance_keytrim.go) then makes backups past spec.retention.maxAge unreadable
// everywhere, which is why maxAge must be set and no longer than that age.

// retentionBackupPair is one instance that uses both policies.
type retentionBackupPair struct {
	instance  string
	retention *v1alpha1.RetentionPolicy
	backup    *v1alpha1.BackupPolicy
}

// longestRetentionAge is the longest age any rule of policy keeps personal data for.
func longestRetentionAge(policy *v1alpha1.RetentionPolicy) time.Duration {
	var longest time.Duration
	for _, r := range policy.Spec.Rules {
		longest = max(longest, r.OlderThan.Duration)
	}
	return longest
}

// hours writes a duration as the specs do, e.g. 8760h.
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", int64(d/time.Hour))
	}
	return d.String()
}

// judgeBackupRetention decides BackupRetentionAligned from the pairs; present is false
// when there are none (the condition is then removed).
func judgeBackupRetention(pairs []retentionBackupPair) (present bool, status metav1.ConditionStatus, reason, message string) {
	if len(pairs) == 0 {
		return false, "", "", ""
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].instance < pairs[j].instance })
	// One conflict per pair of policies, naming a few of its instances: a thousand
	// instances sharing the two policies make one short message.
	var conflicts []string
	instancesOf := map[string][]string{}
	for _, p := range pairs {
		longest := longestRetentionAge(p.retention)
		maxAge := p.backup.Spec.Retention.MaxAge
		var conflict string
		switch {
		case maxAge == nil:
			conflict = fmt.Sprintf("BackupPolicy %s sets no spec.retention.maxAge, so its backups may keep personal data for ever, while RetentionPolicy %s keeps it at most %s",
				p.backup.Name, p.retention.Name, hours(longest))
		case maxAge.Duration > longest:
			conflict = fmt.Sprintf("BackupPolicy %s keeps backups up to %s (spec.retention.maxAge), longer than RetentionPolicy %s keeps personal data (at most %s)",
				p.backup.Name, hours(maxAge.Duration), p.retention.Name, hours(longest))
		default:
			continue
		}
		if _, seen := instancesOf[conflict]; !seen {
			conflicts = append(conflicts, conflict)
		}
		instancesOf[conflict] = append(instancesOf[conflict], p.instance)
	}
	for i, conflict := range conflicts {
		conflicts[i] = "instance " + joinSome(instancesOf[conflict], ", ") + ": " + conflict
	}
	if len(conflicts) > 0 {
		return true, metav1.ConditionFalse, v1alpha1.ReasonBackupsOutliveRetention, joinSome(conflicts, "; ") +
			". Retention runs and erasures cannot reach into encrypted backups, so what they remove stays in older backups (and comes back with a restore) until those are pruned:" +
			" set the BackupPolicy's spec.retention.maxAge to at most the longest olderThan of the RetentionPolicy; key versions of backups past it are then crypto-shredded"
	}
	return true, metav1.ConditionTrue, v1alpha1.ReasonWithinRetention,
		"No backup is kept longer than the RetentionPolicy keeps personal data; key versions of pruned backups are crypto-shredded"
}

// setBackupRetention sets or removes BackupRetentionAligned on obj.
func setBackupRetention(obj conditioned, pairs []retentionBackupPair) {
	present, status, reason, message := judgeBackupRetention(pairs)
	if !present {
		conditions := obj.GetConditions()
		meta.RemoveStatusCondition(&conditions, v1alpha1.ConditionBackupRetention)
		obj.SetConditions(conditions)
		return
	}
	setCondition(obj, v1alpha1.ConditionBackupRetention, status, reason, message)
}

// policyPairs lists, for the instances referencing a policy of kind, the other policy of
// each that exists: other returns an instance's reference to it and the object to read.
func policyPairs(ctx context.Context, c client.Client, namespace, kind, name string,
	pair func(*v1alpha1.HelpdeskInstance) (ref *v1alpha1.LocalObjectReference, fill func(client.Object) retentionBackupPair, obj client.Object),
) ([]retentionBackupPair, error) {
	list := &v1alpha1.HelpdeskInstanceList{}
	if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{instancePolicyIndex: kind + "/" + name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var pairs []retentionBackupPair
	// Most instances of a policy share the other one: each is read (a deep copy of it
	// and its status) once, not once per instance.
	read := map[string]client.Object{}
	for i := range list.Items {
		inst := &list.Items[i]
		if !inst.DeletionTimestamp.IsZero() {
			continue
		}
		ref, fill, obj := pair(inst)
		if ref == nil {
			continue
		}
		found, seen := read[ref.Name]
		if !seen {
			err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, obj)
			if client.IgnoreNotFound(err) != nil {
				return nil, err
			}
			if err == nil {
				found = obj
			}
			read[ref.Name] = found
		}
		if found != nil {
			pairs = append(pairs, fill(found))
		}
	}
	return pairs, nil
}

// backupPairsOfRetention pairs a RetentionPolicy with the BackupPolicies of its instances.
func backupPairsOfRetention(ctx context.Context, c client.Client, policy *v1alpha1.RetentionPolicy) ([]retentionBackupPair, error) {
	return policyPairs(ctx, c, policy.Namespace, "RetentionPolicy", policy.Name, func(inst *v1alpha1.HelpdeskInstance) (*v1alpha1.LocalObjectReference, func(client.Object) retentionBackupPair, client.Object) {
		return inst.Spec.BackupPolicyRef, func(o client.Object) retentionBackupPair {
			return retentionBackupPair{instance: inst.Name, retention: policy, backup: o.(*v1alpha1.BackupPolicy)}
		}, &v1alpha1.BackupPolicy{}
	})
}

// retentionPairsOfBackup pairs a BackupPolicy with the RetentionPolicies of its instances.
func retentionPairsOfBackup(ctx context.Context, c client.Client, policy *v1alpha1.BackupPolicy) ([]retentionBackupPair, error) {
	return policyPairs(ctx, c, policy.Namespace, "BackupPolicy", policy.Name, func(inst *v1alpha1.HelpdeskInstance) (*v1alpha1.LocalObjectReference, func(client.Object) retentionBackupPair, client.Object) {
		return inst.Spec.RetentionPolicyRef, func(o client.Object) retentionBackupPair {
			return retentionBackupPair{instance: inst.Name, retention: o.(*v1alpha1.RetentionPolicy), backup: policy}
		}, &v1alpha1.RetentionPolicy{}
	})
}

// otherPolicies maps a policy of kind to the policies its instances reference through
// ref: a change of one side's ages decides the other side's condition.
func otherPolicies(c client.Client, kind string, ref func(*v1alpha1.HelpdeskInstance) *v1alpha1.LocalObjectReference) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		list := &v1alpha1.HelpdeskInstanceList{}
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{instancePolicyIndex: kind + "/" + obj.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing the instances that reference a policy", "policy", client.ObjectKeyFromObject(obj))
			return nil
		}
		seen := map[string]bool{}
		var requests []ctrl.Request
		for i := range list.Items {
			if r := ref(&list.Items[i]); r != nil && !seen[r.Name] {
				seen[r.Name] = true
				requests = append(requests, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: r.Name}})
			}
		}
		return requests
	}
}
