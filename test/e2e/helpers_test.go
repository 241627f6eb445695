//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// jobTimeout bounds one backup, drill or restore Job of the tests' small databases.
const jobTimeout = 5 * time.Minute

// fixture is a value several tests share, made by the first test that asks for it. If
// making it failed, that test failed, and every later one fails saying so.
type fixture[T any] struct {
	name string
	once sync.Once
	val  *T
}

func (f *fixture[T]) get(t *testing.T, build func(t *testing.T) T) T {
	t.Helper()
	f.once.Do(func() {
		v := build(t)
		f.val = &v
	})
	if f.val == nil {
		t.Fatalf("%s could not be made: see the first test that asked for it", f.name)
	}
	return *f.val
}

// jobRun is a Job that ended: how, and what its last attempt's main container wrote as its
// termination message (the backup binary's one-line JSON result).
type jobRun struct {
	job       *batchv1.Job
	succeeded bool
	pod       *corev1.Pod
	message   string
	// attempts is how many pods the Job ran.
	attempts int
}

// result is the JSON result line of the run.
func (r jobRun) result(t *testing.T) runResult {
	t.Helper()
	var res runResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.message)), &res); err != nil {
		t.Fatalf("Job %s: the termination message is not a result line (%v): %q", r.job.Name, err, r.message)
	}
	return res
}

// runResult is the part of the backup binary's result line the tests read.
type runResult struct {
	ID           string `json:"id"`
	Error        string `json:"error"`
	Passed       *bool  `json:"passed"`
	DeletedCount int    `json:"deletedCount"`
}

func (r jobRun) String() string {
	state := "failed"
	if r.succeeded {
		state = "succeeded"
	}
	return fmt.Sprintf("Job %s %s after %d attempt(s): %s", r.job.Name, state, r.attempts, strings.TrimSpace(r.message))
}

// runCronJob starts a run of a CronJob the way an administrator does, `kubectl create
// job --from=cronjob/...`, and waits until it ends.
func runCronJob(t *testing.T, namespace, cronJob string) jobRun {
	t.Helper()
	name := cronJob + "-e2e-" + proc.RandomHex(2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cluster.KubectlRun(ctx, nil, "create", "job", "-n", namespace, name, "--from=cronjob/"+cronJob); err != nil {
		t.Fatal(err)
	}
	return waitJob(t, namespace, name)
}

// waitJob waits until the Job has completed or failed.
func waitJob(t *testing.T, namespace, name string) jobRun {
	t.Helper()
	ctx := context.Background()
	job := &batchv1.Job{}
	var run jobRun
	err := framework.Eventually(ctx, jobTimeout, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, job); err != nil {
			return false, "", err
		}
		for _, c := range job.Status.Conditions {
			if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
				run.succeeded = c.Type == batchv1.JobComplete
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d active, %d failed", job.Status.Active, job.Status.Failed), nil
	})
	if err != nil {
		t.Fatalf("Job %s/%s: %v\n%s", namespace, name, err, describe(namespace))
	}
	run.job = job
	pods := &corev1.PodList{}
	if err := cluster.Client.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels{batchv1.JobNameLabel: name}); err != nil {
		t.Fatal(err)
	}
	run.attempts = len(pods.Items)
	var newest time.Time
	for i := range pods.Items {
		for _, cs := range pods.Items[i].Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil && !term.FinishedAt.Time.Before(newest) {
				newest, run.pod, run.message = term.FinishedAt.Time, &pods.Items[i], term.Message
			}
		}
	}
	if run.pod == nil {
		t.Fatalf("Job %s/%s ended, but none of its %d pods has a terminated container\n%s", namespace, name, len(pods.Items), describe(namespace))
	}
	return run
}

// psql runs a query as the superuser in the primary pod of the instance's database and
// returns its unaligned, tuples-only output.
func psql(t *testing.T, inst *v1alpha1.HelpdeskInstance, query string) string {
	t.Helper()
	db := waitDatabase(t, inst)
	primary := primaryPod(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cluster.Exec(ctx, db.Namespace, primary.Name, "postgres",
		"psql", "-h", "/controller/run", "-U", "postgres", "-d", "helpy", "-v", "ON_ERROR_STOP=1", "-tAc", query)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("psql %q in %s: exit %d: %s", query, primary.Name, res.ExitCode, res.Stderr)
	}
	return strings.TrimSpace(res.Stdout)
}

// getInstance reads the instance as it is now.
func getInstance(t *testing.T, inst *v1alpha1.HelpdeskInstance) *v1alpha1.HelpdeskInstance {
	t.Helper()
	got := &v1alpha1.HelpdeskInstance{}
	if err := cluster.Client.Get(context.Background(), client.ObjectKeyFromObject(inst), got); err != nil {
		t.Fatal(err)
	}
	return got
}

// waitPolicy waits until the policy's status satisfies ok, and returns the policy.
func waitPolicy(t *testing.T, policy *v1alpha1.BackupPolicy, what string, ok func(v1alpha1.BackupPolicyStatus) bool) *v1alpha1.BackupPolicy {
	t.Helper()
	got := &v1alpha1.BackupPolicy{}
	err := framework.Eventually(context.Background(), 2*time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(policy), got); err != nil {
			return false, "", err
		}
		st, _ := json.Marshal(got.Status)
		return ok(got.Status), string(st), nil
	})
	if err != nil {
		t.Fatalf("BackupPolicy %s/%s: want %s: %v", policy.Namespace, policy.Name, what, err)
	}
	return got
}

// waitCronJob waits until the operator has created the CronJob.
func waitCronJob(t *testing.T, namespace, name string) *batchv1.CronJob {
	t.Helper()
	cj := &batchv1.CronJob{}
	err := framework.Eventually(context.Background(), 2*time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cj)
		return err == nil, fmt.Sprint(err), client.IgnoreNotFound(err)
	})
	if err != nil {
		t.Fatalf("CronJob %s/%s: %v", namespace, name, err)
	}
	return cj
}

// waitGone waits until the object no longer exists.
func waitGone(t *testing.T, obj client.Object, timeout time.Duration) {
	t.Helper()
	err := framework.Eventually(context.Background(), timeout, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		return false, fmt.Sprintf("still there, finalizers %v", obj.GetFinalizers()), err
	})
	if err != nil {
		t.Fatalf("%T %s/%s: %v\n%s", obj, obj.GetNamespace(), obj.GetName(), err, describe(obj.GetNamespace()))
	}
}

// waitEvent waits for an Event with the reason about the object and returns its message.
func waitEvent(t *testing.T, obj client.Object, reason string) string {
	t.Helper()
	var message string
	err := framework.Eventually(context.Background(), time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		events := &corev1.EventList{}
		if err := cluster.Client.List(ctx, events, client.InNamespace(obj.GetNamespace())); err != nil {
			return false, "", err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.InvolvedObject.Name == obj.GetName() {
				message = e.Message
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d events in %s, none %s about %s", len(events.Items), obj.GetNamespace(), reason, obj.GetName()), nil
	})
	if err != nil {
		t.Fatalf("Event %s: %v", reason, err)
	}
	return message
}
