package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// AccessPolicyReconciler checks what the schema cannot (that every Secret the policy
// references exists and holds the key) and reports, from the instances that reference
// the policy, what of it is enforced where (status.instances). The instances enforce it;
// each reports its own parts in status.access, and this controller gathers them.
type AccessPolicyReconciler struct {
	// Workers is how many objects are reconciled at once; 0 means one.
	Workers int
	client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	// Recorder records an Event when Ready changes; nil records none.
	Recorder events.EventRecorder
	// secretKeys reads the key names of the policy's Secrets (set up with the manager).
	secretKeys *secretKeys
}

// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=accesspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=accesspolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

func (r *AccessPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &v1alpha1.AccessPolicy{}
	if err := r.Get(ctx, req.NamespacedName, policy); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := policy.DeepCopy()

	policy.Status.SSOProvider = ssoProvider(policy.Spec.SSO)
	secrets := r.secretKeys
	if secrets == nil {
		secrets = newSecretKeys(nil, r.APIReader)
	}
	missing, err := missingSecretKeys(ctx, secrets, policy.Namespace, accessPolicySecretRefs(policy))
	if err != nil {
		return ctrl.Result{}, err
	}
	clearStalled(policy)
	instances := &v1alpha1.HelpdeskInstanceList{}
	// Read only, never changed: no copy of a thousand instances per reconcile.
	if err := r.List(ctx, instances, client.InNamespace(policy.Namespace), client.MatchingFields{instancePolicyIndex: "AccessPolicy/" + policy.Name},
		client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the instances that reference AccessPolicy %s: %w", req.NamespacedName, err)
	}
	status, reason, message := summarizeAccessPolicy(policy, instances.Items)
	if len(missing) > 0 {
		status, reason, message = metav1.ConditionFalse, v1alpha1.ReasonSecretMissing, missingReferencesMessage(policy.Namespace, missing)
	}
	setCondition(policy, v1alpha1.ConditionReady, status, reason, message)
	r.recordReadyChange(before, policy)
	return ctrl.Result{}, patchStatus(ctx, r.Client, before, policy)
}

// maxAccessInstances bounds status.instances: a policy of a thousand instances would
// otherwise carry about 1.5 KiB per instance, rewritten as they change, up to etcd's
// limit on an object's size. Instances with a part not enforced are listed first.
const maxAccessInstances = 256

// summarizeAccessPolicy fills status.instances from the instances' own reports (at most
// maxAccessInstances of them) and says whether every part the policy asks for is enforced
// on every one of them.
func summarizeAccessPolicy(policy *v1alpha1.AccessPolicy, instances []v1alpha1.HelpdeskInstance) (metav1.ConditionStatus, string, string) {
	sort.Slice(instances, func(i, j int) bool { return instances[i].Name < instances[j].Name })
	policy.Status.Instances = nil
	var waiting, notEnforced []string
	var enforcedEntries, notEnforcedEntries []v1alpha1.AccessPolicyInstance
	reason := ""
	for i := range instances {
		inst := &instances[i]
		access := inst.Status.Access
		if !inst.DeletionTimestamp.IsZero() {
			continue
		}
		if access == nil || access.PolicyName != policy.Name || inst.Status.ObservedGeneration != inst.Generation {
			waiting = append(waiting, inst.Name)
			continue
		}
		entry := v1alpha1.AccessPolicyInstance{Name: inst.Name, Exposure: access.Exposure, AccessEnforcement: partStates(access.AccessEnforcement)}
		var parts []string
		for _, p := range namedParts(access.AccessEnforcement) {
			if p.status.State == v1alpha1.AccessPartNotEnforced {
				if reason == "" {
					reason = p.status.Reason
				}
				parts = append(parts, p.name+" "+p.status.Reason)
			}
		}
		if len(parts) > 0 {
			notEnforced = append(notEnforced, fmt.Sprintf("instance %s: %s", inst.Name, strings.Join(parts, ", ")))
			notEnforcedEntries = append(notEnforcedEntries, entry)
		} else {
			enforcedEntries = append(enforcedEntries, entry)
		}
	}
	reported := len(enforcedEntries) + len(notEnforcedEntries)
	listed := append(notEnforcedEntries, enforcedEntries...)
	policy.Status.Instances = listed[:min(len(listed), maxAccessInstances)]
	sort.Slice(policy.Status.Instances, func(i, j int) bool { return policy.Status.Instances[i].Name < policy.Status.Instances[j].Name })
	switch {
	case len(notEnforced) > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonNotEnforced, "Not enforced everywhere (see status.instances for why and how to fix it): " + joinSome(notEnforced, "; ")
	case len(waiting) > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonProgressing, "Waiting for instance(s) " + joinSome(waiting, ", ") + " to report what they enforce"
	case reported == 0:
		return metav1.ConditionTrue, v1alpha1.ReasonReconciled, "The policy is valid and its Secrets are present; no instance references it yet"
	}
	return metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced, fmt.Sprintf("Every part the policy asks for is enforced on its %d instance(s)", reported)
}

// partStates is an instance's report as the policy lists it: every part's state, and the
// reason and message only of the parts not enforced. What a part in force does is the
// same text on every instance, and is in the instance's own status.access; repeated in
// up to maxAccessInstances entries it made the policy about 320 KiB, written again at
// each summary (hack/bench-scale, N=1000: 76 summaries while the instances came up).
func partStates(e v1alpha1.AccessEnforcement) v1alpha1.AccessEnforcement {
	state := func(p v1alpha1.AccessPartStatus) v1alpha1.AccessPartStatus {
		if p.State == v1alpha1.AccessPartNotEnforced {
			return p
		}
		return v1alpha1.AccessPartStatus{State: p.State}
	}
	return v1alpha1.AccessEnforcement{
		AllowList: state(e.AllowList), SSO: state(e.SSO), MFA: state(e.MFA),
		Session: state(e.Session), Uploads: state(e.Uploads), BotProtection: state(e.BotProtection),
	}
}

// recordReadyChange records an Event when the policy's Ready changes.
func (r *AccessPolicyReconciler) recordReadyChange(before, after *v1alpha1.AccessPolicy) {
	if r.Recorder == nil {
		return
	}
	old := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionReady)
	now := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionReady)
	if now == nil || (old != nil && old.Status == now.Status && old.Reason == now.Reason) {
		return
	}
	eventType := corev1.EventTypeNormal
	if now.Status != metav1.ConditionTrue {
		eventType = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(after, nil, eventType, now.Reason, "Enforcement", "%s", eventMessage(now.Message))
}

// accessPolicyOf maps an instance to the access policy it names.
func accessPolicyOf(_ context.Context, obj client.Object) []ctrl.Request {
	ref := obj.(*v1alpha1.HelpdeskInstance).Spec.AccessPolicyRef
	if ref == nil {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: ref.Name}}}
}

func ssoProvider(sso *v1alpha1.SSOSpec) string {
	switch {
	case sso == nil:
		return "None"
	case sso.OIDC != nil:
		return "OIDC"
	case sso.SAML != nil:
		return "SAML"
	case sso.LDAP != nil:
		return "LDAP"
	}
	return "None"
}

// accessPolicySecretRefs lists every Secret key the policy points at.
func accessPolicySecretRefs(policy *v1alpha1.AccessPolicy) []v1alpha1.SecretKeyReference {
	var refs []v1alpha1.SecretKeyReference
	if sso := policy.Spec.SSO; sso != nil {
		if sso.OIDC != nil {
			refs = append(refs, sso.OIDC.ClientSecretRef)
		}
		if sso.SAML != nil && sso.SAML.SigningKeyRef != nil {
			refs = append(refs, *sso.SAML.SigningKeyRef)
		}
		if sso.SAML != nil && sso.SAML.CertificateRef != nil {
			refs = append(refs, *sso.SAML.CertificateRef)
		}
		if sso.LDAP != nil {
			refs = append(refs, sso.LDAP.BindPasswordRef)
			if sso.LDAP.CASecretRef != nil {
				refs = append(refs, *sso.LDAP.CASecretRef)
			}
		}
	}
	if bot := policy.Spec.BotProtection; bot != nil && bot.Captcha != nil {
		refs = append(refs, bot.Captcha.SecretKeyRef)
	}
	return refs
}

// SetupWithManager registers the controller; Secrets are watched by metadata only, and
// instances (their status reports what they enforce) through the policy they name.
func (r *AccessPolicyReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.AccessPolicy{}, secretNamesIndex, func(obj client.Object) []string {
		return secretNames(accessPolicySecretRefs(obj.(*v1alpha1.AccessPolicy)))
	}); err != nil {
		return err
	}
	r.secretKeys = newSecretKeys(mgr.GetClient(), r.APIReader)
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.AccessPolicy{}, specChanged).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(referencingPolicies(mgr.GetClient(), &v1alpha1.AccessPolicyList{})), builder.OnlyMetadata).
		Watches(&v1alpha1.HelpdeskInstance{}, summarizeLater(accessPolicyOf)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}
