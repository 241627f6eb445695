//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// TestTenantsCannotReachEachOther: tenant A's app pod cannot open tenant B's database
// port or B's app port, on real connections through kube-router. Controls show that the
// same pod reaches its own database and resolves B's names, that B's database admits
// B's own Jobs and B's app admits the edge, so the refusals are the perimeter's.
func TestTenantsCannotReachEachOther(t *testing.T) {
	p := readyTenants(t)
	a, b := p.a.inst, p.b.inst
	aApp := appPod(t, a)
	bDatabase := serviceAddress(b, resources.NamesFor(b).DatabaseCluster+"-rw", resources.PostgresPort)
	bApp := serviceAddress(b, resources.NamesFor(b).App, 80)

	mustConnect(t, a.Namespace, aApp, serviceAddress(a, resources.NamesFor(a).DatabaseCluster+"-rw", resources.PostgresPort))
	mustResolve(t, a.Namespace, aApp, strings.Split(bDatabase, ":")[0])
	bJob := probePod(t, b.Namespace, "e2e-b-job", databasePeerLabels(t, b))
	mustConnect(t, b.Namespace, bJob, bDatabase)
	edge := probePod(t, ingressNamespace(t), "e2e-edge-"+b.Namespace, map[string]string{"e2e.helpdesk.privatedesk.io/probe": "edge"})
	mustConnect(t, operator.IngressNamespace, edge, bApp)

	mustNotConnect(t, a.Namespace, aApp, bDatabase)
	mustNotConnect(t, a.Namespace, aApp, bApp)
}

// TestEgressOnlyWherePoliciesAllow: tenant A's app pod cannot reach what only other
// workloads of the instance may: the S3 gateway (backup pods), Vault (Jobs; the app gets
// its secrets as a Secret) and the API server (database pods); DNS works for it. A pod
// with the labels of A's backup pods reaches S3 and Vault, so the hosts answer.
func TestEgressOnlyWherePoliciesAllow(t *testing.T) {
	a := readyTenants(t).a
	aApp := appPod(t, a.inst)
	cronJob := waitCronJob(t, a.inst.Namespace, resources.BackupNamesFor(a.inst).BackupCronJob)
	backupPod := probePod(t, a.inst.Namespace, "e2e-a-backup", cronJob.Spec.JobTemplate.Spec.Template.Labels)
	vault := fmt.Sprintf("%s:%d", cluster.NodeIP, framework.VaultPort)

	mustResolve(t, a.inst.Namespace, aApp, "kubernetes.default")
	for _, target := range []string{s3.Endpoint, vault} {
		mustConnect(t, a.inst.Namespace, backupPod, target)
	}
	for _, target := range []string{s3.Endpoint, vault, "kubernetes.default:443"} {
		mustNotConnect(t, a.inst.Namespace, aApp, target)
	}
}

// appPod is the name of a running app pod of the instance (the stand-in image, which
// carries netcheck).
func appPod(t *testing.T, inst *v1alpha1.HelpdeskInstance) string {
	t.Helper()
	pods := &corev1.PodList{}
	if err := cluster.Client.List(context.Background(), pods, client.InNamespace(inst.Namespace),
		client.MatchingLabels(resources.SelectorLabels(inst, resources.RoleApp))); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp.IsZero() {
			return p.Name
		}
	}
	t.Fatalf("no running app pod of %s/%s\n%s", inst.Namespace, inst.Name, describe(inst.Namespace))
	return ""
}

func serviceAddress(inst *v1alpha1.HelpdeskInstance, service string, port int) string {
	return fmt.Sprintf("%s.%s.svc:%d", service, inst.Namespace, port)
}

// ingressNamespace is the namespace the operator admits to app ports as the edge.
func ingressNamespace(t *testing.T) string {
	t.Helper()
	err := createSharedNamespace(context.Background(), operator.IngressNamespace)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return operator.IngressNamespace
}

// netcheck runs the stand-in's network probe in the pod.
func netcheck(t *testing.T, namespace, pod string, args ...string) framework.ExecResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cluster.Exec(ctx, namespace, pod, "", append([]string{"netcheck"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	// kubectl's note on which container it chose is not the probe's answer.
	var lines []string
	for _, line := range strings.Split(res.Stderr, "\n") {
		if !strings.HasPrefix(line, "Defaulted container") {
			lines = append(lines, line)
		}
	}
	res.Stderr = strings.Join(lines, "\n")
	return res
}

// mustConnect waits until the pod opens a TCP connection to target: kube-router admits a
// new pod's address a few seconds after it starts.
func mustConnect(t *testing.T, namespace, pod, target string) {
	t.Helper()
	var last string
	err := framework.Eventually(context.Background(), 2*time.Minute, 2*time.Second, func(context.Context) (bool, string, error) {
		res := netcheck(t, namespace, pod, "tcp", target)
		last = strings.TrimSpace(res.Stdout + res.Stderr)
		return res.ExitCode == 0, last, nil
	})
	if err != nil {
		t.Fatalf("%s/%s cannot connect to %s, which its policies allow (so the refusals checked here would prove nothing): %v\n%s", namespace, pod, target, err, describe(namespace))
	}
	t.Logf("allowed: %s/%s -> %s: %s", namespace, pod, target, last)
}

// mustNotConnect checks, on several tries, that the pod cannot connect to target.
func mustNotConnect(t *testing.T, namespace, pod, target string) {
	t.Helper()
	for i := 1; i <= 3; i++ {
		res := netcheck(t, namespace, pod, "tcp", target)
		if res.ExitCode == 0 {
			t.Errorf("%s/%s connected to %s, which no NetworkPolicy allows it (try %d): %s", namespace, pod, target, i, strings.TrimSpace(res.Stdout))
			return
		}
		if i == 1 {
			t.Logf("refused: %s/%s -> %s: %s", namespace, pod, target, strings.TrimSpace(res.Stderr))
		}
	}
}

// mustResolve checks that the pod resolves name through the cluster DNS.
func mustResolve(t *testing.T, namespace, pod, name string) {
	t.Helper()
	res := netcheck(t, namespace, pod, "dns", name)
	if res.ExitCode != 0 {
		t.Fatalf("%s/%s cannot resolve %s (DNS is allowed to every pod of an instance): %s", namespace, pod, name, res.Stderr)
	}
	t.Logf("resolved: %s/%s: %s", namespace, pod, strings.TrimSpace(res.Stdout))
}
