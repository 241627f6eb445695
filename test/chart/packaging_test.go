package chart

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/internal/operator"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
)

// fullValues is every chart option away from its default (also used by `make chart-lint`).
func fullValues(t *testing.T) string {
	t.Helper()
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "test", "chart", "testdata", "full-values.yaml")
}

// helmTemplate runs helm template with args after the chart and returns its output and
// error output.
func helmTemplate(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	helm, err := binaries.Helm()
	if err != nil {
		t.Fatal(err)
	}
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"template", release, filepath.Join(root, "charts", "helpdesk-operator"), "-n", namespace, "--kube-version", "1.36.3"}, args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm, all...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return stdout.String(), stderr.String(), err
}

// kustomizeBuild builds config/<dir> with the pinned kustomize.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	kustomize, err := binaries.Kustomize()
	if err != nil {
		t.Fatal(err)
	}
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(kustomize, "build", filepath.Join(root, "config", dir))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build config/%s: %v\n%s", dir, err, stderr.String())
	}
	return parseObjects(t, string(out))
}

func parseObjects(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(stream, "\n---") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("parsing rendered YAML: %v\n%s", err, doc)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
	return objs
}

// TestChartRefusesWhatCannotStart: values.schema.json refuses unknown keys and wrong types,
// and the templates fail helm install with the value to set whenever the manager could not
// start (or would start open) with what was given.
func TestChartRefusesWhatCannotStart(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{[]string{"replicaCount=two"}, "/replicaCount': got string, want integer"},
		{[]string{"unknownValue=1"}, "additional properties 'unknownValue' not allowed"},
		{[]string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		{[]string{"vault.authMethod=ldap"}, "/vault/authMethod"},
		{[]string{"metrics.port=http"}, "/metrics/port"},
		{[]string{"crds.create=maybe"}, "/crds/create"},
		{[]string{"vault.address=vault"}, "/vault/address"},
		{[]string{"vault.address=https://vault.example.com:8200"}, "set vault.egressCIDRs"},
		{[]string{"vault.authMethod=token"}, "vault.tokenSecret.name is required"},
		{[]string{"replicaCount=2", "leaderElection.enabled=false"}, "needs leaderElection.enabled"},
		{[]string{"exposure.mode=gateway"}, "exposure.gateway (<namespace>/<name>) is required"},
		{[]string{"exposure.mode=gateway", "exposure.gateway=edge/public"}, "exposure.gatewayImplementation is required"},
		{[]string{"networkPolicy.enabled=true"}, "set networkPolicy.apiServerCIDRs"},
		{[]string{"networkPolicy.enabled=true", "networkPolicy.apiServerCIDRs={192.0.2.1/32}", "vault.namespaceSelector=team in (vault)"}, "vault.namespaceSelector as key=value pairs"},
		{[]string{"metrics.tls.certManager.enabled=true"}, "needs metrics.tls.certManager.issuerRef"},
		{[]string{"metrics.tls.secretName=metrics-tls", "metrics.secure=false"}, "metrics.tls needs metrics.secure"},
		// A number reaches the API server as a number, which it refuses in the pod template's
		// string map, failing the install late; the schema says at once to use --set-string.
		{[]string{`podAnnotations.example\.com/digest=1234567890123456`}, "/podAnnotations/example.com~1digest': got number, want string"},
	} {
		var args []string
		for _, s := range tc.set {
			args = append(args, "--set", s)
		}
		_, stderr, err := helmTemplate(t, args...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("helm template --set %v: err %v, want a failure saying %q; stderr:\n%s", tc.set, err, tc.want, stderr)
		}
	}
	// The defaults render: a default install starts (test/chart/clusterwide runs it).
	if _, stderr, err := helmTemplate(t); err != nil {
		t.Fatalf("the default values do not render: %v\n%s", err, stderr)
	}
}

// TestEveryRenderedManagerArgumentParses: the manager accepts every argument the chart
// renders, with default, namespaced, token and every non-default value.
func TestEveryRenderedManagerArgumentParses(t *testing.T) {
	for name, args := range map[string][]string{
		"full":       {"-f", fullValues(t)},
		"namespaced": {"--set", "watchNamespaces={tenant-a,tenant-b}", "--set", "vault.authMethod=token", "--set", "vault.tokenSecret.name=t", "--set", "vault.tokenSecret.key=k"},
	} {
		out, stderr, err := helmTemplate(t, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr)
		}
		managerArgs := managerArgs(t, parseObjects(t, out))
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f operator.ManagerFlags
		f.Bind(fs)
		if err := fs.Parse(managerArgs); err != nil {
			t.Errorf("%s: the manager refuses %q: %v", name, managerArgs, err)
		}
	}
}

// TestRenderedInstallsApplyToTheAPIServer applies, with a server-side dry run, everything
// the chart renders with its default and with every non-default value, and everything
// config/default (and its optional prometheus, network-policy and grafana parts) builds,
// to a real API server with the CRDs of the kinds they use: the API server validates every
// object against its schema (CRDs, ValidatingAdmissionPolicy's CEL, ServiceMonitor,
// PrometheusRule, cert-manager's Certificate).
func TestRenderedInstallsApplyToTheAPIServer(t *testing.T) {
	ctx := context.Background()
	dirs, err := kubeenv.CRDDirectories()
	if err != nil {
		t.Fatal(err)
	}
	extra, err := kubeenv.PackagingCRDPaths()
	if err != nil {
		t.Fatal(err)
	}
	env, err := kubeenv.StartWithCRDs(append(dirs, extra...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{namespace, "system", "tenant-a"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	installs := map[string][]*unstructured.Unstructured{}
	for name, args := range map[string][]string{
		"chart defaults":   nil,
		"chart full":       {"-f", fullValues(t)},
		"chart namespaced": {"--set", "watchNamespaces={tenant-a}"},
	} {
		out, stderr, err := helmTemplate(t, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr)
		}
		installs[name] = parseObjects(t, out)
	}
	for _, dir := range []string{"default", "prometheus", "network-policy", "grafana"} {
		installs["config/"+dir] = kustomizeBuild(t, dir)
	}
	kinds := map[string]bool{}
	for name, objs := range installs {
		for _, obj := range objs {
			if obj.GetNamespace() == "" && obj.GetKind() == "ConfigMap" {
				obj.SetNamespace(namespace) // config/grafana leaves the namespace to kubectl -n
			}
			obj.SetManagedFields(nil)
			err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.DryRunAll, client.ForceOwnership, client.FieldOwner("packaging-test"))
			if err != nil {
				t.Errorf("%s: %s %s/%s is refused by the API server: %v", name, obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
			}
			kinds[obj.GetKind()] = true
		}
	}
	for _, kind := range []string{"CustomResourceDefinition", "Deployment", "ServiceMonitor", "PrometheusRule", "Certificate", "NetworkPolicy",
		"PodDisruptionBudget", "ConfigMap", "ValidatingAdmissionPolicy", "Namespace"} {
		if !kinds[kind] {
			t.Errorf("no %s was applied: the renders lost it", kind)
		}
	}
	// A dry run creates nothing.
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release + "-helpdesk-operator"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run created the Deployment (or the read failed): %v", err)
	}
}

// TestChartCRDsAreTheGeneratedOnesAndKept: the chart's CRD templates are config/crd/bases
// (make manifests), upgraded with the release and kept when it is uninstalled; crds.create
// turns them off.
func TestChartCRDsAreTheGeneratedOnesAndKept(t *testing.T) {
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := helmTemplate(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	rendered := map[string]*unstructured.Unstructured{}
	for _, obj := range parseObjects(t, out) {
		if obj.GetKind() == "CustomResourceDefinition" {
			rendered[obj.GetName()] = obj
		}
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &want.Object); err != nil {
			t.Fatal(err)
		}
		got := rendered[want.GetName()]
		if got == nil {
			t.Errorf("the chart does not render CRD %s", want.GetName())
			continue
		}
		if got.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s is not kept on uninstall: annotations %v", want.GetName(), got.GetAnnotations())
		}
		if got.GetLabels()["app.kubernetes.io/part-of"] != "helpdesk-operator" {
			t.Errorf("CRD %s lacks the chart's labels: %v", want.GetName(), got.GetLabels())
		}
		gotSpec, _ := yaml.Marshal(got.Object["spec"])
		wantSpec, _ := yaml.Marshal(want.Object["spec"])
		if !bytes.Equal(gotSpec, wantSpec) {
			t.Errorf("the chart's CRD %s differs from config/crd/bases: run make manifests", want.GetName())
		}
		delete(rendered, want.GetName())
	}
	for name := range rendered {
		t.Errorf("the chart renders CRD %s, which config/crd/bases does not have", name)
	}
	if _, err := os.Stat(filepath.Join(root, "charts", "helpdesk-operator", "crds")); err == nil {
		t.Errorf("charts/helpdesk-operator/crds exists: Helm would install those CRDs once and never upgrade them")
	}
	out, _, err = helmTemplate(t, "--set", "crds.create=false", "--set", "crds.keep=false")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "kind: CustomResourceDefinition") {
		t.Errorf("crds.create=false still renders CRDs")
	}
}

// TestKustomizeInstallsWhatTheChartInstalls: config/default and the chart's defaults install
// the same kinds of objects, the same manager RBAC, and a manager configured the same way
// (every flag's effective value, from arguments and environment), but for the names of the
// operator's image.
func TestKustomizeInstallsWhatTheChartInstalls(t *testing.T) {
	out, stderr, err := helmTemplate(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	chart := parseObjects(t, out)
	kustomized := kustomizeBuild(t, "default")

	count := func(objs []*unstructured.Unstructured) map[string]int {
		kinds := map[string]int{}
		for _, obj := range objs {
			if obj.GetKind() != "Namespace" { // helm install --create-namespace makes it
				kinds[obj.GetKind()]++
			}
		}
		return kinds
	}
	if c, k := count(chart), count(kustomized); fmt.Sprint(c) != fmt.Sprint(k) {
		t.Errorf("the chart installs %v, config/default %v", c, k)
	}

	managerRules := func(objs []*unstructured.Unstructured) string {
		for _, obj := range objs {
			if obj.GetKind() == "ClusterRole" && (strings.HasSuffix(obj.GetName(), "-manager") || strings.HasSuffix(obj.GetName(), "-manager-role")) {
				rules, _ := yaml.Marshal(obj.Object["rules"])
				return string(rules)
			}
		}
		t.Fatal("no manager ClusterRole")
		return ""
	}
	if c, k := managerRules(chart), managerRules(kustomized); c != k {
		t.Errorf("the manager's rules differ:\nchart:\n%s\nconfig/default:\n%s", c, k)
	}

	var chartFlags, kustomizeFlags map[string]string
	t.Run("chart", func(t *testing.T) { chartFlags = effectiveFlags(t, managerContainer(t, chart)) })
	t.Run("kustomize", func(t *testing.T) { kustomizeFlags = effectiveFlags(t, managerContainer(t, kustomized)) })
	var differ []string
	for name, value := range chartFlags {
		if name == "operator-image" {
			continue
		}
		if kustomizeFlags[name] != value {
			differ = append(differ, fmt.Sprintf("--%s: chart %q, config/default %q", name, value, kustomizeFlags[name]))
		}
	}
	sort.Strings(differ)
	if len(differ) > 0 {
		t.Errorf("the managers are configured differently:\n%s", strings.Join(differ, "\n"))
	}
	if chartFlags["vault-namespace-selector"] == "" {
		t.Errorf("the default install has no Vault egress: the manager would not start")
	}
}

// managerContainer is the manager container of the rendered Deployment.
func managerContainer(t *testing.T, objs []*unstructured.Unstructured) corev1.Container {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := runtimeConvert(obj, d); err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == "manager" {
				return c
			}
		}
	}
	t.Fatal("no manager container")
	return corev1.Container{}
}

// effectiveFlags is every manager flag's value as the container sets it: its environment
// (VAULT_* and HELPDESK_<FLAG>) under its arguments, the way `helpdesk-operator manager` reads them.
func effectiveFlags(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			continue
		}
		env[e.Name] = e.Value
		if strings.HasPrefix(e.Name, "VAULT_") {
			t.Setenv(e.Name, e.Value) // read when the flags are bound
		}
	}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f operator.ManagerFlags
	f.Bind(fs)
	fs.VisitAll(func(fl *flag.Flag) {
		if v, ok := env[operator.EnvName(fl.Name)]; ok {
			if err := fs.Set(fl.Name, v); err != nil {
				t.Errorf("%s=%q: %v", operator.EnvName(fl.Name), v, err)
			}
		}
	})
	if len(c.Args) == 0 || c.Args[0] != "manager" {
		t.Fatalf("the container does not run the manager: %q", c.Args)
	}
	if err := fs.Parse(c.Args[1:]); err != nil {
		t.Fatalf("the manager refuses %q: %v", c.Args, err)
	}
	out := map[string]string{}
	fs.VisitAll(func(fl *flag.Flag) { out[fl.Name] = fl.Value.String() })
	return out
}
