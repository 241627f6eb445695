//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// ageHeader starts every file the backup engine encrypts (age's format, file keys wrapped
// by Vault transit).
const ageHeader = "age-encryption.org/v1"

// tenantBackup is a backup of tenant A taken once for the backup tests, after a marker
// row went into A's users table, so that a restore of it can be checked for the row.
type tenantBackup struct {
	run    jobRun
	id     string
	marker string
}

var firstBackup = fixture[tenantBackup]{name: "tenant A's first backup"}

func firstBackupOfA(t *testing.T) tenantBackup {
	t.Helper()
	return firstBackup.get(t, func(t *testing.T) tenantBackup {
		a := readyTenants(t).a
		marker := "e2e-marker-" + proc.RandomHex(4) + "@example.com"
		psql(t, a.inst, fmt.Sprintf("INSERT INTO users (email, password_digest) VALUES ('%s', 'not-a-password')", marker))
		run := runCronJob(t, a.inst.Namespace, resources.BackupNamesFor(a.inst).BackupCronJob)
		if !run.succeeded {
			t.Fatalf("the backup of %s/%s failed: %s\n%s", a.inst.Namespace, a.inst.Name, run, describe(a.inst.Namespace))
		}
		return tenantBackup{run: run, id: run.result(t).ID, marker: marker}
	})
}

// TestBackupToS3: a run of tenant A's backup CronJob logs in to Vault with its projected
// token and its own role, writes encrypted objects to the S3 gateway below
// <prefix><namespace>/<instance>/, and the BackupPolicy's status records it. The backup
// reaching the database also proves that the instance's Jobs get through its perimeter.
func TestBackupToS3(t *testing.T) {
	a := tenants(t).a
	b := firstBackupOfA(t)
	ctx := context.Background()
	t.Logf("%s", b.run)

	// The pod: the backup ServiceAccount, a token for Vault's audience, the backup role.
	pod := b.run.pod
	role := vault.RoleName(vaultPrefix, a.inst.Namespace, a.inst.Name, vault.WorkloadBackup)
	names := resources.NamesFor(a.inst)
	if pod.Spec.ServiceAccountName != names.BackupServiceAccount {
		t.Errorf("the backup pod runs as %q, want %q", pod.Spec.ServiceAccountName, names.BackupServiceAccount)
	}
	if aud := projectedTokenAudience(pod); aud != "vault" {
		t.Errorf("the backup pod's projected token is for audience %q, want vault", aud)
	}
	args := pod.Spec.Containers[0].Args
	if !slices.Contains(args, "--vault-k8s-role="+role) || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--vault-token") }) {
		t.Errorf("the backup logs in with %v, want Kubernetes auth with role %s and no token", args, role)
	}
	// Its pg_dump verified the server's certificate with CloudNativePG's CA.
	if !slices.Contains(args, "--db-sslmode=verify-full") {
		t.Errorf("the backup connects to the database with %v, want --db-sslmode=verify-full", args)
	}
	if c := pod.Spec.Containers[0]; c.Image != cluster.Images.Postgres {
		t.Errorf("the backup runs in %q, want the PostgreSQL image %q (its pg_dump)", c.Image, cluster.Images.Postgres)
	}
	for _, s := range pod.Status.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			t.Errorf("init container %s (copies the operator binary into the pod): %+v", s.Name, s.State)
		}
	}
	// The role in Vault binds exactly that ServiceAccount and audience to the backup policy.
	secret, err := vaultAdmin.Logical().ReadWithContext(ctx, "auth/kubernetes/role/"+role)
	if err != nil || secret == nil {
		t.Fatalf("Vault role %s: %v (missing: %t)", role, err, secret == nil)
	}
	for field, want := range map[string]string{
		"bound_service_account_names":      "[" + names.BackupServiceAccount + "]",
		"bound_service_account_namespaces": "[" + a.inst.Namespace + "]",
		"audience":                         "vault",
		"token_policies":                   "[" + vault.TenantPolicyName(vaultPrefix, vault.WorkloadBackup) + "]",
	} {
		if got := fmt.Sprint(secret.Data[field]); got != want {
			t.Errorf("Vault role %s: %s = %s, want %s", role, field, got, want)
		}
	}

	// The objects: all below the instance's folder, the data encrypted, the manifest
	// naming the instance and its key.
	objects := listObjects(t, a.bucket, "")
	for name := range objects {
		if strings.Contains(name, b.id) && !strings.HasPrefix(name, a.folder()) {
			t.Errorf("backup %s wrote %s, outside the instance's folder %s", b.id, name, a.folder())
		}
	}
	manifest := a.folder() + "manifests/" + b.id + ".json"
	data := []string{a.folder() + "backups/" + b.id + "/database.dump.zst.age", a.folder() + "backups/" + b.id + "/attachments.tar.zst.age"}
	for _, name := range append([]string{manifest}, data...) {
		if _, ok := objects[name]; !ok {
			t.Errorf("backup %s lacks object %s; the bucket holds:\n%s", b.id, name, objects)
		}
	}
	for _, name := range data {
		if head := readObjectStart(t, a.bucket, name, len(ageHeader)); string(head) != ageHeader {
			t.Errorf("%s starts with %q, want the age header %q: not encrypted", name, head, ageHeader)
		}
	}
	var m struct {
		Instance   struct{ Namespace, Name string }
		Encryption struct{ KeyName string }
		Signature  string
	}
	if err := json.Unmarshal(readObjectStart(t, a.bucket, manifest, 1<<20), &m); err != nil {
		t.Fatalf("manifest %s: %v", manifest, err)
	}
	if m.Instance.Namespace != a.inst.Namespace || m.Instance.Name != a.inst.Name || m.Encryption.KeyName != a.keyName() || m.Signature == "" {
		t.Errorf("manifest %s: %+v; want instance %s/%s, key %s, a signature", manifest, m, a.inst.Namespace, a.inst.Name, a.keyName())
	}

	// The status.
	var rec v1alpha1.BackupRecord
	policy := waitPolicy(t, a.policy, "recentBackups with "+b.id, func(st v1alpha1.BackupPolicyStatus) bool {
		i := slices.IndexFunc(st.RecentBackups, func(r v1alpha1.BackupRecord) bool { return r.ID == b.id })
		if i >= 0 {
			rec = st.RecentBackups[i]
		}
		return i >= 0
	})
	if rec.Instance != a.inst.Name || rec.Result != "Succeeded" || rec.SizeBytes <= 0 {
		t.Errorf("status.recentBackups has %+v; want instance %s, Succeeded, a size", rec, a.inst.Name)
	}
	// lastSuccessfulBackup is this backup, or one of A's taken since (when the test runs late).
	if last := policy.Status.LastSuccessfulBackup; last == nil || last.Result != "Succeeded" || last.CompletionTime.Before(rec.CompletionTime) {
		t.Errorf("status.lastSuccessfulBackup = %+v, want %s or a newer one", last, b.id)
	}

	// The instance restored from this backup starts now: its database comes up while the
	// next tests run.
	restoredInstance(t)
}

// projectedTokenAudience is the audience of the pod's projected ServiceAccount token.
func projectedTokenAudience(pod *corev1.Pod) string {
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return src.ServiceAccountToken.Audience
			}
		}
	}
	return ""
}

// TestRestoreDrill: a run of the drill CronJob restores tenant A's newest backup into a
// throwaway PostgreSQL server inside its own pod, compares it with the manifest, passes,
// and the policy's status.lastDrill says so.
func TestRestoreDrill(t *testing.T) {
	a := tenants(t).a
	firstBackupOfA(t)
	run := runCronJob(t, a.inst.Namespace, resources.BackupNamesFor(a.inst).DrillCronJob)
	t.Logf("%s", run)
	if !run.succeeded {
		t.Fatalf("the drill failed: %s\n%s", run, describe(a.inst.Namespace))
	}
	res := run.result(t)
	if res.Passed == nil || !*res.Passed {
		t.Fatalf("the drill's result does not say passed: %s", run.message)
	}
	if sa := run.pod.Spec.ServiceAccountName; sa != resources.NamesFor(a.inst).RestoreServiceAccount {
		t.Errorf("the drill runs as %q, want the restore ServiceAccount (decrypt, never encrypt)", sa)
	}
	// Its throwaway server, never the instance's: it gets no database to connect to.
	if args := run.pod.Spec.Containers[0].Args; slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--db-host") }) {
		t.Errorf("the drill is given the instance's database: %v", args)
	}
	policy := waitPolicy(t, a.policy, "lastDrill of backup "+res.ID, func(st v1alpha1.BackupPolicyStatus) bool {
		return st.LastDrill != nil && st.LastDrill.BackupID == res.ID
	})
	if d := policy.Status.LastDrill; d.Result != "Passed" || d.Instance != a.inst.Name {
		t.Errorf("status.lastDrill = %+v, want Passed for instance %s", d, a.inst.Name)
	}
}

var restored = fixture[*v1alpha1.HelpdeskInstance]{name: "the instance restored from tenant A's backup"}

// restoredInstance is a new instance of tenant A's namespace created from A's first
// backup (spec.restoreFrom naming A), with A's BackupPolicy (so the two share a backup
// destination) and deletionPolicy Shred. It is created once and returned at once.
func restoredInstance(t *testing.T) *v1alpha1.HelpdeskInstance {
	t.Helper()
	return restored.get(t, func(t *testing.T) *v1alpha1.HelpdeskInstance {
		a := tenants(t).a
		b := firstBackupOfA(t)
		inst, err := sampleInstance(a.inst.Namespace, a.inst.Name+"-restored")
		if err != nil {
			t.Fatal(err)
		}
		inst.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupPolicyName: a.policy.Name, InstanceName: a.inst.Name, BackupID: b.id}
		inst.Spec.DeletionPolicy = v1alpha1.DeletionPolicyShred
		if err := cluster.Client.Create(context.Background(), inst); err != nil {
			t.Fatal(err)
		}
		return inst
	}).DeepCopy()
}

// readyRestored waits until the restored instance's restore succeeded and its app runs.
func readyRestored(t *testing.T) *v1alpha1.HelpdeskInstance {
	t.Helper()
	inst := restoredInstance(t)
	err := framework.Eventually(context.Background(), databaseTimeout, 5*time.Second, func(ctx context.Context) (bool, string, error) {
		got := &v1alpha1.HelpdeskInstance{}
		if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
			return false, "", err
		}
		st := got.Status.Restore
		if st == nil {
			return false, "no status.restore yet", nil
		}
		if st.Phase == v1alpha1.RestorePhaseFailed {
			return false, "", fmt.Errorf("the restore failed: %s", st.Message)
		}
		return st.Phase == v1alpha1.RestorePhaseSucceeded, fmt.Sprintf("%s: %s", st.Phase, st.Message), nil
	})
	if err != nil {
		t.Fatalf("restore of %s/%s: %v\n%s", inst.Namespace, inst.Name, err, describe(inst.Namespace))
	}
	waitCondition(t, inst, v1alpha1.ConditionAppReady, appTimeout)
	return inst
}

// TestRestoreFromBackup: a new instance whose spec.restoreFrom names tenant A and A's
// backup gets that backup restored into its new database before its migration and app
// start (the migration finds an existing database), holds the row inserted into A before
// the backup, and once restored its restore ServiceAccount no longer names A (the grant
// to decrypt with A's key ends) and its way out to the destination is closed.
func TestRestoreFromBackup(t *testing.T) {
	b := firstBackupOfA(t)
	inst := readyRestored(t)
	ctx := context.Background()
	got := getInstance(t, inst)
	if got.Status.Restore.BackupID != b.id {
		t.Errorf("status.restore.backupID = %q, want %q", got.Status.Restore.BackupID, b.id)
	}
	if n := psql(t, inst, fmt.Sprintf("SELECT count(*) FROM users WHERE email = '%s'", b.marker)); n != "1" {
		t.Errorf("the restored database has %s rows with the marker %s, want 1", n, b.marker)
	}

	// Order: the restore Job completed before the migration Job and the app's pods existed.
	restore := &batchv1.Job{}
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.BackupNamesFor(inst).RestoreJob}, restore); err != nil {
		t.Fatal(err)
	}
	if restore.Status.CompletionTime == nil {
		t.Fatalf("restore Job %s has no completion time: %+v", restore.Name, restore.Status)
	}
	restoredAt := restore.Status.CompletionTime.Time
	for _, component := range []string{resources.ComponentMigration, resources.ComponentApp} {
		pods := instancePods(t, inst, component)
		if len(pods) == 0 {
			t.Errorf("no %s pod of %s to compare with the restore", component, inst.Name)
		}
		for _, later := range pods {
			if later.CreationTimestamp.Time.Before(restoredAt.Truncate(time.Second)) {
				t.Errorf("%s pod %s was created at %s, before the restore completed at %s", component, later.Name, later.CreationTimestamp, restoredAt)
			}
		}
	}
	logs, err := cluster.KubectlRun(ctx, nil, "logs", "-n", inst.Namespace, "job/"+resources.NamesFor(inst).MigrationJob(cluster.Images.HelpyStandin))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "existing database: migrating") {
		t.Errorf("the migration did not find the restored database:\n%s", logs)
	}

	// Afterwards nothing of the restore's rights and routes is left.
	annotation := vault.ServiceAccountAnnotation(vault.MetadataRestoreSource)
	err = framework.Eventually(ctx, time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		sa := &corev1.ServiceAccount{}
		if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.NamesFor(inst).RestoreServiceAccount}, sa); err != nil {
			return false, "", err
		}
		err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.BackupNamesFor(inst).RestoreEgressPolicy}, &networkingv1.NetworkPolicy{})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, "", err
		}
		return sa.Annotations[annotation] == "" && apierrors.IsNotFound(err),
			fmt.Sprintf("ServiceAccount %s annotated %q; restore egress policy present: %t", sa.Name, sa.Annotations[annotation], err == nil), nil
	})
	if err != nil {
		t.Errorf("after the restore: %v", err)
	}
}

// instancePods are the instance's pods of the component.
func instancePods(t *testing.T, inst *v1alpha1.HelpdeskInstance, component string) []corev1.Pod {
	t.Helper()
	pods := &corev1.PodList{}
	if err := cluster.Client.List(context.Background(), pods, client.InNamespace(inst.Namespace), client.MatchingLabels(resources.InstanceSelector(inst))); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.Labels[resources.LabelComponent] == component {
			out = append(out, p)
		}
	}
	return out
}

// TestRestoreFromAGlobIsRefused: an instance asking to restore from "*" (or another name
// that is not an object name) is refused at admission, naming the field.
func TestRestoreFromAGlobIsRefused(t *testing.T) {
	for _, name := range []string{"*", "desk+", "../desk", "Desk"} {
		inst := &v1alpha1.HelpdeskInstance{
			ObjectMeta: metav1.ObjectMeta{Name: "glob", Namespace: "default"},
			Spec: v1alpha1.HelpdeskInstanceSpec{
				Hostname:    "glob.e2e.example",
				RestoreFrom: &v1alpha1.RestoreSource{BackupPolicyName: "acme-backup", InstanceName: name},
			},
		}
		// A dry run: admission decides, nothing is stored either way.
		err := cluster.Client.Create(context.Background(), inst, client.DryRunAll)
		switch {
		case err == nil:
			t.Errorf("an instance restoring from %q was admitted", name)
		case !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.restoreFrom.instanceName"):
			t.Errorf("restoring from %q: want an Invalid error naming spec.restoreFrom.instanceName, got %v", name, err)
		default:
			t.Logf("%q: %v", name, err)
		}
	}
}

// TestSharedBackupDestination: tenant A and the restored instance use one BackupPolicy,
// so one bucket and prefix. Each backup lands in its instance's own folder, and a backup
// with its retention run (which deletes that instance's older backup) leaves every object
// of the other instance as it was.
func TestSharedBackupDestination(t *testing.T) {
	a := readyTenants(t).a
	c := readyRestored(t)
	cFolder := backupFolder(a.policy, c.Namespace, c.Name)
	waitCronJob(t, c.Namespace, resources.BackupNamesFor(c).BackupCronJob)

	backupConfined := func(inst *v1alpha1.HelpdeskInstance, folder, other string) jobRun {
		t.Helper()
		before := listObjects(t, a.bucket, "")
		run := runCronJob(t, inst.Namespace, resources.BackupNamesFor(inst).BackupCronJob)
		if !run.succeeded {
			t.Fatalf("backup of %s: %s", inst.Name, run)
		}
		after := listObjects(t, a.bucket, "")
		changed := before.changes(after)
		if len(changed) == 0 {
			t.Fatalf("backup of %s changed nothing in bucket %s", inst.Name, a.bucket)
		}
		for _, name := range changed {
			if !strings.HasPrefix(name, folder) {
				t.Errorf("the backup of %s changed %s, outside its folder %s", inst.Name, name, folder)
			}
		}
		if d := before.below(other).changes(after.below(other)); len(d) > 0 {
			t.Errorf("the backup of %s touched the other instance's objects: %v", inst.Name, d)
		}
		t.Logf("backup of %s changed %d objects, all below %s", inst.Name, len(changed), folder)
		return run
	}
	first := backupConfined(c, cFolder, a.folder())
	second := backupConfined(c, cFolder, a.folder())
	// Retention keeps one: the second run deleted the first, so pruning ran, and stayed
	// in its folder.
	if _, ok := listObjects(t, a.bucket, cFolder)[cFolder+"manifests/"+first.result(t).ID+".json"]; ok {
		t.Errorf("the second backup of %s kept the first (%s): retention did not run, so this test proves nothing about it", c.Name, first.result(t).ID)
	}
	t.Logf("second backup of %s: %s", c.Name, second.message)
	backupConfined(a.inst, a.folder(), cFolder)
}

// TestShredMakesBackupsUnreadable: deleting the restored instance (deletionPolicy Shred)
// deletes its transit key, and its backups, still in the bucket, can no longer be read:
// the engine, even with Vault's root token, fails on its catalog with a Vault error.
func TestShredMakesBackupsUnreadable(t *testing.T) {
	a := tenants(t).a
	c := readyRestored(t)
	engine := adminEngine(t, a.policy, c.Namespace, c.Name)
	ctx := context.Background()
	list, err := engine.List(ctx)
	if err != nil {
		t.Fatalf("listing %s's backups before the deletion: %v", c.Name, err)
	}
	if len(list.Backups) == 0 {
		run := runCronJob(t, c.Namespace, resources.BackupNamesFor(c).BackupCronJob)
		if !run.succeeded {
			t.Fatalf("backup of %s: %s", c.Name, run)
		}
	}
	cFolder := backupFolder(a.policy, c.Namespace, c.Name)
	objects := listObjects(t, a.bucket, cFolder)
	key := vault.KeyName(vaultPrefix, c.Namespace, c.Name)

	if err := cluster.Client.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, 3*time.Minute)
	if secret, err := vaultAdmin.Logical().ReadWithContext(ctx, "transit/keys/"+key); err != nil || secret != nil {
		t.Fatalf("transit key %s after the shredding deletion: %v, %v; want it gone", key, secret, err)
	}
	t.Logf("event: %s", waitEvent(t, c, "KeyShredded"))
	if after := listObjects(t, a.bucket, cFolder); len(objects.changes(after)) > 0 {
		t.Errorf("the deletion changed the objects of %s: %v (shredding leaves them, unreadable)", cFolder, objects.changes(after))
	}
	_, err = engine.List(ctx)
	switch {
	case err == nil:
		t.Fatalf("the engine still reads the catalog of %s after its key was shredded", cFolder)
	case !errors.Is(err, vaultage.ErrVault) || !strings.Contains(err.Error(), key):
		t.Errorf("reading the catalog: want a Vault error naming key %s, got %v", key, err)
	}
	t.Logf("after shredding, the catalog of %s (%d objects) reads: %v", cFolder, len(objects), err)
}
