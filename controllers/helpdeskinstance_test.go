package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

func newInstance(ns, name string, mutate ...func(*v1alpha1.HelpdeskInstance)) *v1alpha1.HelpdeskInstance {
	inst := &v1alpha1.HelpdeskInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		// Hostnames are unique across the cluster: every test instance gets its own.
		Spec: v1alpha1.HelpdeskInstanceSpec{Hostname: name + "." + ns + ".example.com"},
	}
	for _, m := range mutate {
		m(inst)
	}
	return inst
}

// get reads obj by its key into itself.
func get(obj client.Object) error {
	return k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
}

func exists(obj client.Object) func() error { return func() error { return get(obj) } }

func gone(obj client.Object) func() error {
	return func() error {
		if err := get(obj); !apierrors.IsNotFound(err) {
			return fmt.Errorf("%T %s still exists (err %w)", obj, obj.GetName(), err)
		}
		return nil
	}
}

// markDatabaseReady plays CloudNativePG, which does not run against the test API server.
func markDatabaseReady(t *testing.T, inst *v1alpha1.HelpdeskInstance) {
	t.Helper()
	cluster := &cnpgv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.NamesFor(inst).DatabaseCluster}}
	eventually(t, wait, exists(cluster))
	cluster.Status.Phase = cnpgv1.PhaseHealthy
	cluster.Status.ReadyInstances = cluster.Spec.Instances
	cluster.Status.Conditions = []metav1.Condition{{Type: string(cnpgv1.ConditionClusterReady), Status: metav1.ConditionTrue, Reason: "ClusterIsReady", LastTransitionTime: metav1.Now()}}
	if err := k8sClient.Status().Update(context.Background(), cluster); err != nil {
		t.Fatalf("marking the database ready: %v", err)
	}
}

// completeMigration plays the Job controller for the instance's migration Job.
func completeMigration(t *testing.T, inst *v1alpha1.HelpdeskInstance) *batchv1.Job {
	t.Helper()
	return finishMigration(t, inst, true)
}

// finishMigration plays the Job controller: the instance's migration Job succeeds or fails.
func finishMigration(t *testing.T, inst *v1alpha1.HelpdeskInstance, succeeded bool) *batchv1.Job {
	t.Helper()
	jobs := &batchv1.JobList{}
	eventually(t, wait, func() error {
		if err := k8sClient.List(context.Background(), jobs, client.InNamespace(inst.Namespace), client.MatchingLabels{resources.LabelComponent: resources.ComponentMigration}); err != nil {
			return err
		}
		if len(jobs.Items) != 1 {
			return fmt.Errorf("want 1 migration Job, found %d", len(jobs.Items))
		}
		return nil
	})
	job := &jobs.Items[0]
	now := time.Now()
	finishJob(t, job, now, now, succeeded)
	return job
}

// markDeploymentAvailable plays the Deployment controller.
func markDeploymentAvailable(t *testing.T, inst *v1alpha1.HelpdeskInstance, replicas int32) {
	t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.NamesFor(inst).App}}
	eventually(t, wait, func() error {
		if err := get(d); err != nil {
			return err
		}
		if ptr.Deref(d.Spec.Replicas, 0) != replicas {
			return fmt.Errorf("deployment asks for %d replicas, want %d", ptr.Deref(d.Spec.Replicas, 0), replicas)
		}
		return nil
	})
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
	if err := k8sClient.Status().Update(context.Background(), d); err != nil {
		t.Fatalf("marking the Deployment available: %v", err)
	}
}

// bringUp creates inst and plays the controllers that are not there until it is Ready.
func bringUp(t *testing.T, inst *v1alpha1.HelpdeskInstance) {
	t.Helper()
	mustCreate(t, inst)
	markDatabaseReady(t, inst)
	completeMigration(t, inst)
	markDeploymentAvailable(t, inst, ptr.Deref(inst.Spec.App.Replicas, 1))
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
}

func TestInstanceBecomesItsChildrenAndItsVaultState(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	inst := newInstance(ns, "acme", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.App.Replicas = ptr.To[int32](2)
		i.Spec.Database.Instances = 3
		i.Spec.TLS = &v1alpha1.TLSSpec{SecretName: "acme-tls"}
	})
	mustCreate(t, inst)
	names := resources.NamesFor(inst)

	// Before the database is ready: perimeter, database, storage, secrets and exposure
	// exist, but no pod may run the app with Helpy's seeded admin password.
	for _, np := range []string{names.PolicyDefaultDeny, names.PolicyDNS, names.PolicyApp, names.PolicyJobs, names.PolicyDatabase} {
		eventually(t, wait, exists(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: np}}))
	}
	cluster := &cnpgv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.DatabaseCluster}}
	eventually(t, wait, exists(cluster))
	if cluster.Spec.Instances != 3 || cluster.Spec.Bootstrap == nil || cluster.Spec.Bootstrap.InitDB == nil || cluster.Spec.Bootstrap.InitDB.Database != "helpy" {
		t.Errorf("Cluster spec: instances %d, bootstrap %+v; want 3 instances and initdb of database helpy", cluster.Spec.Instances, cluster.Spec.Bootstrap)
	}
	appSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.AppSecret}}
	eventually(t, wait, exists(appSecret))
	for _, obj := range []client.Object{
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.Attachments}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.App}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.App}},
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.App}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.VaultCA}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.AppConfigMapName(inst)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.BackupServiceAccount}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.RestoreServiceAccount}},
	} {
		eventually(t, wait, exists(obj))
		if !metav1.IsControlledBy(obj, inst) {
			t.Errorf("%T %s is not owned by the instance", obj, obj.GetName())
		}
		for _, label := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"} {
			if obj.GetLabels()[label] == "" {
				t.Errorf("%T %s has no %s label", obj, obj.GetName(), label)
			}
		}
	}
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonWaitingForDatabase))
	// No Deployment before the migration: none to start pods, none to apply twice.
	if err := get(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.App}}); !apierrors.IsNotFound(err) {
		t.Errorf("the app Deployment exists before the database was migrated (err %v)", err)
	}

	// The database comes up: the migration runs, the app starts only after it.
	markDatabaseReady(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionDatabaseReady, metav1.ConditionTrue, v1alpha1.ReasonClusterReady))
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonMigrating))
	job := completeMigration(t, inst)
	if job.Spec.Template.Spec.ServiceAccountName != names.App {
		t.Errorf("the migration Job runs as %q, want the instance's ServiceAccount %q", job.Spec.Template.Spec.ServiceAccountName, names.App)
	}
	markDeploymentAvailable(t, inst, 2)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))

	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.App}}
	if err := get(deployment); err != nil {
		t.Fatal(err)
	}
	if deployment.Spec.Template.Annotations[resources.AnnotationConfigHash] == "" {
		t.Error("the app pods carry no config hash")
	}
	if err := get(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.DatabaseAppSecret}}); !apierrors.IsNotFound(err) {
		t.Errorf("the operator wrote CloudNativePG's app Secret itself (err %v)", err)
	}
	eventually(t, wait, exists(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.AppSecret}}))
	if err := get(&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.App}}); err != nil {
		t.Errorf("no PodDisruptionBudget for 2 replicas: %v", err)
	}

	// Status: URL, key name and version, every condition at this generation.
	if inst.Status.URL != "https://acme."+ns+".example.com" {
		t.Errorf("status.url = %q", inst.Status.URL)
	}
	keyName := vault.KeyName("helpdesk", ns, "acme")
	if inst.Status.Encryption == nil || inst.Status.Encryption.KeyName != keyName || inst.Status.Encryption.LatestKeyVersion != 1 {
		t.Errorf("status.encryption = %+v, want key %s version 1", inst.Status.Encryption, keyName)
	}
	for _, conditionType := range []string{v1alpha1.ConditionDatabaseReady, v1alpha1.ConditionAppReady, v1alpha1.ConditionEncryptionReady, v1alpha1.ConditionNetworkIsolated} {
		if !meta.IsStatusConditionTrue(inst.Status.Conditions, conditionType) {
			t.Errorf("%s is not True: %v", conditionType, meta.FindStatusCondition(inst.Status.Conditions, conditionType))
		}
	}

	// Vault: the key as specified, and a role per workload bound to its own ServiceAccount.
	root := vaultSrv.Client(t)
	key, err := root.Logical().ReadWithContext(ctx, "transit/keys/"+keyName)
	if err != nil || key == nil {
		t.Fatalf("reading transit key %s: %v", keyName, err)
	}
	if key.Data["type"] != "aes256-gcm96" || key.Data["exportable"] != false || fmt.Sprint(key.Data["auto_rotate_period"]) != "2592000" {
		t.Errorf("transit key: type %v exportable %v auto_rotate_period %v; want aes256-gcm96, false, 2592000 (720h)", key.Data["type"], key.Data["exportable"], key.Data["auto_rotate_period"])
	}
	for w, sa := range map[vault.Workload]string{vault.WorkloadBackup: names.BackupServiceAccount, vault.WorkloadRestore: names.RestoreServiceAccount} {
		role, err := root.Logical().ReadWithContext(ctx, "auth/kubernetes/role/"+vault.RoleName("helpdesk", ns, "acme", w))
		if err != nil || role == nil {
			t.Fatalf("reading the Kubernetes auth role of %s: %v", w, err)
		}
		if fmt.Sprint(role.Data["bound_service_account_names"]) != "["+sa+"]" || fmt.Sprint(role.Data["bound_service_account_namespaces"]) != "["+ns+"]" ||
			fmt.Sprint(role.Data["token_policies"]) != "[helpdesk-tenant-"+string(w)+"]" || role.Data["audience"] != "vault" {
			t.Errorf("role of %s = %v, want bound to [%s] in [%s] with its tenant policy and the Vault audience", w, role.Data, sa, ns)
		}
		account := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}
		if err := get(account); err != nil || account.Annotations[vault.ServiceAccountAnnotation(vault.MetadataInstance)] != "acme" {
			t.Errorf("ServiceAccount %s: %v, annotations %v", sa, err, account.Annotations)
		}
	}
	if role, err := root.Logical().ReadWithContext(ctx, "auth/kubernetes/role/"+vault.RoleName("helpdesk", ns, "acme", vault.WorkloadApp)); err != nil || role != nil {
		t.Errorf("an app role exists with Secret delivery (err %v)", err)
	}

	// No secret value in status or events.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.AppSecret}}
	if err := get(secret); err != nil {
		t.Fatal(err)
	}
	status := fmt.Sprintf("%+v", inst.Status)
	for key, value := range secret.Data {
		if len(value) == 0 || strings.Contains(status, string(value)) {
			t.Errorf("secret %s is empty or shows in the status", key)
		}
		for _, e := range recorder.of(ns, "acme") {
			if strings.Contains(e.message, string(value)) {
				t.Errorf("secret %s shows in event %s", key, e.reason)
			}
		}
	}
}

// TestTenantCannotUseAnotherTenantsKey logs in as the pods of tenant A do (projected
// token, the workload's role) and tries tenant B's key and secrets. The two namespaces
// ("x-y"/"z" style names that dashes would have joined) and the instance names are chosen
// so that the old <prefix>-<namespace>-<name> scheme gave both tenants one key.
func TestTenantCannotUseAnotherTenantsKey(t *testing.T) {
	ctx := context.Background()
	nsA := newNamespace(t)
	nsB := newNamespace(t)
	// nsA-"b-desk" and nsA+"-b"/"desk" joined with dashes would name the same key.
	a := newInstance(nsA, "b-desk")
	b := newInstance(nsA+"-b", "desk")
	mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.Namespace}})
	c := newInstance(nsB, "desk")
	for _, inst := range []*v1alpha1.HelpdeskInstance{a, b, c} {
		mustCreate(t, inst)
		eventually(t, wait, conditionIs(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))
		eventually(t, wait, exists(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.NamesFor(inst).RestoreServiceAccount}}))
	}
	if a.Status.Encryption.KeyName == b.Status.Encryption.KeyName {
		t.Fatalf("tenants %s/%s and %s/%s share key %s", a.Namespace, a.Name, b.Namespace, b.Name, a.Status.Encryption.KeyName)
	}
	backupA, err := vaultLogin(t, a, vault.WorkloadBackup)
	if err != nil {
		t.Fatal(err)
	}
	restoreA, err := vaultLogin(t, a, vault.WorkloadRestore)
	if err != nil {
		t.Fatal(err)
	}
	plaintext := map[string]any{"plaintext": "aGVscGRlc2s="}
	if _, err := backupA.Logical().WriteWithContext(ctx, "transit/encrypt/"+a.Status.Encryption.KeyName, plaintext); err != nil {
		t.Errorf("tenant A's backup cannot encrypt with its own key: %v", err)
	}
	for _, other := range []*v1alpha1.HelpdeskInstance{b, c} {
		key := other.Status.Encryption.KeyName
		if _, err := backupA.Logical().WriteWithContext(ctx, "transit/encrypt/"+key, plaintext); !vault.IsPermissionDenied(err) {
			t.Errorf("tenant A's backup encrypting with %s/%s's key: %v, want permission denied", other.Namespace, other.Name, err)
		}
		sealed, err := vaultSrv.Client(t).Logical().WriteWithContext(ctx, "transit/encrypt/"+key, plaintext)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := restoreA.Logical().WriteWithContext(ctx, "transit/decrypt/"+key, map[string]any{"ciphertext": sealed.Data["ciphertext"]}); !vault.IsPermissionDenied(err) {
			t.Errorf("tenant A's restore decrypting %s/%s's data: %v, want permission denied", other.Namespace, other.Name, err)
		}
		if _, err := restoreA.Logical().ReadWithContext(ctx, "secret/data/"+vault.SecretsPath("helpdesk", other.Namespace, other.Name)); !vault.IsPermissionDenied(err) {
			t.Errorf("tenant A reading %s/%s's secrets: %v, want permission denied", other.Namespace, other.Name, err)
		}
	}
}

func TestDeletionPoliciesLeaveVaultAsPromised(t *testing.T) {
	ctx := context.Background()
	root := vaultSrv.Client(t)
	cases := []struct {
		policy              v1alpha1.DeletionPolicy
		keyKept, secretKept bool
		event               string
	}{
		{v1alpha1.DeletionPolicyRetain, true, true, "AccessRevoked"},
		{v1alpha1.DeletionPolicyDelete, true, false, "SecretsDeleted"},
		{v1alpha1.DeletionPolicyShred, false, false, "KeyShredded"},
	}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			inst := newInstance(newNamespace(t), "gone", func(i *v1alpha1.HelpdeskInstance) { i.Spec.DeletionPolicy = tc.policy })
			mustCreate(t, inst)
			eventually(t, wait, conditionIs(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))
			keyName := inst.Status.Encryption.KeyName
			kvPath := "secret/data/" + vault.SecretsPath("helpdesk", inst.Namespace, inst.Name)
			if err := k8sClient.Delete(ctx, inst); err != nil {
				t.Fatal(err)
			}
			eventually(t, wait, gone(inst))

			key, err := root.Logical().ReadWithContext(ctx, "transit/keys/"+keyName)
			if err != nil || (key != nil) != tc.keyKept {
				t.Errorf("transit key present = %v (err %v), want %v", key != nil, err, tc.keyKept)
			}
			secrets, err := root.Logical().ReadWithContext(ctx, kvPath)
			if err != nil || (secrets != nil && secrets.Data["data"] != nil) != tc.secretKept {
				t.Errorf("app secrets present = %v (err %v), want %v", secrets != nil, err, tc.secretKept)
			}
			for _, w := range vault.Workloads {
				path := "auth/kubernetes/role/" + vault.RoleName("helpdesk", inst.Namespace, inst.Name, w)
				if obj, err := root.Logical().ReadWithContext(ctx, path); err != nil || obj != nil {
					t.Errorf("%s still exists after deletion (err %v)", path, err)
				}
			}
			record, err := root.Logical().ReadWithContext(ctx, "secret/data/"+vault.OwnerPath("helpdesk", inst.Namespace, inst.Name))
			if err != nil || (record != nil) != tc.keyKept {
				t.Errorf("ownership record present = %v (err %v), want it exactly while the key is kept", record != nil, err)
			}
			events := recorder.of(inst.Namespace, inst.Name)
			found := false
			for _, e := range events {
				found = found || e.reason == tc.event
			}
			if !found {
				t.Errorf("no %s event among %+v", tc.event, events)
			}
		})
	}
}

func TestVaultOutageIsReportedAndRecovered(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(newNamespace(t), "outage")
	bringUp(t, inst)
	names := resources.NamesFor(inst)

	if err := vaultSrv.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = vaultSrv.Restart()
		}
	}()
	// Within the recheck interval nothing asks Vault; once it is due, the outage shows.
	vaultClock.advance(2 * time.Hour)
	touch(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionFalse, vault.ReasonUnavailable))
	if err := conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, vault.ReasonUnavailable)(); err != nil {
		t.Error(err)
	}
	// Nothing already running is torn down.
	for _, obj := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: names.App}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: names.AppSecret}},
		&cnpgv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: names.DatabaseCluster}},
	} {
		if err := get(obj); err != nil || !obj.GetDeletionTimestamp().IsZero() {
			t.Errorf("%T %s is gone or going during the outage: %v", obj, obj.GetName(), err)
		}
	}

	if err := vaultSrv.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	// No touch: the controller's backoff brings it back by itself.
	eventually(t, 60*time.Second, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
	_ = ctx
}

func TestDriftIsRepairedAndANoOpReconcileWritesNothing(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(newNamespace(t), "drift")
	bringUp(t, inst)
	names := resources.NamesFor(inst)

	// A hand edit of a managed field is reverted.
	service := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: names.App}}
	if err := get(service); err != nil {
		t.Fatal(err)
	}
	want := service.Spec.Ports[0].TargetPort
	service.Spec.Ports[0].TargetPort = intstr.FromInt32(9999)
	if err := k8sClient.Update(ctx, service); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		if err := get(service); err != nil {
			return err
		}
		if service.Spec.Ports[0].TargetPort != want {
			return fmt.Errorf("service targetPort is %v, want it put back to %v", service.Spec.Ports[0].TargetPort, want)
		}
		return nil
	})

	// A deleted child is put back.
	policy := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: names.PolicyDefaultDeny}}
	if err := k8sClient.Delete(ctx, policy); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		fresh := &networkingv1.NetworkPolicy{ObjectMeta: policy.ObjectMeta}
		if err := get(fresh); err != nil {
			return err
		}
		if fresh.UID == policy.UID {
			return fmt.Errorf("the deleted policy is still the old one")
		}
		return nil
	})

	// With everything in place, a reconcile writes nothing, not a child, not the status,
	// and asks Vault nothing.
	settle(t)
	before, calls := writes.snapshot(), vaultCalls.count()
	touch(t, inst)
	settle(t)
	after := writes.snapshot()
	for path, n := range after {
		if strings.Contains(path, "/namespaces/"+inst.Namespace+"/") && n != before[path] {
			t.Errorf("a reconcile with nothing to change wrote %s %d times", path, n-before[path])
		}
	}
	if n := vaultCalls.count() - calls; n != 0 {
		t.Errorf("a reconcile with nothing new for Vault made %d Vault requests", n)
	}
	// Once the recheck is due, Vault is asked again (reads only: nothing changed there).
	vaultClock.advance(2 * time.Hour)
	calls = vaultCalls.count()
	touch(t, inst)
	eventually(t, wait, func() error {
		if vaultCalls.count() == calls {
			return fmt.Errorf("no Vault request after the recheck was due")
		}
		return nil
	})
}

// touch changes an annotation, which makes the controller reconcile without changing
// anything it manages.
func touch(t *testing.T, inst *v1alpha1.HelpdeskInstance) {
	t.Helper()
	if err := get(inst); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(inst.DeepCopy())
	if inst.Annotations == nil {
		inst.Annotations = map[string]string{}
	}
	inst.Annotations["test/touched"] = time.Now().Format(time.RFC3339Nano)
	if err := k8sClient.Patch(context.Background(), inst, patch); err != nil {
		t.Fatal(err)
	}
}

// settle waits until the manager has made no write for longer than a policy waits
// before summing up its instances (policySummaryDelay): a summary still pending would
// otherwise write after settle returned.
func settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(wait + policySummaryDelay)
	last, quietSince := writes.snapshot(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		now := writes.snapshot()
		if fmt.Sprint(now) != fmt.Sprint(last) {
			last, quietSince = now, time.Now()
			continue
		}
		if time.Since(quietSince) > policySummaryDelay {
			return
		}
	}
	t.Fatal("the manager kept writing")
}

// TestMissingPolicyHoldsReadyUntilItExists: a referenced policy that does not exist keeps the
// instance from Ready with a message naming the field; creating the policy is noticed
// through the policy watch alone.
func TestMissingPolicyHoldsReadyUntilItExists(t *testing.T) {
	ns := newNamespace(t)
	inst := newInstance(ns, "guarded", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.AccessPolicyRef = &v1alpha1.LocalObjectReference{Name: "agents-only"}
	})
	mustCreate(t, inst)
	markDatabaseReady(t, inst)
	completeMigration(t, inst)
	markDeploymentAvailable(t, inst, 1)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPolicyNotFound))
	if msg := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, `spec.accessPolicyRef names AccessPolicy "agents-only", which does not exist`) {
		t.Errorf("Ready message %q does not name the reference", msg)
	}
	names := resources.NamesFor(inst)
	for _, name := range []string{names.App, resources.AccessNamesFor(inst).AgentRoute} {
		if err := get(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); !apierrors.IsNotFound(err) {
			t.Errorf("Ingress %s exists while the access policy does not (err %v)", name, err)
		}
	}
	mustCreate(t, &v1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agents-only"}})
	// The policy exists now. Left empty it still requires MFA (the default), which nothing
	// can verify without SSO: the portal is served, the agent paths refuse every client.
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonMFANeedsSSO))
	if msg := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "agent paths are not exposed") {
		t.Errorf("Ready message %q does not say the agent paths are closed", msg)
	}
	eventually(t, wait, exists(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.App}}))
	agent := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.AccessNamesFor(inst).AgentRoute}}
	eventually(t, wait, exists(agent))
	if got := agent.Annotations[resources.AnnotationNginxAllowList]; got != "0.0.0.0/32,::/128" {
		t.Errorf("the closed agent Ingress admits %q, want no client at all", got)
	}
}
