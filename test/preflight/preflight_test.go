// Package preflight runs the operator's binary against a cluster that lacks what it needs
// (CloudNativePG's CRDs, the configured exposure's CRDs, Vault's set-up) and checks that
// the manager still starts, says at start exactly what is missing, marks the instances,
// and restarts once a missing CRD is installed.
package preflight

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// syncBuffer collects the manager's log while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestManagerSaysWhatIsMissing(t *testing.T) {
	ctrllog.SetLogger(logr.Discard()) // envtest's own log; the manager's is its process's
	ctx := context.Background()
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Only the operator's own CRDs: no CloudNativePG, no Gateway API, no Envoy Gateway.
	env, err := kubeenv.StartWithCRDs([]string{filepath.Join(root, "config", "crd", "bases")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// A Vault nobody set up for the operator: a dev server has no transit engine.
	vaultSrv := vaultdev.Start(t)

	bin := filepath.Join(t.TempDir(), "helpdesk-operator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/helpdesk-operator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the operator: %v\n%s", err, out)
	}
	var logs syncBuffer
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	manager := exec.CommandContext(runCtx, bin, "manager",
		"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0",
		"--operator-image=registry.example.com/helpdesk-operator:test", "--api-server-cidrs=10.0.0.1/32",
		"--exposure=gateway", "--gateway=edge/public", "--gateway-implementation=envoy-gateway",
		"--vault-address="+vaultSrv.Addr, "--vault-auth-method=token", "--preflight-interval=1s")
	manager.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig(t, env.Config), "VAULT_TOKEN="+vaultSrv.RootToken)
	manager.Stdout, manager.Stderr = &logs, &logs
	if err := manager.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- manager.Wait() }()
	waitFor := func(what string, check func() error) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			select {
			case err := <-exited:
				t.Fatalf("the manager exited (%v) before %s; its log:\n%s", err, what, logs.String())
			default:
			}
			err := check()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v\nthe manager's log:\n%s", what, err, logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// At start, the log names each missing piece and what it means.
	waitFor("the start-up log", func() error {
		log := logs.String()
		for _, want := range []string{
			"CloudNativePG is not installed", "clusters.postgresql.cnpg.io", "DatabaseReady=False/CloudNativePGMissing",
			"HTTPRoute (CRD httproutes.gateway.networking.k8s.io, from Gateway API",
			"SecurityPolicy (CRD securitypolicies.gateway.envoyproxy.io, from Envoy Gateway)",
			"BackendTrafficPolicy (CRD backendtrafficpolicies.gateway.envoyproxy.io",
			"Vault is not set up for the operator", `no transit secrets engine is mounted at \"transit\"`,
		} {
			if !strings.Contains(log, want) {
				return fmt.Errorf("the log does not say %q yet", want)
			}
		}
		return nil
	})

	// The instances say it too.
	ns := "tenant-a"
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	inst := &v1alpha1.HelpdeskInstance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "desk"}, Spec: v1alpha1.HelpdeskInstanceSpec{Hostname: "desk.example.com"}}
	if err := admin.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	waitFor("the instance's conditions", func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return err
		}
		for conditionType, reason := range map[string]string{
			v1alpha1.ConditionDatabaseReady:   v1alpha1.ReasonCloudNativePGMissing,
			v1alpha1.ConditionEncryptionReady: "VaultNotConfigured",
			v1alpha1.ConditionNetworkIsolated: v1alpha1.ReasonNetworkPoliciesReady,
		} {
			c := meta.FindStatusCondition(inst.Status.Conditions, conditionType)
			if c == nil || c.Reason != reason {
				return fmt.Errorf("%s is %+v, want reason %s", conditionType, c, reason)
			}
		}
		ready := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != v1alpha1.ReasonExposureAPIMissing ||
			!strings.Contains(ready.Message, "httproutes.gateway.networking.k8s.io") {
			return fmt.Errorf("Ready is %+v, want False/%s naming the HTTPRoute CRD", ready, v1alpha1.ReasonExposureAPIMissing)
		}
		return nil
	})
	db := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionDatabaseReady)
	if !strings.Contains(db.Message, "clusters.postgresql.cnpg.io") || !strings.Contains(db.Message, "Install CloudNativePG") {
		t.Errorf("DatabaseReady does not say what to install: %s", db.Message)
	}

	t.Logf("the manager's log:\n%s", logs.String())

	// CloudNativePG arrives: the manager exits so that it restarts watching its Clusters.
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{filepath.Join(root, "test", "crds", "cloudnative-pg")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(logs.String(), "clusters.postgresql.cnpg.io") ||
			!strings.Contains(logs.String(), "a CRD that was missing at start is installed now") {
			t.Errorf("the manager exited with %v; want an error saying the CRD appeared; log:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the manager did not restart after CloudNativePG's CRD appeared; log:\n%s", logs.String())
	}
}

// kubeconfig writes a kubeconfig for cfg (the test API server's admin certificate).
func kubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	c := clientcmdapi.NewConfig()
	c.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	c.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		t.Fatal(err)
	}
	return path
}
