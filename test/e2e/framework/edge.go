package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/kubeenv"
)

// Traefik is the edge the access tests send real requests through: Traefik built from
// github.com/traefik/traefik/v3 (hack/test-binaries.sh, image by hack/e2e-images.sh) with
// its Kubernetes Ingress provider (the operator's Ingresses) and its CRD provider (the
// ipAllowList Middlewares the operator writes), as the operator's exposure
// ingress/traefik expects.
type Traefik struct {
	// Namespace it runs in; IngressClass the class whose Ingresses it serves.
	Namespace, IngressClass string
	// HTTPSAddress is its Service's ClusterIP and port 443 (the websecure entry point).
	HTTPSAddress string
}

const (
	traefikName = "traefik"
	// TraefikIngressClass is the IngressClass Traefik serves.
	TraefikIngressClass = "traefik"
	// traefikController is the IngressClass controller Traefik's Ingress provider claims.
	traefikController = "traefik.io/ingress-controller"
)

// traefikDocs is the folder of Traefik's module whose CRDs and RBAC its documentation
// publishes; they are applied from there, never copied.
func traefikDocs() (string, error) {
	dir, err := kubeenv.ModuleDir(kubeenv.TraefikModule, kubeenv.TraefikVersion)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "docs", "content", "reference", "dynamic-configuration"), nil
}

// InstallTraefikCRDs installs every CRD of Traefik's CRD provider (it watches all of its
// kinds, not only the Middlewares the operator writes) from Traefik's module. The operator
// needs the Middleware CRD before it starts with the Traefik exposure.
func (c *Cluster) InstallTraefikCRDs(ctx context.Context) error {
	docs, err := traefikDocs()
	if err != nil {
		return err
	}
	if _, err := c.KubectlRun(ctx, nil, "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(docs, "kubernetes-crd-definition-v1.yml")); err != nil {
		return fmt.Errorf("installing Traefik's CRDs: %w", err)
	}
	_, err = c.KubectlRun(ctx, nil, "wait", "--for=condition=Established", "--timeout=60s", "crd/middlewares.traefik.io", "crd/ingressroutes.traefik.io")
	return err
}

// DeployTraefik runs Traefik in namespace (which must exist) with the ClusterRole of
// Traefik's documentation bound to its ServiceAccount, an IngressClass for it, and a
// ClusterIP Service, and waits until it is ready. Clients in the pod network reach the
// Service without address translation of their source (kube-proxy masquerades only
// traffic from outside the cluster CIDR), so Traefik's ipAllowList sees pod addresses.
func (c *Cluster) DeployTraefik(ctx context.Context, namespace string) (*Traefik, error) {
	docs, err := traefikDocs()
	if err != nil {
		return nil, err
	}
	rbac, err := os.ReadFile(filepath.Join(docs, "kubernetes-crd-rbac.yml"))
	if err != nil {
		return nil, err
	}
	// The documented binding names the ServiceAccount traefik-ingress-controller in the
	// default namespace: bind it in ours instead.
	if n := strings.Count(string(rbac), "namespace: default"); n != 1 {
		return nil, fmt.Errorf("kubernetes-crd-rbac.yml of Traefik's module names the default namespace %d times, want once", n)
	}
	rbac = []byte(strings.Replace(string(rbac), "namespace: default", "namespace: "+namespace, 1))
	manifest := string(rbac) + fmt.Sprintf(traefikManifest, namespace, TraefikIngressClass, traefikController, c.Images.Traefik)
	if _, err := c.KubectlRun(ctx, []byte(manifest), "apply", "--server-side", "--force-conflicts", "-f", "-"); err != nil {
		return nil, fmt.Errorf("deploying Traefik: %w", err)
	}
	deploy := &appsv1.Deployment{}
	key := client.ObjectKey{Namespace: namespace, Name: traefikName}
	err = Eventually(ctx, 3*time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		if err := c.Client.Get(ctx, key, deploy); err != nil {
			return false, "", err
		}
		return deploy.Status.AvailableReplicas > 0, fmt.Sprintf("%d available", deploy.Status.AvailableReplicas), nil
	})
	if err != nil {
		logs, _ := c.KubectlRun(ctx, nil, "logs", "-n", namespace, "deploy/"+traefikName, "--tail=40")
		return nil, fmt.Errorf("waiting for Traefik: %w\n%s", err, logs)
	}
	svc := &corev1.Service{}
	if err := c.Client.Get(ctx, key, svc); err != nil {
		return nil, err
	}
	return &Traefik{Namespace: namespace, IngressClass: TraefikIngressClass, HTTPSAddress: svc.Spec.ClusterIP + ":443"}, nil
}

// TraefikLogs are Traefik's last log lines (access log included), for failure messages.
func (c *Cluster) TraefikLogs(ctx context.Context, t *Traefik, lines int) string {
	out, err := c.KubectlRun(ctx, nil, "logs", "-n", t.Namespace, "deploy/"+traefikName, "--tail", fmt.Sprint(lines))
	if err != nil {
		return err.Error()
	}
	return out
}

// traefikManifest: the ServiceAccount the documented binding names, the IngressClass,
// the Deployment and the Service. Entry points: web :8000, websecure :8443 (with Traefik's
// defaults: a router is TLS only by the router.tls annotation the operator sets on the
// Ingresses of an instance with spec.tls), ping on :9000.
// Arguments: namespace, IngressClass, its controller, image.
const traefikManifest = `
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: traefik-ingress-controller
  namespace: %[1]s
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: %[2]s
spec:
  controller: %[3]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: traefik
  namespace: %[1]s
  labels: {app.kubernetes.io/name: traefik}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: traefik}
  template:
    metadata:
      labels: {app.kubernetes.io/name: traefik}
    spec:
      serviceAccountName: traefik-ingress-controller
      terminationGracePeriodSeconds: 1
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: traefik
          image: %[4]s
          imagePullPolicy: Never
          args:
            - --global.checkNewVersion=false
            - --global.sendAnonymousUsage=false
            - --entryPoints.web.address=:8000
            - --entryPoints.websecure.address=:8443
            - --entryPoints.traefik.address=:9000
            - --ping=true
            - --providers.kubernetesingress=true
            - --providers.kubernetescrd=true
            - --log.level=INFO
            - --accesslog=true
          ports:
            - {name: web, containerPort: 8000}
            - {name: websecure, containerPort: 8443}
            - {name: traefik, containerPort: 9000}
          readinessProbe:
            httpGet: {path: /ping, port: 9000}
            periodSeconds: 2
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        - {name: tmp, emptyDir: {}}
---
apiVersion: v1
kind: Service
metadata:
  name: traefik
  namespace: %[1]s
spec:
  type: ClusterIP
  selector: {app.kubernetes.io/name: traefik}
  ports:
    - {name: web, port: 80, targetPort: web}
    - {name: websecure, port: 443, targetPort: websecure}
`

// GateImage is the image of the access gates in the e2e suite: the operator's binary
// (the gate is its `gate` subcommand) with the run's test CA as the system trust store,
// as an organisation's own gate image would carry its CA, so the gate trusts the test
// identity provider's certificate. The policy API names no CA for OIDC: a real
// provider's certificate chains to a public root.
const GateImage = "helpdesk-e2e.invalid/helpdesk-gate:e2e"

// BuildGateImage builds GateImage with caPEM and imports it.
func (c *Cluster) BuildGateImage(ctx context.Context, caPEM []byte) error {
	dir := filepath.Join(c.StateDir, "test-images", "gate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin, ca := filepath.Join(dir, "helpdesk-operator"), filepath.Join(dir, "ca-certificates.crt")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		return err
	}
	// The flags of hack/e2e-images.sh, so the build cache has it already.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/helpdesk-operator")
	cmd.Dir = c.Root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the operator binary for the gate image: %w: %s", err, out)
	}
	return c.BuildImage(ctx, ImageSpec{
		Ref: GateImage,
		Files: map[string]string{
			"/helpdesk-operator":                 bin + ":0755",
			"/etc/ssl/certs/ca-certificates.crt": ca + ":0644",
		},
		Entrypoint: []string{"/helpdesk-operator"},
		Cmd:        []string{"gate"},
		User:       "65532:65532",
		WorkingDir: "/",
	})
}
