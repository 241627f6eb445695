package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// AccessPolicyReconciler checks what the schema cannot: that every Secret the policy
// references exists and holds the key.
type AccessPolicyReconciler struct {
	// Workers is how many objects are reconciled at once; 0 means one.
	Workers int
	client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
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
	missing, err := missingSecretKeys(ctx, r.APIReader, policy.Namespace, accessPolicySecretRefs(policy))
	if err != nil {
		return ctrl.Result{}, err
	}
	clearStalled(policy)
	if len(missing) > 0 {
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing, missingReferencesMessage(policy.Namespace, missing))
	} else {
		setCondition(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotEnforced,
			"The policy is valid and every referenced Secret is present, but this operator version does not enforce access policies yet: instances that reference it are not exposed at all")
	}
	return ctrl.Result{}, patchStatus(ctx, r.Client, before, policy)
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

// SetupWithManager registers the controller; Secrets are watched by metadata only.
func (r *AccessPolicyReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.AccessPolicy{}, secretNamesIndex, func(obj client.Object) []string {
		return secretNames(accessPolicySecretRefs(obj.(*v1alpha1.AccessPolicy)))
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.AccessPolicy{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(referencingPolicies(mgr.GetClient(), &v1alpha1.AccessPolicyList{})), builder.OnlyMetadata).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}
