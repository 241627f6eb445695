package controllers

import (
	"context"
	"errors"
	"fmt"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
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
	DeleteTenant(ctx context.Context, t vault.Tenant, policy vault.DeletionPolicy) error
}

// HelpdeskInstanceReconciler turns a HelpdeskInstance into its database, application,
// storage, exposure, network perimeter and Vault state.
type HelpdeskInstanceReconciler struct {
	client.Client
	// APIReader reads the pods of a finished restore Job, uncached.
	APIReader client.Reader
	Applier   *ssa.Applier
	Vault     TenantVault
	Resources resources.Options
	Recorder  events.EventRecorder
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
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

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
	summarizeReady(inst, scope.missingPolicies)
	r.recordReadyChange(before, inst)
	if patchErr := patchStatus(ctx, r.Client, before, inst); patchErr != nil {
		return ctrl.Result{}, errors.Join(err, patchErr)
	}
	return ctrl.Result{}, err
}

// phases in the order they run; each sets its conditions. A phase that fails on something
// transient records the error and later phases still run, so that one outage (Vault,
// say) never holds back or tears down what does not depend on it.
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

	phases := []func(context.Context, *instanceScope) error{
		r.reconcilePolicyReferences,
		r.reconcileNetwork,
		r.reconcileEncryption,
		r.reconcileDatabase,
		r.reconcilePodPrerequisites,
		r.reconcileApp,
		r.reconcileExposure,
		r.reconcileBackups,
	}
	var errs []error
	for _, phase := range phases {
		if err := phase(ctx, scope); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// instanceScope carries what one reconcile learned from phase to phase.
type instanceScope struct {
	inst    *v1alpha1.HelpdeskInstance
	profile appprofile.Profile
	// secrets are the app secrets from Vault; nil while Vault cannot be read.
	secrets map[string][]byte
	// databaseReady is true once the CloudNativePG cluster reports itself ready.
	databaseReady bool
	// missingPolicies describes referenced policies that do not exist.
	missingPolicies []string
}

func (s *instanceScope) tenant() vault.Tenant {
	rotation := s.inst.Spec.Encryption.KeyRotationPeriod
	t := vault.Tenant{Namespace: s.inst.Namespace, Name: s.inst.Name, ServiceAccount: resources.NamesFor(s.inst).App}
	if rotation != nil {
		t.RotationPeriod = rotation.Duration
	}
	// Decrypting another instance's backups is granted only until the restore is done.
	if restore := s.inst.Spec.RestoreFrom; restore != nil && !restoreSucceeded(s.inst) {
		t.RestoreFrom = restore.InstanceName
	}
	return t
}

// instancePolicyIndex indexes instances by "<kind>/<name>" of the policies they reference.
const instancePolicyIndex = ".spec.policyRefs"

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

// SetupWithManager watches the instances, every child they own (Secrets by metadata
// only), and the policies they reference.
func (r *HelpdeskInstanceReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.HelpdeskInstance{}, instancePolicyIndex, policyReferences); err != nil {
		return fmt.Errorf("indexing instances by policy: %w", err)
	}
	c := mgr.GetClient()
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.HelpdeskInstance{}).
		Owns(&cnpgv1.Cluster{}).
		Owns(&appsv1.Deployment{}).
		Owns(&batchv1.Job{}).
		Owns(&batchv1.CronJob{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&corev1.Secret{}, builder.OnlyMetadata).
		Owns(&corev1.ConfigMap{}, builder.OnlyMetadata).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Watches(&v1alpha1.AccessPolicy{}, handler.EnqueueRequestsFromMapFunc(instancesReferencing(c, "AccessPolicy"))).
		Watches(&v1alpha1.RetentionPolicy{}, handler.EnqueueRequestsFromMapFunc(instancesReferencing(c, "RetentionPolicy"))).
		Watches(&v1alpha1.BackupPolicy{}, handler.EnqueueRequestsFromMapFunc(instancesReferencing(c, "BackupPolicy"))).
		Complete(r)
}
