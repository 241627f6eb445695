package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// eventually polls check until it returns nil, failing the test with its last error
// after timeout.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// conditionIs reads obj and checks one of its conditions, including that it describes
// the current generation.
func conditionIs(obj conditioned, conditionType string, status metav1.ConditionStatus, reason string) func() error {
	return func() error {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(obj.GetConditions(), conditionType)
		switch {
		case c == nil:
			return fmt.Errorf("%s has no %s condition yet: %v", obj.GetName(), conditionType, obj.GetConditions())
		case c.Status != status || c.Reason != reason:
			return fmt.Errorf("%s condition %s is %s/%s (%s), want %s/%s", obj.GetName(), conditionType, c.Status, c.Reason, c.Message, status, reason)
		case c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("%s condition %s describes generation %d, object is at %d", obj.GetName(), conditionType, c.ObservedGeneration, obj.GetGeneration())
		}
		return nil
	}
}

func secret(namespace, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// finishJob plays the Job controller: the Job ran from start to end and succeeded or
// failed for good.
func finishJob(t *testing.T, job *batchv1.Job, start, end time.Time, succeeded bool) {
	t.Helper()
	at := metav1.NewTime(end)
	job.Status.StartTime = &metav1.Time{Time: start}
	if succeeded {
		job.Status.CompletionTime, job.Status.Succeeded = &at, 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: at},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: at},
		}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: at},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: at},
		}
	}
	if err := k8sClient.Status().Update(context.Background(), job); err != nil {
		t.Fatalf("finishing Job %s: %v", job.Name, err)
	}
}

// vaultLogin logs in to the test Vault as a workload of inst, the way its pods do: a
// projected token of the workload's ServiceAccount for the Vault audience, and its role.
func vaultLogin(t *testing.T, inst *v1alpha1.HelpdeskInstance, w vault.Workload) (*vaultapi.Client, error) {
	t.Helper()
	sa := resources.VaultServiceAccounts(inst)[w]
	token, err := kubeenv.ServiceAccountToken(context.Background(), testEnv.Config, inst.Namespace, sa, "vault")
	if err != nil {
		t.Fatal(err)
	}
	c := vaultSrv.Client(t)
	c.ClearToken()
	s, err := c.Logical().Write("auth/kubernetes/login", map[string]any{"role": vault.RoleName("helpdesk", inst.Namespace, inst.Name, w), "jwt": token})
	if err != nil {
		return nil, err
	}
	c.SetToken(s.Auth.ClientToken)
	return c, nil
}
