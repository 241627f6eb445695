package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/ssa"
)

// exportFinalizer holds an Access request until its export is deleted from the backup
// destination, so deleting the request early never leaves the export behind.
const exportFinalizer = "helpdesk.privatedesk.io/export"

// defaultExportRetention is how long an export is kept when the request does not say.
const defaultExportRetention = 168 * time.Hour

// dsrInstanceIndex indexes requests by spec.instanceName.
const dsrInstanceIndex = ".spec.instanceName"

// DataSubjectRequestReconciler carries out each DataSubjectRequest once, as a Job, when
// its instance is ready and under no legal hold; reads the Job's result into the status
// and Events (never the personal data); and deletes an Access export when it expires.
type DataSubjectRequestReconciler struct {
	// Workers is how many objects are reconciled at once; 0 means one.
	Workers int
	client.Client
	// APIReader reads the request's Secrets and the pods of finished Jobs, uncached.
	APIReader client.Reader
	Applier   *ssa.Applier
	Resources resources.Options
	Recorder  events.EventRecorder
	// Now is the clock; tests set it.
	Now func() time.Time
	// RetentionProfiles says what data-subject requests mean for an app profile.
	RetentionProfiles retentionProfiles
}

// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=datasubjectrequests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=datasubjectrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=helpdesk.privatedesk.io,resources=datasubjectrequests/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile fetches the request, handles its deletion, moves it one step on and patches
// the status once.
func (r *DataSubjectRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	dsr := &v1alpha1.DataSubjectRequest{}
	if err := r.Get(ctx, req.NamespacedName, dsr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !dsr.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, dsr)
	}
	notStarted := dsr.Status.Phase == "" || dsr.Status.Phase == v1alpha1.DataSubjectPending
	if dsr.Spec.Type == v1alpha1.DataSubjectAccess && notStarted && controllerutil.AddFinalizer(dsr, exportFinalizer) {
		// Stored before a Job can write an export; the update event brings us back.
		return ctrl.Result{}, r.Update(ctx, dsr)
	}
	before := dsr.DeepCopy()
	s := &dsrScope{dsr: dsr, now: r.Now()}
	var err error
	switch dsr.Status.Phase {
	case v1alpha1.DataSubjectSucceeded, v1alpha1.DataSubjectFailed:
		err = r.reconcileExport(ctx, s)
	default:
		err = r.reconcileRun(ctx, s)
	}
	r.recordChanges(before, dsr)
	if patchErr := patchStatus(ctx, r.Client, before, dsr); patchErr != nil {
		return ctrl.Result{}, patchErr
	}
	if err == nil && s.releaseFinalizer && controllerutil.RemoveFinalizer(dsr, exportFinalizer) {
		err = r.Update(ctx, dsr)
	}
	return ctrl.Result{RequeueAfter: s.requeueAfter}, err
}

// dsrScope carries one reconcile's findings.
type dsrScope struct {
	dsr *v1alpha1.DataSubjectRequest
	now time.Time
	// requeueAfter is when time alone calls for the next reconcile (the export's expiry).
	requeueAfter time.Duration
	// releaseFinalizer: the export is gone (or never was), the finalizer may go.
	releaseFinalizer bool
	// pending is why the request waits, for the Event when it changes.
	pending string
}

func (s *dsrScope) requeue(d time.Duration) {
	if d > 0 && (s.requeueAfter == 0 || d < s.requeueAfter) {
		s.requeueAfter = d
	}
}

// subjectHash identifies the subject without naming them: the request's UID salts it,
// so two requests about one person cannot be linked by their hashes, and no table of
// precomputed hashes applies; whoever knows the address can check it.
func subjectHash(uid, address string) string {
	sum := sha256.Sum256([]byte(uid + ":" + strings.ToLower(strings.TrimSpace(address))))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// reconcileDelete removes the export of an Access request before the request goes: the
// request's Job is stopped first, so it cannot write the export after the cleanup.
func (r *DataSubjectRequestReconciler) reconcileDelete(ctx context.Context, dsr *v1alpha1.DataSubjectRequest) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(dsr, exportFinalizer) {
		return ctrl.Result{}, nil
	}
	before := dsr.DeepCopy()
	s := &dsrScope{dsr: dsr, now: r.Now()}
	err := r.deleteExportNow(ctx, s)
	if patchErr := patchStatus(ctx, r.Client, before, dsr); patchErr != nil {
		return ctrl.Result{}, patchErr
	}
	if err == nil && s.releaseFinalizer && controllerutil.RemoveFinalizer(dsr, exportFinalizer) {
		err = r.Update(ctx, dsr)
	}
	return ctrl.Result{RequeueAfter: s.requeueAfter}, err
}

// recordChanges emits an Event when the request starts waiting for something else, and
// counts a request that reached its final phase.
func (r *DataSubjectRequestReconciler) recordChanges(before, dsr *v1alpha1.DataSubjectRequest) {
	final := func(p v1alpha1.DataSubjectRequestPhase) bool {
		return p == v1alpha1.DataSubjectSucceeded || p == v1alpha1.DataSubjectFailed
	}
	if final(dsr.Status.Phase) && !final(before.Status.Phase) && dsr.Status.Result != nil {
		dataSubjectRequestsTotal.WithLabelValues(dsr.Namespace, dsr.Spec.InstanceName, string(dsr.Spec.Type), dsr.Status.Result.Outcome).Inc()
	}
}

// SetupWithManager watches the requests, their Jobs and egress policies, and what they
// wait for: their instance, its RetentionPolicy (a legal hold) and BackupPolicy (the
// export's destination), and the Secrets they reference (by metadata only).
func (r *DataSubjectRequestReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &v1alpha1.DataSubjectRequest{}, dsrInstanceIndex, func(o client.Object) []string {
		return []string{o.(*v1alpha1.DataSubjectRequest).Spec.InstanceName}
	}); err != nil {
		return fmt.Errorf("indexing DataSubjectRequests by instance: %w", err)
	}
	if err := indexer.IndexField(ctx, &v1alpha1.DataSubjectRequest{}, secretNamesIndex, func(o client.Object) []string {
		return secretNames(dsrSecretRefs(o.(*v1alpha1.DataSubjectRequest)))
	}); err != nil {
		return fmt.Errorf("indexing DataSubjectRequests by Secret: %w", err)
	}
	c := mgr.GetClient()
	byInstance := func(ctx context.Context, obj client.Object) []ctrl.Request {
		return requestsOfInstances(ctx, c, obj.GetNamespace(), []string{obj.GetName()})
	}
	byPolicy := func(kind string) handler.MapFunc {
		return func(ctx context.Context, obj client.Object) []ctrl.Request {
			list := &v1alpha1.HelpdeskInstanceList{}
			if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{instancePolicyIndex: kind + "/" + obj.GetName()}); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "listing the instances that reference a policy", "policy", client.ObjectKeyFromObject(obj))
				return nil
			}
			var names []string
			for _, inst := range list.Items {
				names = append(names, inst.Name)
			}
			return requestsOfInstances(ctx, c, obj.GetNamespace(), names)
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.DataSubjectRequest{}).
		Owns(&batchv1.Job{}).
		Owns(&networkingv1.NetworkPolicy{}, builder.OnlyMetadata).
		Watches(&v1alpha1.HelpdeskInstance{}, handler.EnqueueRequestsFromMapFunc(byInstance)).
		Watches(&v1alpha1.RetentionPolicy{}, handler.EnqueueRequestsFromMapFunc(byPolicy("RetentionPolicy"))).
		Watches(&v1alpha1.BackupPolicy{}, handler.EnqueueRequestsFromMapFunc(byPolicy("BackupPolicy"))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(referencingPolicies(c, &v1alpha1.DataSubjectRequestList{})), builder.OnlyMetadata).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}

// requestsOfInstances are the unfinished or export-holding requests naming the instances.
func requestsOfInstances(ctx context.Context, c client.Client, namespace string, instances []string) []ctrl.Request {
	var requests []ctrl.Request
	for _, name := range instances {
		list := &v1alpha1.DataSubjectRequestList{}
		if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{dsrInstanceIndex: name}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing the DataSubjectRequests of an instance", "instance", name)
			return nil
		}
		for i := range list.Items {
			requests = append(requests, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return requests
}

// dsrSecretRefs lists every Secret key the request references.
func dsrSecretRefs(dsr *v1alpha1.DataSubjectRequest) []v1alpha1.SecretKeyReference {
	refs := []v1alpha1.SecretKeyReference{dsr.Spec.Subject.SecretKeyRef}
	for _, f := range dsr.Spec.Rectification {
		refs = append(refs, f.ValueFrom)
	}
	return refs
}
