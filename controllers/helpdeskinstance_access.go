package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// accessState is what one reconcile learns about the instance's access policy.
type accessState struct {
	// policy is the referenced AccessPolicy; nil without one or while it does not exist.
	policy *v1alpha1.AccessPolicy
	// plan is what the policy becomes on this cluster's exposure.
	plan resources.AccessPlan
	// gateProblem says why the gate keeps its last configuration (a missing Secret, a
	// configuration the gate would refuse); nil when it runs the current one.
	gateProblem *problem
	// exposureApplied is true once this reconcile made the routes match the plan.
	exposureApplied bool
	// planned is true once the policy was read and plan computed; until then nothing
	// follows the plan and the access status stays as it was.
	planned bool
	// migrated is true once the database is migrated for the wanted image.
	migrated bool
	// settings is how far the app settings the policy decides are written; nil when
	// none are wanted or the phase did not run.
	settings *problem
	// settingsRan is true once the settings phase decided this reconcile.
	settingsRan bool
}

// reconcileAccessGate runs the access gate of an instance whose policy has spec.sso: its
// ServiceAccount, its Secret (rendered configuration and the cookie keys from Vault), its
// Deployment, rolled by a hash of all it reads, and its Service. While the policy cannot
// be rendered (a referenced Secret is missing, or the gate would refuse the configuration)
// the gate keeps its last configuration and the status says why; without spec.sso the
// gate goes.
func (r *HelpdeskInstanceReconciler) reconcileAccessGate(ctx context.Context, scope *instanceScope) error {
	inst, plan := scope.inst, scope.access.plan
	name := resources.AccessNamesFor(inst).Gate
	if !plan.Gated {
		for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}, &corev1.Secret{}, &corev1.ServiceAccount{}} {
			obj.SetNamespace(inst.Namespace)
			obj.SetName(name)
			if _, err := r.Applier.Delete(ctx, obj); err != nil {
				return err
			}
		}
		return nil
	}
	policy := plan.Policy
	versions, missing, err := r.gateSecretVersions(ctx, inst.Namespace, resources.GateSecretRefs(policy))
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		scope.access.gateProblem = &problem{v1alpha1.ReasonSecretMissing, fmt.Sprintf("AccessPolicy %s: %s; the gate keeps its last configuration",
			policy.Name, missingReferencesMessage(inst.Namespace, missing))}
		return nil
	}
	cfg, err := resources.GateConfig(inst, scope.profile, policy)
	if err != nil {
		scope.access.gateProblem = &problem{v1alpha1.ReasonGateConfigInvalid, fmt.Sprintf("AccessPolicy %s: %s; the gate keeps its last configuration", policy.Name, err)}
		return nil
	}
	in := resources.GateInputs{Secrets: scope.secrets, SecretVersions: versions}
	secret, err := resources.GateSecret(inst, scope.profile, r.Resources, cfg, in)
	if err != nil {
		scope.access.gateProblem = &problem{v1alpha1.ReasonGateConfigInvalid, err.Error() + "; the gate keeps its last configuration"}
		return nil
	}
	for _, obj := range []client.Object{
		resources.GateServiceAccount(inst, scope.profile, r.Resources),
		secret,
		resources.GateDeployment(inst, scope.profile, r.Resources, policy, resources.GateConfigHash(secret, in)),
		resources.GateService(inst, scope.profile, r.Resources),
	} {
		if _, err := r.Applier.Apply(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// gateSecretVersions reads the key names and resourceVersions of the policy's Secrets the
// gate mounts (secretKeys: never their data) and describes the missing ones.
func (r *HelpdeskInstanceReconciler) gateSecretVersions(ctx context.Context, namespace string, refs []v1alpha1.SecretKeyReference) (map[string]string, []string, error) {
	secrets := r.secretKeys
	if secrets == nil {
		secrets = newSecretKeys(nil, r.APIReader)
	}
	versions := map[string]string{}
	var missing []string
	for _, ref := range refs {
		secret, found, err := secrets.get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name})
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("for the access gate: %w", err)
		case !found:
			missing = append(missing, fmt.Sprintf("Secret %q does not exist", ref.Name))
			continue
		}
		if !secret.keys[ref.Key] {
			missing = append(missing, fmt.Sprintf("Secret %q has no key %q", ref.Name, ref.Key))
			continue
		}
		versions[ref.Name] = secret.resourceVersion
	}
	sort.Strings(missing)
	return versions, compact(missing), nil
}

// reconcileExposure applies the app's Service and the routes the access plan asks for,
// and deletes every other route or route policy the instance may have had, in the same
// reconcile: a narrowed or removed allow-list leaves no stale allowance behind. A
// hostname outside the operator's allowed suffixes, or one an older instance already
// serves, gets no route at all: a tenant can never take another tenant's or the
// platform's host.
func (r *HelpdeskInstanceReconciler) reconcileExposure(ctx context.Context, scope *instanceScope) error {
	inst := scope.inst
	if _, err := r.Applier.Apply(ctx, resources.Service(inst, scope.profile, r.Resources)); err != nil {
		return err
	}
	reason, problem := v1alpha1.ReasonHostnameNotAllowed, resources.HostnameProblem(inst, r.Resources)
	if problem == "" {
		owner, err := r.hostnameOwner(ctx, inst)
		if err != nil {
			return err
		}
		if owner != "" {
			reason, problem = v1alpha1.ReasonHostnameConflict, fmt.Sprintf("spec.hostname %q is already served by HelpdeskInstance %s; choose another hostname", inst.Spec.Hostname, owner)
		}
	}
	plan := scope.access.plan
	if problem != "" {
		scope.report(reason, problem+"; the instance is not exposed")
		plan.Exposed = false
		scope.access.plan.Exposed = false
	}
	routes := resources.Exposure(inst, scope.profile, r.Resources, plan)
	if r.exposureAPIMissing(scope, routes) {
		scope.access.plan.Exposed = false
		return nil
	}
	desired := map[string]bool{}
	for _, obj := range routes {
		desired[objectKey(obj)] = true
		if _, err := r.Applier.Apply(ctx, obj); err != nil {
			return err
		}
	}
	for _, obj := range resources.ExposureCandidates(inst) {
		if desired[objectKey(obj)] || !r.exposureKinds.has(obj) {
			continue
		}
		if _, err := r.Applier.Delete(ctx, obj); err != nil {
			return err
		}
	}
	scope.access.exposureApplied = true
	return nil
}

func objectKey(obj client.Object) string {
	return obj.GetObjectKind().GroupVersionKind().Kind + "/" + obj.GetName()
}

// reconcileAccessStatus reports, per part of the access policy, what is enforced on the
// instance (status.access), sums it up in AccessEnforced, and records an Event whenever a
// part's enforcement changes. It only reports, so it runs whatever failed before it.
func (r *HelpdeskInstanceReconciler) reconcileAccessStatus(ctx context.Context, scope *instanceScope) error {
	inst, state := scope.inst, scope.access
	if !state.planned {
		return nil
	}
	previous := inst.Status.Access.DeepCopy()
	if !state.plan.Referenced {
		inst.Status.Access = nil
		meta.RemoveStatusCondition(&inst.Status.Conditions, v1alpha1.ConditionAccessEnforced)
		return nil
	}
	parts := state.plan.Parts
	if s := state.plan.Settings; s != nil && s.Requested {
		p := state.settings
		if !state.settingsRan {
			p = &problem{v1alpha1.ReasonSettingsPending, "the app settings cannot be written before the app's database, keys and migration are in place"}
		}
		if p != nil {
			if s.Extensions && parts.Uploads.State == v1alpha1.AccessPartEnforced {
				parts.Uploads = v1alpha1.AccessPartStatus{State: v1alpha1.AccessPartNotEnforced, Reason: p.reason, Message: "the extension allow-list: " + p.message}
			}
			if s.Captcha && parts.BotProtection.State == v1alpha1.AccessPartEnforced {
				parts.BotProtection = v1alpha1.AccessPartStatus{State: v1alpha1.AccessPartNotEnforced, Reason: p.reason, Message: "the captcha: " + p.message}
			}
		}
	}
	if p := state.gateProblem; p != nil {
		for _, part := range []*v1alpha1.AccessPartStatus{&parts.SSO, &parts.MFA, &parts.Session} {
			if part.State == v1alpha1.AccessPartEnforced {
				*part = v1alpha1.AccessPartStatus{State: v1alpha1.AccessPartNotEnforced, Reason: p.reason, Message: p.message}
			}
		}
	}
	inst.Status.Access = &v1alpha1.AccessStatus{PolicyName: inst.Spec.AccessPolicyRef.Name, Exposure: state.plan.Exposure, AccessEnforcement: parts}

	status, reason, message := metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced, "Every part of AccessPolicy "+inst.Spec.AccessPolicyRef.Name+" is enforced on "+state.plan.Exposure
	var notEnforced []string
	for _, p := range namedParts(parts) {
		if p.status.State == v1alpha1.AccessPartNotEnforced {
			if reason == v1alpha1.ReasonAccessEnforced {
				reason = p.status.Reason
			}
			notEnforced = append(notEnforced, p.name+": "+p.status.Message)
		}
	}
	switch {
	case len(notEnforced) > 0:
		status, message = metav1.ConditionFalse, strings.Join(notEnforced, "; ")
	case !state.exposureApplied:
		status, reason, message = metav1.ConditionFalse, v1alpha1.ReasonProgressing, "The routes are not in place yet"
	case state.plan.Gated:
		available, err := r.gateAvailable(ctx, inst)
		if err != nil {
			return err
		}
		if !available {
			status, reason, message = metav1.ConditionFalse, v1alpha1.ReasonGateNotAvailable,
				"The access gate's pods are not available yet; until they are, the paths it guards answer with an error"
		}
	}
	setCondition(inst, v1alpha1.ConditionAccessEnforced, status, reason, message)
	r.recordAccessChanges(inst, previous, inst.Status.Access)
	return nil
}

// gateAvailable reads the gate Deployment the cluster runs.
func (r *HelpdeskInstanceReconciler) gateAvailable(ctx context.Context, inst *v1alpha1.HelpdeskInstance) (bool, error) {
	d := &appsv1.Deployment{}
	err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.AccessNamesFor(inst).Gate}, d)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= want && d.Status.AvailableReplicas >= want, nil
}

type namedPart struct {
	name   string
	status v1alpha1.AccessPartStatus
}

// namedParts lists the parts in the order a user reads them.
func namedParts(e v1alpha1.AccessEnforcement) []namedPart {
	return []namedPart{{"allowList", e.AllowList}, {"sso", e.SSO}, {"mfa", e.MFA}, {"session", e.Session}, {"uploads", e.Uploads}, {"botProtection", e.BotProtection}}
}

// accessProgressReasons are the reasons a part is not enforced for while it is being put
// in place: nothing is wrong yet.
var accessProgressReasons = map[string]bool{v1alpha1.ReasonSettingsPending: true}

// recordAccessChanges records one Event per reconcile that changed the enforcement of a
// part, when accessEvent says the change calls for one.
func (r *HelpdeskInstanceReconciler) recordAccessChanges(inst *v1alpha1.HelpdeskInstance, before, after *v1alpha1.AccessStatus) {
	if r.Recorder == nil || after == nil {
		return
	}
	if eventType, reason, changes, ok := accessEvent(before, after); ok {
		r.Recorder.Eventf(inst, nil, eventType, reason, "Access", "AccessPolicy %s on %s: %s", after.PolicyName, after.Exposure, strings.Join(changes, ", "))
	}
}

// accessEvent says which Event, if any, the parts' move from before (nil for the first
// report) to after calls for, listing the parts that changed. As for Ready (readyEvent):
// Warning when a part leaves Enforced or stops on a problem (a reason that is not
// progress); nothing while a part not yet enforced is only being put in place, or a new
// instance's settings would raise a Warning for every tenant created; Normal when the
// changed parts are all in force (or no longer asked for).
func accessEvent(before, after *v1alpha1.AccessStatus) (eventType, reason string, changes []string, ok bool) {
	var old []namedPart
	if before != nil {
		old = namedParts(before.AccessEnforcement)
	}
	warn, pending := false, false
	for i, p := range namedParts(after.AccessEnforcement) {
		wasEnforced := false
		if old != nil {
			if old[i].status.State == p.status.State && old[i].status.Reason == p.status.Reason {
				continue
			}
			wasEnforced = old[i].status.State == v1alpha1.AccessPartEnforced
		}
		change := p.name + " " + string(p.status.State)
		if p.status.Reason != "" {
			change += " (" + p.status.Reason + ")"
		}
		changes = append(changes, change)
		if p.status.State == v1alpha1.AccessPartNotEnforced {
			if wasEnforced || !accessProgressReasons[p.status.Reason] {
				warn = true
			} else {
				pending = true
			}
		}
	}
	switch {
	case len(changes) == 0:
		return "", "", nil, false
	case warn:
		return corev1.EventTypeWarning, "AccessNotEnforced", changes, true
	case pending:
		return "", "", nil, false
	}
	return corev1.EventTypeNormal, "AccessEnforced", changes, true
}

// instancesUsingSecret maps a Secret to the instances whose access policy references it,
// so a created, changed or rotated credential re-renders (and rolls) their gates.
func instancesUsingSecret(c client.Client) handler.MapFunc {
	policiesOf := referencingPolicies(c, &v1alpha1.AccessPolicyList{})
	instancesOf := instancesReferencing(c, "AccessPolicy")
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		var requests []ctrl.Request
		for _, p := range policiesOf(ctx, obj) {
			policy := &metav1.PartialObjectMetadata{}
			policy.SetNamespace(p.Namespace)
			policy.SetName(p.Name)
			requests = append(requests, instancesOf(ctx, policy)...)
		}
		return requests
	}
}

// exposureKinds are the kinds, beyond Ingress, that exposures build and whose CRDs the
// cluster had when the operator started: only they are watched and cleaned up. A CRD
// installed later is noticed at the next start.
type exposureKinds map[schema.GroupVersionKind]bool

func installedExposureKinds(mapper meta.RESTMapper) exposureKinds {
	kinds := exposureKinds{}
	candidates := append([]schema.GroupVersionKind{{Group: gatewayv1.GroupName, Version: "v1", Kind: "HTTPRoute"}, resources.TraefikMiddlewareGVK()},
		resources.EnvoyGatewayGVKs()...)
	for _, gvk := range candidates {
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			kinds[gvk] = true
		}
	}
	return kinds
}

// has reports whether obj's kind may be read and deleted here; Ingresses always may.
func (k exposureKinds) has(obj client.Object) bool {
	gvk := obj.GetObjectKind().GroupVersionKind()
	return gvk.Kind == "Ingress" || k[gvk]
}

// objects are empty objects of each installed kind, to watch.
func (k exposureKinds) objects() []client.Object {
	var out []client.Object
	gvks := make([]schema.GroupVersionKind, 0, len(k))
	for gvk := range k {
		gvks = append(gvks, gvk)
	}
	sort.Slice(gvks, func(i, j int) bool { return gvks[i].String() < gvks[j].String() })
	for _, gvk := range gvks {
		if gvk.Group == gatewayv1.GroupName {
			out = append(out, &gatewayv1.HTTPRoute{})
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		out = append(out, u)
	}
	return out
}
