package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// reconcilePolicyReferences checks that the policies the instance names exist; a missing
// one keeps the instance from being Ready but holds nothing else back.
func (r *HelpdeskInstanceReconciler) reconcilePolicyReferences(ctx context.Context, scope *instanceScope) error {
	spec := scope.inst.Spec
	refs := []struct {
		field, kind string
		ref         *v1alpha1.LocalObjectReference
		obj         client.Object
	}{
		{"spec.accessPolicyRef", "AccessPolicy", spec.AccessPolicyRef, &v1alpha1.AccessPolicy{}},
		{"spec.retentionPolicyRef", "RetentionPolicy", spec.RetentionPolicyRef, &v1alpha1.RetentionPolicy{}},
		{"spec.backupPolicyRef", "BackupPolicy", spec.BackupPolicyRef, &v1alpha1.BackupPolicy{}},
	}
	for _, ref := range refs {
		if ref.ref == nil {
			continue
		}
		err := readPolicy(ctx, r.Client, client.ObjectKey{Namespace: scope.inst.Namespace, Name: ref.ref.Name}, ref.obj)
		switch {
		case apierrors.IsNotFound(err):
			scope.report(v1alpha1.ReasonPolicyNotFound, fmt.Sprintf("%s names %s %q, which does not exist", ref.field, ref.kind, ref.ref.Name))
		case err != nil:
			return fmt.Errorf("reading %s %s: %w", ref.field, ref.ref.Name, err)
		case ref.kind == "AccessPolicy":
			scope.access.policy = ref.obj.(*v1alpha1.AccessPolicy)
		}
	}
	// What the access policy becomes on this cluster's exposure; the phases that build the
	// perimeter, the gate and the routes follow it.
	scope.access.plan = resources.PlanAccess(scope.inst, scope.access.policy, scope.profile, r.Resources)
	scope.access.planned = true
	for _, p := range scope.access.plan.Problems {
		scope.report(v1alpha1.ReasonEgressNotAllowed, p)
	}
	return nil
}

// reconcileNetwork applies the default-deny perimeter before anything runs in it. Egress
// the operator's bounds refuse is left out of it and reported.
func (r *HelpdeskInstanceReconciler) reconcileNetwork(ctx context.Context, scope *instanceScope) error {
	for _, problem := range resources.EgressProblems(scope.inst, r.Resources) {
		scope.report(v1alpha1.ReasonEgressNotAllowed, problem+"; that egress stays closed")
	}
	for _, policy := range resources.NetworkPolicies(scope.inst, scope.profile, r.Resources, scope.access.plan) {
		if _, err := r.Applier.Apply(ctx, policy); err != nil {
			setCondition(scope.inst, v1alpha1.ConditionNetworkIsolated, metav1.ConditionFalse, v1alpha1.ReasonApplyFailed,
				fmt.Sprintf("NetworkPolicy %s could not be applied; the instance is not isolated until it is: %s", policy.Name, apiReason(err)))
			return err
		}
	}
	if !scope.access.plan.Gated {
		if _, err := r.Applier.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: scope.inst.Namespace, Name: resources.AccessNamesFor(scope.inst).Gate}}); err != nil {
			return err
		}
	}
	setCondition(scope.inst, v1alpha1.ConditionNetworkIsolated, metav1.ConditionTrue, v1alpha1.ReasonNetworkPoliciesReady,
		"Every pod of the instance is denied all traffic but its allowed flows")
	return nil
}

// reconcileEncryption makes sure the instance's transit key, policy, Kubernetes auth role
// and app secrets exist in Vault. When Vault fails, the condition says so and the rest
// of the instance carries on as it is.
func (r *HelpdeskInstanceReconciler) reconcileEncryption(ctx context.Context, scope *instanceScope) error {
	tenant := scope.tenant()
	specs := make([]vault.SecretSpec, 0, len(scope.profile.Secrets))
	for _, s := range scope.profile.Secrets {
		specs = append(specs, vault.SecretSpec{Key: s.Key, Length: s.Length})
	}
	// The access gate's cookie keys live with them, whether a gate runs yet or not.
	specs = append(specs, resources.GateVaultSecrets()...)
	uid, asked := scope.inst.UID, digest(tenant, specs)
	if known, left, ok := r.VaultStates.lookup(uid, asked); ok {
		scope.secrets = known.secrets
		scope.requeue(left)
		r.encryptionReady(scope, known.status)
		return nil
	}
	state, err := r.Vault.EnsureTenant(ctx, tenant)
	if err == nil {
		scope.secrets, err = r.Vault.EnsureAppSecrets(ctx, tenant, specs)
	}
	if err != nil {
		r.VaultStates.forget(uid)
		setCondition(scope.inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionFalse, vault.Reason(err), vault.ConditionMessage(err))
		return err
	}
	if state.Adopted && r.Recorder != nil {
		r.Recorder.Eventf(scope.inst, nil, corev1.EventTypeNormal, "AdoptedRetainedKey", "Encryption",
			"Took over transit key %s and the app secrets an earlier instance of this name left in Vault, as spec.restoreFrom asks", state.KeyName)
	}
	scope.requeue(r.VaultStates.remember(uid, asked, state, scope.secrets))
	r.encryptionReady(scope, state)
	return nil
}

func (r *HelpdeskInstanceReconciler) encryptionReady(scope *instanceScope, state vault.TenantStatus) {
	statusMetrics.observeKey(scope.inst, state)
	enc := &v1alpha1.EncryptionStatus{KeyName: state.KeyName, LatestKeyVersion: state.LatestVersion}
	if old := scope.inst.Status.Encryption; old != nil {
		// Crypto-shredding's record (helpdeskinstance_keytrim.go) stays.
		enc.MinDecryptionVersion, enc.Trims = old.MinDecryptionVersion, old.Trims
	}
	scope.inst.Status.Encryption = enc
	setCondition(scope.inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady,
		"The transit key, the workloads' Kubernetes auth roles and the app secrets are in Vault")
}

// reconcileDatabase applies the CloudNativePG cluster and reads its readiness.
func (r *HelpdeskInstanceReconciler) reconcileDatabase(ctx context.Context, scope *instanceScope) error {
	if r.cloudNativePGMissing(scope) {
		return nil
	}
	desired := resources.Cluster(scope.inst, scope.profile, r.Resources)
	if _, err := r.Applier.Apply(ctx, desired); err != nil {
		setCondition(scope.inst, v1alpha1.ConditionDatabaseReady, metav1.ConditionFalse, v1alpha1.ReasonApplyFailed,
			"The CloudNativePG Cluster could not be applied (is CloudNativePG installed?): "+apiReason(err))
		return err
	}
	cluster := &cnpgv1.Cluster{}
	if err := r.Get(ctx, client.ObjectKeyFromObject(desired), cluster); err != nil {
		return client.IgnoreNotFound(err)
	}
	ready := meta.FindStatusCondition(cluster.Status.Conditions, string(cnpgv1.ConditionClusterReady))
	switch {
	case ready != nil && ready.Status == metav1.ConditionTrue:
		scope.databaseReady = true
		setCondition(scope.inst, v1alpha1.ConditionDatabaseReady, metav1.ConditionTrue, v1alpha1.ReasonClusterReady,
			fmt.Sprintf("CloudNativePG reports %d of %d instances ready", cluster.Status.ReadyInstances, desired.Spec.Instances))
	case cluster.Status.Phase == "":
		setCondition(scope.inst, v1alpha1.ConditionDatabaseReady, metav1.ConditionFalse, v1alpha1.ReasonClusterProvisioning,
			fmt.Sprintf("Waiting for CloudNativePG to start Cluster %s", cluster.Name))
	default:
		setCondition(scope.inst, v1alpha1.ConditionDatabaseReady, metav1.ConditionFalse, v1alpha1.ReasonClusterNotReady,
			fmt.Sprintf("CloudNativePG reports %q with %d of %d instances ready", cluster.Status.Phase, cluster.Status.ReadyInstances, desired.Spec.Instances))
	}
	return nil
}

// reconcilePodPrerequisites applies what the pods of the instance need before they start:
// the attachments volume, the ServiceAccounts of its workloads (the restore one naming
// the restore source while a restore from another instance runs), Vault's CA when private,
// and the app profile's config files.
func (r *HelpdeskInstanceReconciler) reconcilePodPrerequisites(ctx context.Context, scope *instanceScope) error {
	objects := []client.Object{resources.AttachmentsPVC(scope.inst, scope.profile, r.Resources)}
	for _, sa := range resources.ServiceAccounts(scope.inst, scope.profile, r.Resources, scope.restoreSource) {
		objects = append(objects, sa)
	}
	for _, obj := range objects {
		if _, err := r.Applier.Apply(ctx, obj); err != nil {
			return err
		}
	}
	// ConfigMaps the pods mount: Vault's CA when private, the profile's config files.
	for name, cm := range map[string]*corev1.ConfigMap{
		resources.NamesFor(scope.inst).VaultCA: resources.VaultCAConfigMap(scope.inst, scope.profile, r.Resources),
		resources.AppConfigMapName(scope.inst): resources.AppConfigMap(scope.inst, scope.profile, r.Resources),
	} {
		var err error
		if cm != nil {
			_, err = r.Applier.Apply(ctx, cm)
		} else {
			_, err = r.Applier.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: scope.inst.Namespace, Name: name}})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// reconcileApp delivers the app secrets, migrates the database for the wanted image, and
// only then lets that image serve: until the migration Job (which also replaces the
// seeded admin password) has succeeded, a new instance runs no pod and an upgraded one
// keeps its previous Deployment.
func (r *HelpdeskInstanceReconciler) reconcileApp(ctx context.Context, scope *instanceScope) error {
	if r.appImageMissing(scope) {
		return nil
	}
	inst, names := scope.inst, resources.NamesFor(scope.inst)
	appReady := func(status metav1.ConditionStatus, reason, message string) {
		setCondition(inst, v1alpha1.ConditionAppReady, status, reason, message)
	}
	if secret := resources.AppSecret(inst, scope.profile, r.Resources, scope.secrets); secret != nil {
		if _, err := r.Applier.Apply(ctx, secret); err != nil {
			return err
		}
	} else if _, err := r.Applier.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: names.AppSecret}}); err != nil {
		return err
	}

	// An instance created from a backup migrates (and serves) the restored data only.
	if restored, err := r.reconcileRestore(ctx, scope, appReady); err != nil || !restored {
		return err
	}
	migrated, err := r.reconcileMigration(ctx, scope, appReady)
	scope.access.migrated = migrated
	// Until then there is no Deployment to apply (an upgraded instance keeps its old one):
	// one made early with no replicas would cost a write now and another at the migration.
	if err != nil || !migrated {
		return err
	}
	current := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: names.App}, current); client.IgnoreNotFound(err) != nil {
		return err
	}

	databaseSecret := &metav1.PartialObjectMetadata{}
	databaseSecret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: names.DatabaseAppSecret}, databaseSecret); client.IgnoreNotFound(err) != nil {
		return err
	}
	settings, err := r.appliedSettings(ctx, inst)
	if err != nil {
		return err
	}
	// The first start waits for the settings the access policy asks for: started without
	// them, the app would serve uploads and forms the policy refuses, then roll once they
	// are written (it caches settings per pod). A running app keeps running and rolls then.
	if current.UID == "" && settings == nil && scope.access.plan.Settings != nil && scope.access.plan.Settings.Requested {
		appReady(metav1.ConditionFalse, v1alpha1.ReasonWaitingForSettings,
			"Waiting for the app settings the access policy asks for before the app's first start (see AccessEnforced)")
		return nil
	}
	hash := resources.ConfigHash(scope.profile, resources.ConfigInputs{AppSecrets: scope.secrets, DatabaseSecretVersion: databaseSecret.ResourceVersion, Settings: settings})
	desired := resources.Deployment(inst, scope.profile, r.Resources, hash)
	if _, err := r.Applier.Apply(ctx, desired); err != nil {
		appReady(metav1.ConditionFalse, v1alpha1.ReasonApplyFailed, "The Deployment could not be applied: "+apiReason(err))
		return err
	}
	if pdb := resources.PodDisruptionBudget(inst, scope.profile, r.Resources); pdb != nil {
		if _, err := r.Applier.Apply(ctx, pdb); err != nil {
			return err
		}
	} else if _, err := r.Applier.Delete(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: names.App}}); err != nil {
		return err
	}
	reportDeployment(current, *desired.Spec.Replicas, appReady)
	return nil
}

// reconcileMigration runs the migration Job of the wanted image once the database is
// ready, and reports whether it has succeeded.
func (r *HelpdeskInstanceReconciler) reconcileMigration(ctx context.Context, scope *instanceScope, appReady func(metav1.ConditionStatus, string, string)) (bool, error) {
	desired := resources.MigrationJob(scope.inst, scope.profile, r.Resources)
	job := &batchv1.Job{}
	err := r.Get(ctx, client.ObjectKeyFromObject(desired), job)
	switch {
	case apierrors.IsNotFound(err):
		if !scope.databaseReady {
			appReady(metav1.ConditionFalse, v1alpha1.ReasonWaitingForDatabase, "Waiting for the database before migrating it (see DatabaseReady)")
			return false, nil
		}
		// A Job's pod template is immutable: it is created once per image, never re-applied.
		if _, err := r.Applier.Apply(ctx, desired); err != nil {
			return false, err
		}
		appReady(metav1.ConditionFalse, v1alpha1.ReasonMigrating, fmt.Sprintf("Migration Job %s started", desired.Name))
		return false, nil
	case err != nil:
		return false, err
	}
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return true, r.deleteOldMigrations(ctx, scope, job.Name)
	case jobCondition(job, batchv1.JobFailed):
		appReady(metav1.ConditionFalse, v1alpha1.ReasonMigrationFailed,
			fmt.Sprintf("Migration Job %s failed; read its logs (kubectl logs job/%s), fix the cause, then delete the Job to retry", job.Name, job.Name))
	default:
		appReady(metav1.ConditionFalse, v1alpha1.ReasonMigrating, fmt.Sprintf("Migration Job %s is running", job.Name))
	}
	return false, nil
}

// deleteOldMigrations removes the finished migration Jobs of earlier images.
func (r *HelpdeskInstanceReconciler) deleteOldMigrations(ctx context.Context, scope *instanceScope, keep string) error {
	jobs := &batchv1.JobList{}
	selector := resources.InstanceSelector(scope.inst)
	selector[resources.LabelComponent] = resources.ComponentMigration
	if err := r.List(ctx, jobs, client.InNamespace(scope.inst.Namespace), ofInstance(scope.inst), client.MatchingLabels(selector)); err != nil {
		return err
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if job.Name == keep || !metav1.IsControlledBy(job, scope.inst) {
			continue
		}
		if _, err := r.Applier.Delete(ctx, job); err != nil {
			return err
		}
	}
	return nil
}

func jobCondition(job *batchv1.Job, conditionType batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == conditionType && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// reportDeployment sets AppReady from the Deployment the cluster runs.
func reportDeployment(d *appsv1.Deployment, replicas int32, appReady func(metav1.ConditionStatus, string, string)) {
	switch {
	case replicas == 0:
		appReady(metav1.ConditionTrue, v1alpha1.ReasonScaledToZero, "spec.app.replicas is 0: the helpdesk is stopped")
	case d.UID != "" && d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= replicas && d.Status.AvailableReplicas >= replicas:
		appReady(metav1.ConditionTrue, v1alpha1.ReasonAvailable, fmt.Sprintf("%d of %d pods are available", d.Status.AvailableReplicas, replicas))
	default:
		appReady(metav1.ConditionFalse, v1alpha1.ReasonDeploymentProgressing, fmt.Sprintf("%d of %d pods are available", d.Status.AvailableReplicas, replicas))
	}
}

// hostnameOwner is the instance that owns inst's hostname when it is not inst itself: the
// oldest instance asking for it (ties by namespace and name), in every watched namespace.
func (r *HelpdeskInstanceReconciler) hostnameOwner(ctx context.Context, inst *v1alpha1.HelpdeskInstance) (string, error) {
	list := &v1alpha1.HelpdeskInstanceList{}
	if err := r.List(ctx, list, client.MatchingFields{instanceHostnameIndex: inst.Spec.Hostname}); err != nil {
		return "", fmt.Errorf("listing the instances that use hostname %s: %w", inst.Spec.Hostname, err)
	}
	owner := inst
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == inst.UID || !other.DeletionTimestamp.IsZero() {
			continue
		}
		if older(other, owner) {
			owner = other
		}
	}
	if owner == inst {
		return "", nil
	}
	return owner.Namespace + "/" + owner.Name, nil
}

func older(a, b *v1alpha1.HelpdeskInstance) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// summarizeReady sets Ready from the specific conditions, in the order a user would fix
// them, after the problems no condition covers.
func summarizeReady(inst *v1alpha1.HelpdeskInstance, problems []problem) {
	if meta.IsStatusConditionTrue(inst.Status.Conditions, v1alpha1.ConditionStalled) {
		return
	}
	if len(problems) > 0 {
		messages := make([]string, 0, len(problems))
		for _, p := range problems {
			messages = append(messages, p.message)
		}
		setCondition(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, problems[0].reason, strings.Join(messages, "; "))
		return
	}
	required := []string{v1alpha1.ConditionNetworkIsolated, v1alpha1.ConditionEncryptionReady, v1alpha1.ConditionDatabaseReady, v1alpha1.ConditionAppReady}
	if inst.Spec.AccessPolicyRef != nil {
		required = append(required, v1alpha1.ConditionAccessEnforced)
	}
	for _, conditionType := range required {
		c := meta.FindStatusCondition(inst.Status.Conditions, conditionType)
		if c == nil {
			setCondition(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonProgressing, conditionType+" is not known yet")
			return
		}
		if c.Status != metav1.ConditionTrue {
			setCondition(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, c.Reason, conditionType+": "+c.Message)
			return
		}
	}
	setCondition(inst, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "The helpdesk is serving at "+inst.Status.URL)
}

// apiReason is the API server's message for a failed write, without transport details
// that would change from one attempt to the next.
func apiReason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return "the API server could not be reached"
}
