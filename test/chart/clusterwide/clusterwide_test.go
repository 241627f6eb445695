// Package clusterwide runs the manager the chart's default install renders, cluster-wide,
// against a real API server, as the chart's ServiceAccount with exactly the chart's RBAC. It
// is a package of its own because controller-runtime allows a controller name once per
// process, and test/chart runs the namespaced install.
package clusterwide

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/operator"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

const release, namespace = "hd", "helpdesk-system"

// TestDefaultInstallComesUp renders the chart with its defaults, changed only where a test
// differs from a cluster (Vault is a dev server on loopback with a token, not Kubernetes
// auth), applies its RBAC, and runs the manager from the rendered Deployment's arguments
// as the chart's ServiceAccount: it comes up, elects itself leader, and reconciles an
// instance in any namespace up to what a cluster without a kubelet allows, saying that no
// Helpy image is configured (the default has none).
func TestDefaultInstallComesUp(t *testing.T) {
	ctx := context.Background()
	env, admin := kubeenv.StartForTest(t)
	vaultSrv := vaultdev.Start(t)
	objs := render(t,
		"vault.address="+vaultSrv.Addr, "vault.authMethod=token",
		"vault.tokenSecret.name=vault-token", "vault.tokenSecret.key=token",
	)
	for _, ns := range []string{namespace, "tenant-a"} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	var serviceAccount string
	var deployment *appsv1.Deployment
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ServiceAccount":
			serviceAccount = obj.GetName()
			fallthrough
		case "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			if err := admin.Create(ctx, obj); err != nil {
				t.Fatalf("applying the chart's %s %s: %v", obj.GetKind(), obj.GetName(), err)
			}
		case "Deployment":
			deployment = &appsv1.Deployment{}
			if err := convert(obj, deployment); err != nil {
				t.Fatal(err)
			}
		}
	}
	if serviceAccount == "" || deployment == nil {
		t.Fatal("the chart renders no ServiceAccount or Deployment")
	}
	container := deployment.Spec.Template.Spec.Containers[0]
	if container.Args[0] != "manager" {
		t.Fatalf("the Deployment does not run the manager: %q", container.Args)
	}
	for _, want := range []string{"--leader-elect=true", "--metrics-secure=true"} {
		if !contains(container.Args, want) {
			t.Errorf("the default install lacks %s: %q", want, container.Args)
		}
	}

	// The manager runs as the chart's ServiceAccount, with nothing but what the chart grants.
	asOperator := rest.CopyConfig(env.Config)
	asOperator.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	t.Setenv("KUBECONFIG", kubeconfig(t, asOperator))
	t.Setenv("VAULT_TOKEN", vaultSrv.RootToken)
	// What differs from a pod: the Lease's namespace (a pod reads it from its ServiceAccount
	// mount), loopback ports, and the development Vault's mounts.
	args := append(append([]string(nil), container.Args[1:]...),
		"--leader-election-namespace="+namespace, "--vault-dev-bootstrap",
		"--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=127.0.0.1:0", "--zap-log-level=error")
	runCtx, cancel := context.WithCancel(ctx)
	exited := make(chan error, 1)
	go func() { exited <- operator.RunManager(runCtx, args, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-exited; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager: %v", err)
		}
	})

	inst := &v1alpha1.HelpdeskInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: "desk"}, Spec: v1alpha1.HelpdeskInstanceSpec{Hostname: "desk.a.example.com"}}
	if err := admin.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		v1alpha1.ConditionNetworkIsolated: string(metav1.ConditionTrue) + "/" + v1alpha1.ReasonNetworkPoliciesReady,
		v1alpha1.ConditionEncryptionReady: string(metav1.ConditionTrue) + "/" + v1alpha1.ReasonKeyReady,
		// No CloudNativePG operator runs here: the Cluster is applied and waits.
		v1alpha1.ConditionDatabaseReady: string(metav1.ConditionFalse) + "/" + v1alpha1.ReasonClusterProvisioning,
		v1alpha1.ConditionAppReady:      string(metav1.ConditionFalse) + "/" + v1alpha1.ReasonAppImageNotSet,
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the manager exited: %v", err)
		default:
		}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			t.Fatal(err)
		}
		var missing []string
		for conditionType, statusReason := range want {
			c := meta.FindStatusCondition(inst.Status.Conditions, conditionType)
			if c == nil || string(c.Status)+"/"+c.Reason != statusReason {
				missing = append(missing, fmt.Sprintf("%s want %s, have %+v", conditionType, statusReason, c))
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the default install's manager did not reconcile the instance:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	app := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionAppReady)
	for _, hint := range []string{"spec.app.image", "--helpy-image", "helpy.image", "HELPDESK_HELPY_IMAGE", "docs/operations.md"} {
		if !strings.Contains(app.Message, hint) {
			t.Errorf("AppImageNotSet does not say %q: %s", hint, app.Message)
		}
	}
	// Nothing of the app starts without an image: no Deployment, no migration Job.
	deployments, jobs := &appsv1.DeploymentList{}, &batchv1.JobList{}
	for _, list := range []client.ObjectList{deployments, jobs} {
		if err := admin.List(ctx, list, client.InNamespace("tenant-a")); err != nil {
			t.Fatal(err)
		}
	}
	if len(deployments.Items) > 0 || len(jobs.Items) > 0 {
		t.Errorf("without an app image the instance has %d Deployments and %d Jobs", len(deployments.Items), len(jobs.Items))
	}
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// render runs helm template on the chart with --set values and returns its objects.
func render(t *testing.T, values ...string) []*unstructured.Unstructured {
	t.Helper()
	helm, err := binaries.Helm()
	if err != nil {
		t.Fatal(err)
	}
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"template", release, filepath.Join(root, "charts", "helpdesk-operator"), "-n", namespace, "--kube-version", "1.36.3"}
	for _, v := range values {
		args = append(args, "--set", v)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(out), "\n---") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("helm output: %v", err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
	return objs
}

func convert(obj *unstructured.Unstructured, into any) error {
	b, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, into)
}

// kubeconfig writes a kubeconfig for cfg (client certificate and impersonation).
func kubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	c := clientcmdapi.NewConfig()
	c.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["test"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
		Impersonate: cfg.Impersonate.UserName, ImpersonateGroups: cfg.Impersonate.Groups,
	}
	c.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	c.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(path, 0o600)
	return path
}
