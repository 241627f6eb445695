package access

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// TestTheSamplePolicyIsEnforcedOnTwoInstances: config/samples/accesspolicy.yaml (OIDC with
// MFA and groups, the agent allow-list, upload rules, reCAPTCHA) applied to two instances
// is enforced, part by part, on both, on each exposure that can enforce it.
func TestTheSamplePolicyIsEnforcedOnTwoInstances(t *testing.T) {
	for name, flags := range map[string][]string{
		"ingress-nginx":   nil,
		"gateway-traefik": {"--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=traefik"},
		"gateway-envoy":   {"--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=envoy-gateway"},
	} {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			startOperator(t, ns, flags...)
			policy := samplePolicy(t)
			policy.Namespace = ns
			mustCreate(t, policy)
			mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-support-oidc"}, Data: map[string][]byte{"client-secret": []byte("c")}})
			mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-support-captcha"}, Data: map[string][]byte{"secret-key": []byte("k")}})
			var instances []*v1alpha1.HelpdeskInstance
			for _, n := range []string{"first", "second"} {
				inst := instance(ns, n, func(i *v1alpha1.HelpdeskInstance) {
					i.Spec.AccessPolicyRef.Name = policy.Name
					i.Spec.TLS = &v1alpha1.TLSSpec{SecretName: n + "-tls"}
				})
				mustCreate(t, inst)
				instances = append(instances, inst)
			}
			for _, inst := range instances {
				playControllers(t, inst)
			}
			eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))
			if len(policy.Status.Instances) != 2 {
				t.Fatalf("status.instances: %+v", policy.Status.Instances)
			}
			for _, i := range policy.Status.Instances {
				for part, s := range map[string]v1alpha1.AccessPartStatus{"allowList": i.AllowList, "sso": i.SSO, "mfa": i.MFA, "session": i.Session, "uploads": i.Uploads, "botProtection": i.BotProtection} {
					if s.State != v1alpha1.AccessPartEnforced {
						t.Errorf("%s: %s is %s (%s)", i.Name, part, s.State, s.Message)
					}
				}
			}
		})
	}
}

func samplePolicy(t *testing.T) *v1alpha1.AccessPolicy {
	t.Helper()
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "accesspolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	policy := &v1alpha1.AccessPolicy{}
	if err := yaml.UnmarshalStrict(data, policy); err != nil {
		t.Fatal(err)
	}
	return policy
}

// playControllers plays CloudNativePG, the Job and the Deployment controllers for inst
// until its app, its settings and its gate are in place.
func playControllers(t *testing.T, inst *v1alpha1.HelpdeskInstance) {
	t.Helper()
	ctx := context.Background()
	cluster := &cnpgv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.NamesFor(inst).DatabaseCluster}}
	eventually(t, wait, func() error { return get(cluster) })
	cluster.Status.Phase, cluster.Status.ReadyInstances = cnpgv1.PhaseHealthy, cluster.Spec.Instances
	cluster.Status.Conditions = []metav1.Condition{{Type: string(cnpgv1.ConditionClusterReady), Status: metav1.ConditionTrue, Reason: "ClusterIsReady", LastTransitionTime: metav1.Now()}}
	if err := k8sClient.Status().Update(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	for _, component := range []string{resources.ComponentMigration, resources.ComponentSettings} {
		jobs := &batchv1.JobList{}
		eventually(t, wait, func() error {
			if err := k8sClient.List(ctx, jobs, client.InNamespace(inst.Namespace), client.MatchingLabels{
				resources.LabelComponent: component, resources.LabelHelpdeskInstance: inst.Name,
			}); err != nil {
				return err
			}
			if len(jobs.Items) != 1 {
				return fmt.Errorf("%d %s Jobs of %s", len(jobs.Items), component, inst.Name)
			}
			return nil
		})
		job := &jobs.Items[0]
		now := metav1.Now()
		job.Status.StartTime, job.Status.CompletionTime, job.Status.Succeeded = &now, &now, 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		if err := k8sClient.Status().Update(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	markGateAvailable(t, inst)
	for _, name := range []string{resources.NamesFor(inst).App, resources.AccessNamesFor(inst).Gate} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: name}}
		eventually(t, wait, func() error {
			if err := get(d); err != nil {
				return err
			}
			if ptr.Deref(d.Spec.Replicas, 0) == 0 {
				return fmt.Errorf("%s asks for no pods yet", name)
			}
			n := *d.Spec.Replicas
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
			return k8sClient.Status().Update(ctx, d)
		})
	}
}
