package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privatedesk/helpdesk-operator/internal/scheme"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/vaultdev"
)

// world is one test API server and one Vault, fresh for each measurement: the baseline's
// objects must not sit in the operator's informers, nor one N's in the next.
type world struct {
	env   *envtest.Environment
	vault *vaultdev.Server
	stopV func()
	// client writes as the harness (unthrottled: the harness is not what is measured).
	client client.Client
	config *rest.Config
	dir    string
}

func startWorld(ctx context.Context, dir string) (*world, error) {
	env, err := startAPIServer()
	if err != nil {
		return nil, err
	}
	w := &world{env: env, dir: dir}
	w.vault, w.stopV, err = vaultdev.StartMain()
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	w.config = unthrottled(env.Config)
	if w.client, err = client.New(w.config, client.Options{Scheme: env.Scheme}); err != nil {
		w.stop()
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}
	if err := w.client.Create(ctx, ns); err != nil {
		w.stop()
		return nil, err
	}
	objs, err := policies()
	if err != nil {
		w.stop()
		return nil, err
	}
	for _, obj := range objs {
		if err := w.client.Create(ctx, obj); err != nil {
			w.stop()
			return nil, fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return w, nil
}

// startAPIServer is kubeenv.Start with room for a thousand tenants' Services: envtest's
// default Service range (a /24) holds 254 ClusterIPs, and each tenant has two Services.
func startAPIServer() (*envtest.Environment, error) {
	assets, err := binaries.EnvtestAssets()
	if err != nil {
		return nil, err
	}
	dirs, err := kubeenv.CRDDirectories()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: dirs, ErrorIfCRDPathMissing: true, Scheme: scheme.New()}
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	return env, nil
}

func (w *world) stop() {
	if w.stopV != nil {
		w.stopV()
	}
	_ = w.env.Stop()
}

// kubeconfig writes a kubeconfig of a cluster admin for the operator process.
func (w *world) kubeconfig() (string, error) {
	user, err := w.env.AddUser(envtest.User{Name: "helpdesk-operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(w.dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

func unthrottled(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 1e6, 1e6
	return c
}

// vaultProxy counts the requests that pass through it to Vault: the operator process
// reaches Vault only through it.
type vaultProxy struct {
	URL      string
	srv      *http.Server
	requests atomic.Int64
	logins   atomic.Int64
	writes   atomic.Int64
}

func startVaultProxy(target string) (*vaultProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &vaultProxy{URL: "http://" + ln.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		p.requests.Add(1)
		path := req.URL.Path
		switch {
		case strings.HasSuffix(path, "/login") || strings.HasSuffix(path, "/auth/token/lookup-self"):
			p.logins.Add(1)
		case req.Method != http.MethodGet && req.Method != "LIST":
			p.writes.Add(1)
		}
		rp.ServeHTTP(rw, req)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *vaultProxy) close() { _ = p.srv.Close() }
