package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/ssa"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// vaultFinalizer holds an instance until its Vault state is handled per its deletion
// policy; Kubernetes garbage collection handles the children in the cluster.
const vaultFinalizer = "helpdesk.privatedesk.io/vault"

// TenantVault is what the instance controller needs from Vault (internal/vault.Client).
type TenantVault interface {
	EnsureTenant(ctx context.Context, t vault.Tenant) (vault.TenantStatus, error)
	EnsureAppSecrets(ctx context.Context, t vault.Tenant, specs []vault.SecretSpec) (map[string][]byte, error)
	DeleteTenant(ctx context.Context, t vault.Tenant, policy vault.DeletionPolicy) (vault.DeleteResult, error)
	RetainedKey(ctx context.Context, namespace, name string) (bool, error)
	Leftovers(namespace, name string) []string
	// Crypto-shredding (helpdeskinstance_keytrim.go).
	KeyVersions(ctx context.Context, namespace, name string) (*vault.KeyVersions, error)
	TrimKey(ctx context.Context, namespace, name string, minVersion int) (*vault.KeyVersions, error)
}

// HelpdeskInstanceReconciler turns a HelpdeskInstance into its database, application,
// storage, exposure, network perimeter and Vault state.
type HelpdeskInstanceReconciler struct {
	// Workers is how many objects are reconciled at once; 0 means one.
	Workers int
	client.Client
	// APIReader reads the pods of a finished restore Job, uncached.
	APIReader client.Reader
	Applier   *ssa.Applier
	Vault     TenantVault
	Resources resources.Options
	Recorder  events.EventRecorder
	// VaultStates spares Vault the requests of reconciles with nothing new for it.
	VaultStates *vaultStates
	// exposureKinds are the exposure kinds whose CRDs were installed at start.
	exposureKinds exposureKinds
	// RetentionProfiles says what retention means for an app profile; nil uses the
	// profiles' own (appprofile.RetentionFor).
	RetentionProfiles retentionProfiles
	// KeyTrims remembers the crypto-shredding checks made, so Vault is asked again only
	// when something changed or the next check is due.
	KeyTrims *keyTrimChecks
	// cnpgMissing: CloudNativePG's Cluster CRD was not installed at start (preflight.go).
	cnpgMissing bool
	// secretKeys reads the key names of the access policy's Secrets (set up with the
	// manager; uncached without it).
	secretKeys *secretKeys
}

// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=helpdeskinstances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=helpdeskinstances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=helpdeskinstances/finalizers,verbs=update
// +kubebuilder:rbac:groups=postgresql.cnpg.io,resources=clusters,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts;persistentvolumeclaims;secrets;configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=traefik.io,resources=middlewares,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.envoyproxy.io,resources=securitypolicies;backendtrafficpolicies,verbs=get;list;watch;create;update;patch;delete

// Reconcile fetches the instance, handles its deletion, runs the phases in order and
// patches the status once.
func (r *HelpdeskInstanceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	inst := &v1alpha1.HelpdeskInstance{}
	if err := r.Get(ctx, req.NamespacedName, inst); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !inst.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, inst)
	}
	if controllerutil.AddFinalizer(inst, vaultFinalizer) {
		// The finalizer must be stored before anything is created in Vault; the update
		// event brings us back.
		return ctrl.Result{}, r.Update(ctx, inst)
	}

	before := inst.DeepCopy()
	scope := &instanceScope{inst: inst}
	err := r.runPhases(ctx, scope)
	summarizeReady(inst, scope.problems)
	r.recordReadyChange(before, inst)
	if patchErr := patchStatus(ctx, r.Client, before, inst); patchErr != nil {
		return ctrl.Result{}, errors.Join(err, patchErr)
	}
	// Time-driven work only (the next Vault check); everything else is watched.
	return ctrl.Result{RequeueAfter: scope.requeueAfter}, err
}

// Phase names, for the requires lists below.
const (
	phasePolicies      = "PolicyReferences"
	phaseNetwork       = "NetworkIsolated"
	phaseEncryption    = "EncryptionReady"
	phaseRestoreSource = "RestoreSource"
	phasePrerequisites = "PodPrerequisites"
	phaseDatabase      = "Database"
	phaseApp           = "App"
	phaseExposure      = "Exposure"
	phaseBackups       = "Backups"
	phaseAccessGate    = "AccessGate"
	phaseAccessStatus  = "AccessStatus"
	phaseAppSettings   = "AppSettings"
	phaseRetention     = "Retention"
	phaseKeyTrim       = "CryptoShredding"
)

// phase is one step of a reconcile. A phase that starts pods (or exposes them) runs only
// when the phases it requires succeeded in this same reconcile: no database, Job or app
// pod ever starts outside the instance's network perimeter or without its keys. A phase
// that only reports runs regardless, so that one outage (Vault, say) never holds back or
// tears down what does not depend on it; a skipped phase leaves what runs as it is.
type phase struct {
	name     string
	run      func(context.Context, *instanceScope) error
	requires []string
	// condition, when set, says on the instance that the phase waits.
	condition string
}

// phases in the order they run; each sets its conditions.
func (r *HelpdeskInstanceReconciler) phases() []phase {
	podSafety := []string{phaseNetwork, phaseEncryption, phaseRestoreSource, phasePrerequisites}
	return []phase{
		{name: phasePolicies, run: r.reconcilePolicyReferences},
		// The perimeter, the gate and the routes follow the access policy: when it cannot be
		// read, they stay as they are rather than fall back to no policy at all.
		{name: phaseNetwork, run: r.reconcileNetwork, requires: []string{phasePolicies}},
		{name: phaseEncryption, run: r.reconcileEncryption},
		{name: phaseRestoreSource, run: r.reconcileRestoreSource},
		{name: phasePrerequisites, run: r.reconcilePodPrerequisites, requires: []string{phaseRestoreSource}},
		{name: phaseDatabase, run: r.reconcileDatabase, requires: []string{phaseNetwork}, condition: v1alpha1.ConditionDatabaseReady},
		{name: phaseApp, run: r.reconcileApp, requires: append(podSafety, phaseDatabase), condition: v1alpha1.ConditionAppReady},
		{name: phaseAppSettings, run: r.reconcileAppSettings, requires: append(podSafety, phasePolicies, phaseApp)},
		{name: phaseAccessGate, run: r.reconcileAccessGate, requires: []string{phasePolicies, phaseNetwork, phaseEncryption}},
		{name: phaseExposure, run: r.reconcileExposure, requires: []string{phaseNetwork}},
		{name: phaseBackups, run: r.reconcileBackups, requires: podSafety},
		{name: phaseRetention, run: r.reconcileRetention, requires: podSafety},
		{name: phaseKeyTrim, run: r.reconcileKeyTrim, requires: []string{phaseEncryption}},
		{name: phaseAccessStatus, run: r.reconcileAccessStatus},
	}
}

func (r *HelpdeskInstanceReconciler) runPhases(ctx context.Context, scope *instanceScope) error {
	profile, err := appprofile.For(scope.inst.Spec.App.Profile)
	if err != nil {
		markStalled(scope.inst, v1alpha1.ReasonInvalidSpec, "spec.app.profile: "+err.Error())
		return reconcile.TerminalError(err)
	}
	clearStalled(scope.inst)
	scope.profile = profile
	scope.inst.Status.URL = resources.SiteURL(scope.inst)
	scope.inst.Status.DatabaseCluster = resources.NamesFor(scope.inst).DatabaseCluster

	failed := map[string]bool{}
	var errs []error
	for _, p := range r.phases() {
		if blocker := firstFailed(p.requires, failed); blocker != "" {
			failed[p.name] = true
			if p.condition != "" {
				setCondition(scope.inst, p.condition, metav1.ConditionFalse, v1alpha1.ReasonBlockedBy,
					fmt.Sprintf("Waiting for %s: nothing of this phase starts until it succeeds; what already runs is left as it is", blocker))
			}
			continue
		}
		if err := p.run(ctx, scope); err != nil {
			failed[p.name] = true
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func firstFailed(requires []string, failed map[string]bool) string {
	for _, name := range requires {
		if failed[name] {
			return name
		}
	}
	return ""
}

// instanceScope carries what one reconcile learned from phase to phase.
type instanceScope struct {
	inst    *v1alpha1.HelpdeskInstance
	profile appprofile.Profile
	// secrets are the app secrets from Vault; nil while Vault cannot be read.
	secrets map[string][]byte
	// databaseReady is true once the CloudNativePG cluster reports itself ready.
	databaseReady bool
	// problems describe what keeps the instance from being Ready though every phase ran:
	// missing policies, a hostname it may not use, egress it may not have.
	problems []problem
	// restoreSource is the other instance of the namespace whose key the restore may
	// decrypt while it runs; empty when there is none, or the restore is over.
	restoreSource string
	// restoreSourceMissing describes a spec.restoreFrom.instanceName that resolves to
	// nothing; the restore waits.
	restoreSourceMissing string
	// requeueAfter is when time alone calls for the next reconcile; 0 when it does not.
	requeueAfter time.Duration
	// access is the access policy and what it becomes here (helpdeskinstance_access.go).
	access accessState
}

// requeue asks for a reconcile after d at the latest.
func (s *instanceScope) requeue(d time.Duration) {
	if d > 0 && (s.requeueAfter == 0 || d < s.requeueAfter) {
		s.requeueAfter = d
	}
}

// problem is a reason and message for Ready.
type problem struct{ reason, message string }

func (s *instanceScope) report(reason, message string) {
	s.problems = append(s.problems, problem{reason, message})
}

// tenant is the instance as internal/vault sees it.
func (s *instanceScope) tenant() vault.Tenant {
	t := vault.Tenant{
		Namespace: s.inst.Namespace, Name: s.inst.Name, UID: string(s.inst.UID),
		ServiceAccounts: resources.VaultServiceAccounts(s.inst),
		// Restoring the instance's own earlier backups is the documented way to take over
		// the key and secrets an earlier instance of this name left behind.
		AdoptRetained: restoresItself(s.inst),
	}
	if rotation := s.inst.Spec.Encryption.KeyRotationPeriod; rotation != nil {
		t.RotationPeriod = rotation.Duration
	}
	return t
}

// instancePolicyIndex indexes instances by "<kind>/<name>" of the policies they reference.
const instancePolicyIndex = ".spec.policyRefs"

// instanceHostnameIndex indexes instances by spec.hostname, across namespaces.
const instanceHostnameIndex = ".spec.hostname"

// instanceRestoreSourceIndex indexes instances by spec.restoreFrom.instanceName.
const instanceRestoreSourceIndex = ".spec.restoreFrom.instanceName"

// childInstanceIndex indexes the Jobs, CronJobs and NetworkPolicies an instance lists
// (migrations, settings, backups, retention) by their instance label: a label selector
// alone makes the cache test every object of the namespace, which with all tenants in
// one namespace made each reconcile cost as much as there are instances.
const childInstanceIndex = ".metadata.labels.instance"

// ofInstance lists only inst's children among those indexed by childInstanceIndex.
func ofInstance(inst *v1alpha1.HelpdeskInstance) client.MatchingFields {
	return client.MatchingFields{childInstanceIndex: resources.InstanceLabel(inst)}
}

func instanceLabel(obj client.Object) []string {
	if v, ok := obj.GetLabels()[resources.LabelHelpdeskInstance]; ok {
		return []string{v}
	}
	return nil
}

// restoringFrom maps an instance to the instances of its namespace restoring from it: its
// creation (or its deletion, which may leave a retained key) decides their restore source.
func restoringFrom(c client.Client) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		list := &v1alpha1.HelpdeskInstanceList{}
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{instanceRestoreSourceIndex: obj.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing the instances that restore from an instance", "instance", client.ObjectKeyFromObject(obj))
			return nil
		}
		requests := make([]ctrl.Request, 0, len(list.Items))
		for _, other := range list.Items {
			requests = append(requests, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&other)})
		}
		return requests
	}
}

// sameHostname maps an instance to the other instances asking for its hostname: when one
// goes or comes, who may serve it can change.
func sameHostname(c client.Client) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		list := &v1alpha1.HelpdeskInstanceList{}
		if err := c.List(ctx, list, client.MatchingFields{instanceHostnameIndex: obj.(*v1alpha1.HelpdeskInstance).Spec.Hostname}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing the instances that share a hostname", "instance", client.ObjectKeyFromObject(obj))
			return nil
		}
		var requests []ctrl.Request
		for _, other := range list.Items {
			if other.UID != obj.GetUID() {
				requests = append(requests, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&other)})
			}
		}
		return requests
	}
}

func policyReferences(obj client.Object) []string {
	spec := obj.(*v1alpha1.HelpdeskInstance).Spec
	var refs []string
	if spec.AccessPolicyRef != nil {
		refs = append(refs, "AccessPolicy/"+spec.AccessPolicyRef.Name)
	}
	if spec.RetentionPolicyRef != nil {
		refs = append(refs, "RetentionPolicy/"+spec.RetentionPolicyRef.Name)
	}
	if spec.BackupPolicyRef != nil {
		refs = append(refs, "BackupPolicy/"+spec.BackupPolicyRef.Name)
	}
	return refs
}

// instancesReferencing maps a policy of kind to the instances in its namespace naming it.
func instancesReferencing(c client.Client, kind string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []ctrl.Request {
		list := &v1alpha1.HelpdeskInstanceList{}
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{instancePolicyIndex: kind + "/" + obj.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing the instances that reference a policy", "policy", client.ObjectKeyFromObject(obj))
			return nil
		}
		requests := make([]ctrl.Request, 0, len(list.Items))
		for _, inst := range list.Items {
			requests = append(requests, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&inst)})
		}
		return requests
	}
}

// specOrStalledChanged passes a policy's update when its spec (generation) or its Stalled
// condition changed, all the instances read of it. The rest of its status follows the
// instances (status.instances): passing those updates on would reconcile every instance
// of the policy each time one of them changed, N² reconciles for N instances.
var specOrStalledChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil || e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
		return true
	}
	old, okOld := e.ObjectOld.(conditioned)
	now, okNew := e.ObjectNew.(conditioned)
	if !okOld || !okNew {
		return true
	}
	return meta.IsStatusConditionTrue(old.GetConditions(), v1alpha1.ConditionStalled) != meta.IsStatusConditionTrue(now.GetConditions(), v1alpha1.ConditionStalled)
}}

// SetupWithManager watches the instances, every child they own (Secrets by metadata
// only), and the policies they reference.
func (r *HelpdeskInstanceReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.HelpdeskInstance{}, instancePolicyIndex, policyReferences); err != nil {
		return fmt.Errorf("indexing instances by policy: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.HelpdeskInstance{}, instanceHostnameIndex, func(obj client.Object) []string {
		return []string{obj.(*v1alpha1.HelpdeskInstance).Spec.Hostname}
	}); err != nil {
		return fmt.Errorf("indexing instances by hostname: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.HelpdeskInstance{}, instanceRestoreSourceIndex, func(obj client.Object) []string {
		if src := obj.(*v1alpha1.HelpdeskInstance).Spec.RestoreFrom; src != nil && src.InstanceName != "" {
			return []string{src.InstanceName}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing instances by restore source: %w", err)
	}
	for _, obj := range []client.Object{&batchv1.Job{}, ssa.Metadata(batchv1.SchemeGroupVersion.WithKind("CronJob")),
		ssa.Metadata(networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"))} {
		if err := mgr.GetFieldIndexer().IndexField(ctx, obj, childInstanceIndex, instanceLabel); err != nil {
			return fmt.Errorf("indexing %T by instance: %w", obj, err)
		}
	}
	c := mgr.GetClient()
	r.secretKeys = newSecretKeys(c, r.APIReader)
	b := ctrl.NewControllerManagedBy(mgr)
	// The exposure kinds whose CRDs are installed (helpdeskinstance_access.go).
	r.exposureKinds = installedExposureKinds(mgr.GetRESTMapper())
	// A child's periodic resync is no news: the instance's own resync reconciles it once,
	// not once per child.
	changed := builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})
	for _, obj := range r.exposureKinds.objects() {
		b = b.Owns(obj, changed)
	}
	// The instances' and backup policies' metrics are read from this manager's cache.
	statusMetrics.use(mgr.GetCache(), mgr.Elected(), time.Now)
	// Without CloudNativePG's CRD the manager still starts; instances say what is missing.
	if r.cnpgMissing = !kindInstalled(mgr.GetRESTMapper(), cnpgClusterGVK); !r.cnpgMissing {
		b = b.Owns(&cnpgv1.Cluster{}, changed)
	}
	return b.
		For(&v1alpha1.HelpdeskInstance{}).
		Owns(&appsv1.Deployment{}, changed).
		Owns(&batchv1.Job{}, changed).
		Owns(&batchv1.CronJob{}, builder.OnlyMetadata, changed).
		Owns(&corev1.Service{}, builder.OnlyMetadata, changed).
		Owns(&corev1.ServiceAccount{}, builder.OnlyMetadata, changed).
		Owns(&corev1.PersistentVolumeClaim{}, builder.OnlyMetadata, changed).
		Owns(&corev1.Secret{}, builder.OnlyMetadata, changed).
		Owns(&corev1.ConfigMap{}, builder.OnlyMetadata, changed).
		Owns(&networkingv1.Ingress{}, changed).
		Owns(&networkingv1.NetworkPolicy{}, builder.OnlyMetadata, changed).
		Owns(&policyv1.PodDisruptionBudget{}, builder.OnlyMetadata, changed).
		Watches(&v1alpha1.HelpdeskInstance{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []ctrl.Request {
			return append(sameHostname(c)(ctx, obj), restoringFrom(c)(ctx, obj)...)
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.AccessPolicy{}, handler.EnqueueRequestsFromMapFunc(instancesReferencing(c, "AccessPolicy")),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(instancesUsingSecret(c)), builder.OnlyMetadata, changed).
		Watches(&v1alpha1.RetentionPolicy{}, handler.EnqueueRequestsFromMapFunc(instancesReferencing(c, "RetentionPolicy")),
			builder.WithPredicates(specOrStalledChanged)).
		Watches(&v1alpha1.BackupPolicy{}, handler.EnqueueRequestsFromMapFunc(instancesReferencing(c, "BackupPolicy"))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}
