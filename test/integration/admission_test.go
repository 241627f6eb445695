package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// TestOnlyAdministratorsMaySkipVaultCleanup applies config/admission to the real API
// server: a tenant with edit rights on its instances cannot set, change or remove the
// skip-vault-cleanup annotation; an administrator can, and other edits stay the tenant's.
func TestOnlyAdministratorsMaySkipVaultCleanup(t *testing.T) {
	ctx := context.Background()
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "config", "admission", "skip_vault_cleanup_policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(raw), "\n---\n")
	policy, binding := &admissionregistrationv1.ValidatingAdmissionPolicy{}, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	if err := yaml.UnmarshalStrict([]byte(docs[0]), policy); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), binding); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := k8sClient.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, binding); _ = k8sClient.Delete(ctx, policy) })

	ns := createNamespace(t, "admission")
	if err := k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-edit"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "tenant"},
			{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "ops"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	as := func(user string, groups ...string) client.Client {
		cfg := rest.CopyConfig(restConfig)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
		c, err := client.New(cfg, client.Options{Scheme: testEnv.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tenant, admin := as("tenant"), as("ops", "helpdesk-operator:vault-admins")

	inst := &v1alpha1.HelpdeskInstance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk"}, Spec: v1alpha1.HelpdeskInstanceSpec{Hostname: "desk.example.com"}}
	// The policy takes a moment to be enforced after it is created: wait until it refuses.
	deadline := time.Now().Add(30 * time.Second)
	for {
		probe := inst.DeepCopy()
		probe.Name = "probe"
		probe.Annotations = map[string]string{v1alpha1.AnnotationSkipVaultCleanup: "x"}
		err := tenant.Create(ctx, probe)
		if err != nil && strings.Contains(err.Error(), "only administrators") {
			break
		}
		if err == nil {
			_ = k8sClient.Delete(ctx, probe)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admission policy never refused a tenant's annotation: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := tenant.Create(ctx, inst); err != nil {
		t.Fatalf("a tenant creating a plain instance: %v", err)
	}
	annotate := func(c client.Client, value *string) error {
		fresh := &v1alpha1.HelpdeskInstance{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(inst), fresh); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(fresh.DeepCopy())
		if fresh.Annotations == nil {
			fresh.Annotations = map[string]string{}
		}
		if value == nil {
			delete(fresh.Annotations, v1alpha1.AnnotationSkipVaultCleanup)
		} else {
			fresh.Annotations[v1alpha1.AnnotationSkipVaultCleanup] = *value
		}
		fresh.Annotations["team"] = "support"
		return c.Patch(ctx, fresh, patch)
	}
	reason := "Vault decommissioned"
	if err := annotate(tenant, &reason); err == nil || !strings.Contains(err.Error(), "only administrators") {
		t.Errorf("a tenant setting the annotation: %v, want refused", err)
	}
	if err := annotate(admin, &reason); err != nil {
		t.Fatalf("an administrator setting the annotation: %v", err)
	}
	other := "something else"
	if err := annotate(tenant, &other); err == nil {
		t.Error("a tenant changed the annotation")
	}
	if err := annotate(tenant, nil); err == nil {
		t.Error("a tenant removed the annotation")
	}
	if err := annotate(tenant, &reason); err != nil {
		t.Errorf("a tenant's other edit, the annotation unchanged: %v", err)
	}
}
