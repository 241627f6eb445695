// Package chart renders the Helm chart with the pinned helm and runs what it renders against
// a real API server: the manager from the rendered Deployment's arguments, with exactly the
// rendered RBAC, in namespaced mode.
package chart

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// render runs helm template on the chart with values and returns its objects.
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

// managerArgs are the manager container's arguments in the rendered Deployment, after the
// "manager" subcommand.
func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	return managerContainer(t, objs).Args[1:]
}

func runtimeConvert(obj *unstructured.Unstructured, into any) error {
	b, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, into)
}

// TestDefaultValuesRenderArgumentsTheManagerAccepts: every flag the default install passes
// is one the manager knows, with a value it parses.
func TestDefaultValuesRenderArgumentsTheManagerAccepts(t *testing.T) {
	args := managerArgs(t, render(t))
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f operator.ManagerFlags
	f.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the manager refuses the default chart's arguments %q: %v", args, err)
	}
	// The container's memory limit reaches the manager's --memory-limit, which keeps the
	// Go runtime's limit below it; a GOMEMLIMIT of the whole limit would leave no room.
	limit := false
	for _, e := range managerContainer(t, render(t)).Env {
		switch {
		case e.Name == "GOMEMLIMIT":
			t.Errorf("the chart sets GOMEMLIMIT (%+v); --memory-limit derives it", e)
		case e.Name == operator.EnvName("memory-limit"):
			limit = e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory"
		}
	}
	if !limit || fs.Lookup("memory-limit") == nil {
		t.Errorf("the manager's --memory-limit does not get the container's limits.memory (env %s)", operator.EnvName("memory-limit"))
	}
}

// TestNamespacedModeRunsWithOnlyItsRoles installs the chart's RBAC in namespaced mode into a
// real API server and runs the manager with the rendered arguments as the chart's
// ServiceAccount: it comes up, manages the watched namespace, and leaves another alone.
func TestNamespacedModeRunsWithOnlyItsRoles(t *testing.T) {
	ctx := context.Background()
	env, admin := kubeenv.StartForTest(t)
	vaultSrv := vaultdev.Start(t)
	objs := render(t,
		"watchNamespaces={tenant-a}",
		"vault.address="+vaultSrv.Addr, "vault.authMethod=token",
		"vault.tokenSecret.name=vault-token", "vault.tokenSecret.key=token",
		"network.apiServerCIDRs=10.0.0.1/32",
		"leaderElection.enabled=false", "metrics.enabled=false",
	)
	for _, ns := range []string{namespace, "tenant-a", "tenant-b"} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	var serviceAccount string
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ServiceAccount":
			serviceAccount = obj.GetName()
			fallthrough
		case "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			if err := admin.Create(ctx, obj); err != nil {
				t.Fatalf("applying the chart's %s %s: %v", obj.GetKind(), obj.GetName(), err)
			}
		}
		if obj.GetKind() == "ClusterRoleBinding" && strings.HasSuffix(obj.GetName(), "-manager") {
			t.Errorf("namespaced mode renders the cluster-wide binding %s", obj.GetName())
		}
	}
	if serviceAccount == "" {
		t.Fatal("the chart renders no ServiceAccount")
	}

	// The manager runs as the chart's ServiceAccount, with nothing but what the chart grants.
	asOperator := rest.CopyConfig(env.Config)
	asOperator.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	t.Setenv("KUBECONFIG", kubeconfig(t, asOperator))
	t.Setenv("VAULT_TOKEN", vaultSrv.RootToken)
	args := append(managerArgs(t, objs),
		"--vault-dev-bootstrap", "--health-probe-bind-address=127.0.0.1:0", "--zap-log-level=error")
	runCtx, cancel := context.WithCancel(ctx)
	exited := make(chan error, 1)
	go func() { exited <- operator.RunManager(runCtx, args, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-exited; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager: %v", err)
		}
	})

	watched := &v1alpha1.HelpdeskInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: "desk"}, Spec: v1alpha1.HelpdeskInstanceSpec{Hostname: "desk.a.example.com"}}
	ignored := &v1alpha1.HelpdeskInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-b", Name: "desk"}, Spec: v1alpha1.HelpdeskInstanceSpec{Hostname: "desk.b.example.com"}}
	for _, inst := range []*v1alpha1.HelpdeskInstance{watched, ignored} {
		if err := admin.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the manager exited: %v", err)
		default:
		}
		np := &unstructured.Unstructured{}
		np.SetAPIVersion("networking.k8s.io/v1")
		np.SetKind("NetworkPolicy")
		err := admin.Get(ctx, client.ObjectKey{Namespace: "tenant-a", Name: "desk-default-deny"}, np)
		if err == nil {
			break
		}
		if !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the manager did not reconcile the watched namespace's instance with the chart's Roles")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(ignored), ignored); err != nil {
		t.Fatal(err)
	}
	if len(ignored.Finalizers) != 0 {
		t.Errorf("the manager touched an instance outside its namespaces: finalizers %v", ignored.Finalizers)
	}
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
		t.Fatal(fmt.Errorf("writing the kubeconfig: %w", err))
	}
	_ = os.Chmod(path, 0o600)
	return path
}
