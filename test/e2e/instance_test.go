//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// How long the first instance may take on a 2-core machine: CloudNativePG's initdb Job,
// the first PostgreSQL pod, the migration Job and the app.
const (
	databaseTimeout = 15 * time.Minute
	appTimeout      = 10 * time.Minute
)

var (
	minimalOnce sync.Once
	minimal     *v1alpha1.HelpdeskInstance
	minimalErr  error
)

// minimalInstance is config/samples/helpdeskinstance_minimal.yaml with PostgreSQL 15 (the
// local image's major version), created once in its own namespace; the images come from
// the operator's flags, as a real installation's would.
func minimalInstance(t *testing.T) *v1alpha1.HelpdeskInstance {
	t.Helper()
	inst, err := startMinimal()
	if err != nil {
		t.Fatalf("creating the sample instance: %v", err)
	}
	return inst.DeepCopy()
}

// startMinimal creates the minimal instance once, without waiting for it.
func startMinimal() (*v1alpha1.HelpdeskInstance, error) {
	minimalOnce.Do(func() { minimal, minimalErr = createMinimal(context.Background()) })
	return minimal, minimalErr
}

func createMinimal(ctx context.Context) (*v1alpha1.HelpdeskInstance, error) {
	data, err := os.ReadFile(filepath.Join(cluster.Root, "config", "samples", "helpdeskinstance_minimal.yaml"))
	if err != nil {
		return nil, err
	}
	inst := &v1alpha1.HelpdeskInstance{}
	if err := yaml.UnmarshalStrict(data, inst); err != nil {
		return nil, err
	}
	inst.Namespace = "e2e-minimal-" + proc.RandomHex(3)
	if err := createSharedNamespace(ctx, inst.Namespace); err != nil {
		return nil, err
	}
	inst.Spec.Database.PostgresVersion = 15
	if err := cluster.Client.Create(ctx, inst); err != nil {
		return nil, err
	}
	return inst, nil
}

// waitDatabase waits until CloudNativePG reports the instance's cluster healthy.
func waitDatabase(t *testing.T, inst *v1alpha1.HelpdeskInstance) *cnpgv1.Cluster {
	t.Helper()
	db := &cnpgv1.Cluster{}
	key := client.ObjectKey{Namespace: inst.Namespace, Name: resources.NamesFor(inst).DatabaseCluster}
	err := framework.Eventually(context.Background(), databaseTimeout, 5*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := cluster.Client.Get(ctx, key, db); err != nil {
			return false, "", err
		}
		return db.Status.Phase == cnpgv1.PhaseHealthy && db.Status.ReadyInstances == db.Spec.Instances,
			fmt.Sprintf("phase %q, %d of %d instances ready", db.Status.Phase, db.Status.ReadyInstances, db.Spec.Instances), nil
	})
	if err != nil {
		t.Fatalf("CloudNativePG cluster %s: %v\n%s", key, err, describe(inst.Namespace))
	}
	return db
}

// waitCondition waits until the instance's condition is True, with nobody's help.
func waitCondition(t *testing.T, inst *v1alpha1.HelpdeskInstance, condition string, timeout time.Duration) {
	t.Helper()
	got := &v1alpha1.HelpdeskInstance{}
	err := framework.Eventually(context.Background(), timeout, 5*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
			return false, "", err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, condition)
		if c == nil {
			return false, condition + " not set", nil
		}
		return c.Status == metav1.ConditionTrue, fmt.Sprintf("%s=%s (%s: %s)", condition, c.Status, c.Reason, c.Message), nil
	})
	if err != nil {
		t.Fatalf("instance %s/%s: %v\n%s", inst.Namespace, inst.Name, err, describe(inst.Namespace))
	}
}

// describe is what a failed test shows of a namespace: its pods and recent events.
func describe(namespace string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, _ := cluster.KubectlRun(ctx, nil, "get", "pods,jobs,pvc,networkpolicies", "-n", namespace, "-o", "wide")
	events, _ := cluster.KubectlRun(ctx, nil, "get", "events", "-n", namespace, "--sort-by", ".lastTimestamp")
	return "objects in " + namespace + ":\n" + pods + "\nevents:\n" + events
}

// TestDatabaseOnCloudNativePG: the instance's CloudNativePG cluster starts real
// PostgreSQL 15 pods from the local image, and the instance reports DatabaseReady by
// itself.
func TestDatabaseOnCloudNativePG(t *testing.T) {
	inst := minimalInstance(t)
	db := waitDatabase(t, inst)
	if db.Spec.ImageName != cluster.Images.Postgres {
		t.Errorf("the cluster runs image %q, want the operator's PostgreSQL 15 image %q", db.Spec.ImageName, cluster.Images.Postgres)
	}
	primary := primaryPod(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cluster.Exec(ctx, db.Namespace, primary.Name, "postgres",
		"psql", "-h", "/controller/run", "-U", "postgres", "-d", "helpy", "-tAc", "SELECT current_setting('server_version_num'), current_setting('data_checksums')")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.HasPrefix(strings.TrimSpace(res.Stdout), "15") {
		t.Fatalf("psql in %s: exit %d, stdout %q, stderr %q; want a PostgreSQL 15 server", primary.Name, res.ExitCode, res.Stdout, res.Stderr)
	}
	if !strings.HasSuffix(strings.TrimSpace(res.Stdout), "|on") {
		t.Errorf("data checksums: got %q, want on (the operator's initdb setting)", res.Stdout)
	}
	waitCondition(t, inst, v1alpha1.ConditionDatabaseReady, 5*time.Minute)
}

func primaryPod(t *testing.T, db *cnpgv1.Cluster) *corev1.Pod {
	t.Helper()
	pods := &corev1.PodList{}
	if err := cluster.Client.List(context.Background(), pods, client.InNamespace(db.Namespace),
		client.MatchingLabels{"cnpg.io/cluster": db.Name, "cnpg.io/instanceRole": "primary"}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning {
		t.Fatalf("want one running primary pod of %s, got %d\n%s", db.Name, len(pods.Items), describe(db.Namespace))
	}
	return &pods.Items[0]
}

// TestNetworkPolicyGuardsDatabasePort: on real connections through kube-router, a pod of
// the instance's namespace that is not part of the instance cannot open the database
// port, and a pod with the labels the database policy admits can; both resolve the
// database Service's name (DNS is allowed to both).
func TestNetworkPolicyGuardsDatabasePort(t *testing.T) {
	inst := minimalInstance(t)
	db := waitDatabase(t, inst)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	allowed := databasePeerLabels(t, inst)
	outsider := probePod(t, inst.Namespace, "e2e-outsider", map[string]string{"e2e.helpdesk.privatedesk.io/probe": "outsider"})
	insider := probePod(t, inst.Namespace, "e2e-allowed", allowed)
	target := db.Name + "-rw:5432"

	// The allowed pod connects: this also proves the Service, DNS and the pods' network work.
	err := framework.Eventually(ctx, 2*time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		res, err := cluster.Exec(ctx, inst.Namespace, insider, "", "netcheck", "tcp", target)
		if err != nil {
			return false, "", err
		}
		return res.ExitCode == 0, res.Stdout + res.Stderr, nil
	})
	if err != nil {
		t.Fatalf("a pod with the labels %v that %s admits could not connect to %s: %v", allowed, resources.NamesFor(inst).PolicyDatabase, target, err)
	}
	// The outsider's network works (DNS and the API server's Service)...
	for _, check := range [][]string{{"dns", db.Name + "-rw"}, {"tcp", "kubernetes.default:443"}} {
		res, err := cluster.Exec(ctx, inst.Namespace, outsider, "", append([]string{"netcheck"}, check...)...)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Fatalf("the outsider pod cannot even %s %s (%s): its network is broken, so the check below would prove nothing", check[0], check[1], res.Stderr)
		}
	}
	// ...but never reaches the database, on several tries.
	for i := 0; i < 3; i++ {
		res, err := cluster.Exec(ctx, inst.Namespace, outsider, "", "netcheck", "tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode == 0 {
			t.Fatalf("a pod outside the instance connected to the database port %s: the NetworkPolicy %s admits it or is not enforced (%s)",
				target, resources.NamesFor(inst).PolicyDatabase, strings.TrimSpace(res.Stdout))
		}
		t.Logf("outsider, try %d: %s", i+1, strings.TrimSpace(res.Stderr))
	}
}

// databasePeerLabels are the labels of the first pod peer the database policy admits
// to PostgreSQL's port, read from the policy the operator applied.
func databasePeerLabels(t *testing.T, inst *v1alpha1.HelpdeskInstance) map[string]string {
	t.Helper()
	np := &networkingv1.NetworkPolicy{}
	key := client.ObjectKey{Namespace: inst.Namespace, Name: resources.NamesFor(inst).PolicyDatabase}
	if err := cluster.Client.Get(context.Background(), key, np); err != nil {
		t.Fatalf("the database NetworkPolicy: %v", err)
	}
	for _, rule := range np.Spec.Ingress {
		for _, port := range rule.Ports {
			if port.Port == nil || port.Port.IntValue() != resources.PostgresPort {
				continue
			}
			for _, peer := range rule.From {
				if peer.PodSelector != nil && peer.NamespaceSelector == nil && len(peer.PodSelector.MatchLabels) > 0 {
					return peer.PodSelector.MatchLabels
				}
			}
		}
	}
	t.Fatalf("%s admits no pod peer to port %d: %+v", key, resources.PostgresPort, np.Spec.Ingress)
	return nil
}

// probePod starts a pod of the stand-in image that only sleeps, to run netcheck in.
func probePod(t *testing.T, namespace, name string, labels map[string]string) string {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "probe", Image: cluster.Images.HelpyStandin, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/bin/sleep", "3600"},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	if err := cluster.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), pod) })
	err := framework.Eventually(ctx, 2*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
		if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return false, "", err
		}
		return pod.Status.Phase == corev1.PodRunning, string(pod.Status.Phase), nil
	})
	if err != nil {
		t.Fatalf("probe pod %s: %v\n%s", name, err, describe(namespace))
	}
	return name
}

// TestMigrationJobThenApp: the operator's migration Job runs (the stand-in plays Helpy's
// rails runner and rake against the real database, over TLS, with the password from
// Vault), and then the app Deployment becomes available, its readiness probe answered by
// a real database query.
func TestMigrationJobThenApp(t *testing.T) {
	inst := minimalInstance(t)
	ctx := context.Background()
	var job batchv1.Job
	err := framework.Eventually(ctx, databaseTimeout+appTimeout, 5*time.Second, func(ctx context.Context) (bool, string, error) {
		jobs := &batchv1.JobList{}
		if err := cluster.Client.List(ctx, jobs, client.InNamespace(inst.Namespace),
			client.MatchingLabels{"app.kubernetes.io/component": resources.ComponentMigration}); err != nil {
			return false, "", err
		}
		if len(jobs.Items) == 0 {
			return false, "no migration Job yet", nil
		}
		job = jobs.Items[0]
		return job.Status.Succeeded > 0, fmt.Sprintf("job %s: %d active, %d failed", job.Name, job.Status.Active, job.Status.Failed), nil
	})
	if err != nil {
		t.Fatalf("the migration Job did not succeed: %v\n%s", err, describe(inst.Namespace))
	}
	// The pod that succeeded (earlier attempts may have failed: the Job retries).
	pods := &corev1.PodList{}
	if err := cluster.Client.List(ctx, pods, client.InNamespace(inst.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		t.Fatal(err)
	}
	var succeeded string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded {
			succeeded = p.Name
		} else {
			out, _ := cluster.KubectlRun(ctx, nil, "logs", "-n", inst.Namespace, p.Name, "--tail", "3")
			t.Logf("migration attempt %s: %s: %s", p.Name, p.Status.Phase, strings.TrimSpace(out))
		}
	}
	if succeeded == "" {
		t.Fatalf("the migration Job %s succeeded but none of its pods did\n%s", job.Name, describe(inst.Namespace))
	}
	logs, err := cluster.KubectlRun(ctx, nil, "logs", "-n", inst.Namespace, succeeded)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.HasPrefix(line, "waiting for the database") {
			t.Logf("migration %s: %s", succeeded, line)
		}
	}
	for _, want := range []string{"empty database: loading the schema and seeding", "rake db:seed: done", "replaced the seeded password of admin@test.com"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the migration Job's log lacks %q:\n%s", want, logs)
		}
	}

	dep := &appsv1.Deployment{}
	key := client.ObjectKey{Namespace: inst.Namespace, Name: resources.NamesFor(inst).App}
	err = framework.Eventually(ctx, appTimeout, 5*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := cluster.Client.Get(ctx, key, dep); err != nil {
			return false, "", err
		}
		for _, c := range dep.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable {
				return c.Status == corev1.ConditionTrue && dep.Status.ReadyReplicas > 0,
					fmt.Sprintf("Available=%s (%s), %d ready", c.Status, c.Message, dep.Status.ReadyReplicas), nil
			}
		}
		return false, "no Available condition yet", nil
	})
	if err != nil {
		t.Fatalf("Deployment %s: %v\n%s", key, err, describe(inst.Namespace))
	}
	waitCondition(t, inst, v1alpha1.ConditionAppReady, 2*time.Minute)
}
