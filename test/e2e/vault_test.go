//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

// TestTenantCannotUseAnotherTenantsKey: a pod of tenant A, logged in to Vault with its own
// projected token and role, cannot use tenant B's transit key. The Job is a copy of A's
// backup CronJob's template (ServiceAccount, token, image, init container) with only the
// key and instance changed; the same copy with A's own key backs up, so what fails is the
// key, not the copy.
func TestTenantCannotUseAnotherTenantsKey(t *testing.T) {
	p := readyTenants(t)
	a, b := p.a, p.b
	cronJob := waitCronJob(t, a.inst.Namespace, resources.BackupNamesFor(a.inst).BackupCronJob)
	ctx := context.Background()

	start := func(label, key, instance string) string {
		// Labels of its own, or the Job would take its pods' labels, the BackupPolicy's
		// among them, and the policy would count these runs as backups. The pods keep
		// theirs: the NetworkPolicies select them.
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				Name: "e2e-key-" + label + "-" + proc.RandomHex(2), Namespace: a.inst.Namespace,
				Labels: map[string]string{"e2e.helpdesk.privatedesk.io/check": "cross-tenant-key"},
			},
			Spec: *cronJob.Spec.JobTemplate.Spec.DeepCopy(),
		}
		// One attempt: the result line is that attempt's.
		job.Spec.BackoffLimit = ptr.To[int32](0)
		c := &job.Spec.Template.Spec.Containers[0]
		replaceFlag(t, c.Args, "--transit-key=", key)
		replaceFlag(t, c.Args, "--instance-name=", instance)
		if err := cluster.Client.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cluster.Client.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground))
		})
		return job.Name
	}
	own := start("own", a.keyName(), a.inst.Name)
	foreign := start("foreign", b.keyName(), b.inst.Name)

	if run := waitJob(t, a.inst.Namespace, own); !run.succeeded {
		t.Fatalf("the copy of A's backup Job with A's own key failed, so the copy is wrong: %s", run)
	}
	run := waitJob(t, a.inst.Namespace, foreign)
	t.Logf("%s", run)
	if run.succeeded {
		t.Fatalf("a pod of tenant A used tenant B's key %s: %s", b.keyName(), run)
	}
	msg := run.result(t).Error
	for _, want := range []string{"vault denied transit", b.keyName(), "HTTP 403"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refused run's error lacks %q (want Vault refusing B's key after A's login succeeded): %s", want, msg)
		}
	}
}

// replaceFlag sets the value of the --name= flag in args, which must hold it.
func replaceFlag(t *testing.T, args []string, flag, value string) {
	t.Helper()
	for i, a := range args {
		if strings.HasPrefix(a, flag) {
			args[i] = flag + value
			return
		}
	}
	t.Fatalf("the backup container has no %s flag: %v", flag, args)
}
