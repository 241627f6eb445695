// Package framework is the harness of the end-to-end tests (test/e2e): it connects to the
// real single-node cluster hack/cluster.sh runs on this machine and gives tests a client,
// kubectl and `kubectl exec` through the API server, image building and import, the host
// services pods reach (a Vault server with Kubernetes auth against this cluster, the
// versitygw S3 gateway), a volume provisioner, and the operator installed with our Helm
// chart.
//
// Tests reach pods only through the API server (exec, logs): the node's address is in a
// documentation range, which the API server's node proxy refuses.
package framework

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/internal/scheme"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// Images are the locally built images hack/e2e-images.sh imported into the cluster.
type Images struct {
	Pause, Operator, CloudNativePG, CoreDNS string
	// PostgresRepository is combined with the major version (":15") as the operator does.
	PostgresRepository, Postgres string
	// HelpyStandin is the test fixture that stands in for the Helpy image
	// (test/e2e/fixtures/helpy-standin); it also carries the `netcheck` network probe.
	HelpyStandin string
	// Traefik is the edge of the access tests (DeployTraefik).
	Traefik string
}

// Cluster is the running e2e cluster.
type Cluster struct {
	// Kubeconfig is the cluster-admin kubeconfig file; Kubectl the cluster's kubectl.
	Kubeconfig, Kubectl string
	// NodeName and NodeIP are the single node's; Vault listens on NodeIP.
	NodeName, NodeIP string
	// ServicesIP is the host's address for services tenants' pods may reach (the S3
	// gateway): NodeIP is the API server's, which the operator refuses as tenant egress.
	ServicesIP string
	// APIServer is the API server's URL; CAFile its CA certificate.
	APIServer, CAFile string
	// StateDir holds the components' state and logs; VolumesDir the provisioned volumes.
	StateDir, VolumesDir string
	// ContainerdSocket is the cluster's containerd, for `ctr` (image import).
	ContainerdSocket string
	Images           Images

	Root       string
	RESTConfig *rest.Config
	Client     client.Client
	Clientset  kubernetes.Interface
	env        map[string]string
}

// Connect reads the cluster's settings from `hack/cluster.sh env`, builds clients and
// checks that the node is Ready. The error says how to bring the cluster up.
func Connect(ctx context.Context) (*Cluster, error) {
	root, err := binaries.ModuleRoot()
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "cluster.sh"), "env").Output()
	if err != nil {
		return nil, fmt.Errorf("asking hack/cluster.sh for the cluster's settings: %w", exitDetail(err))
	}
	env := map[string]string{}
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		if k, v, ok := strings.Cut(scanner.Text(), "="); ok {
			env[k] = v
		}
	}
	c := &Cluster{
		Kubeconfig:       env["KUBECONFIG"],
		Kubectl:          env["HELPDESK_E2E_KUBECTL"],
		NodeName:         env["HELPDESK_E2E_NODE_NAME"],
		NodeIP:           env["HELPDESK_E2E_NODE_IP"],
		ServicesIP:       env["HELPDESK_E2E_SERVICES_IP"],
		APIServer:        env["HELPDESK_E2E_API_SERVER"],
		CAFile:           env["HELPDESK_E2E_CA_FILE"],
		StateDir:         env["HELPDESK_E2E_STATE_DIR"],
		VolumesDir:       env["HELPDESK_E2E_VOLUMES_DIR"],
		ContainerdSocket: env["HELPDESK_E2E_CONTAINERD_SOCKET"],
		Images: Images{
			Pause:              env["HELPDESK_E2E_PAUSE_IMAGE"],
			Operator:           env["HELPDESK_E2E_OPERATOR_IMAGE"],
			CloudNativePG:      env["HELPDESK_E2E_CNPG_IMAGE"],
			CoreDNS:            env["HELPDESK_E2E_COREDNS_IMAGE"],
			PostgresRepository: env["HELPDESK_E2E_POSTGRES_REPOSITORY"],
			Postgres:           env["HELPDESK_E2E_POSTGRES_IMAGE"],
			HelpyStandin:       env["HELPDESK_E2E_HELPY_STANDIN_IMAGE"],
			Traefik:            env["HELPDESK_E2E_TRAEFIK_IMAGE"],
		},
		Root: root,
		env:  env,
	}
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		return nil, fmt.Errorf("the e2e cluster is not up (%w): run `hack/cluster.sh up` (or `make test-e2e`, which brings it up and down)", err)
	}
	c.RESTConfig, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.Kubeconfig, err)
	}
	c.RESTConfig.QPS, c.RESTConfig.Burst = 50, 100
	if c.Client, err = client.New(c.RESTConfig, client.Options{Scheme: scheme.New()}); err != nil {
		return nil, err
	}
	if c.Clientset, err = kubernetes.NewForConfig(c.RESTConfig); err != nil {
		return nil, err
	}
	node := &corev1.Node{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: c.NodeName}, node); err != nil {
		return nil, fmt.Errorf("the e2e cluster does not answer (%w): run `hack/cluster.sh up` (status: `hack/cluster.sh status`)", err)
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return c, nil
		}
	}
	return nil, fmt.Errorf("node %s is not Ready: see `hack/cluster.sh status` and the logs in %s/logs", c.NodeName, c.StateDir)
}

// Env is a value `hack/cluster.sh env` printed (and so hack/test-binaries.sh env and
// hack/e2e-images.sh env).
func (c *Cluster) Env(key string) string { return c.env[key] }

// KubectlRun runs the cluster's kubectl with the admin kubeconfig; stdin may be nil.
// The error carries stderr.
func (c *Cluster) KubectlRun(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ExecResult is what a command run in a container printed, and its exit code.
type ExecResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// Exec runs command in a container of a pod through the API server (`kubectl exec`). A
// command that ran and exited non-zero is not an error: see ExitCode. The error is for
// commands that could not be run at all.
func (c *Cluster) Exec(ctx context.Context, namespace, pod, container string, command ...string) (ExecResult, error) {
	args := []string{"--kubeconfig", c.Kubeconfig, "exec", "-n", namespace, pod}
	if container != "" {
		args = append(args, "-c", container)
	}
	args = append(args, "--")
	args = append(args, command...)
	cmd := exec.CommandContext(ctx, c.Kubectl, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := ExecResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		// kubectl exits with the command's code; "command terminated with exit code N"
		// on stderr tells a command's failure from kubectl's own.
		if strings.Contains(res.Stderr, "command terminated with exit code") {
			res.ExitCode = exitErr.ExitCode()
			return res, nil
		}
	}
	if err != nil {
		return res, fmt.Errorf("kubectl exec %s/%s -- %s: %w: %s", namespace, pod, strings.Join(command, " "), err, strings.TrimSpace(res.Stderr))
	}
	return res, nil
}

// Eventually calls check every interval until it reports done, ctx ends or timeout
// passes; the error then carries check's last message.
func Eventually(ctx context.Context, timeout, interval time.Duration, check func(context.Context) (done bool, status string, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		done, status, err := check(ctx)
		if err != nil {
			last = err.Error()
		} else {
			last = status
		}
		if done && err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s: %s", timeout, last)
		case <-time.After(interval):
		}
	}
}

func exitDetail(err error) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exitErr.Stderr)))
	}
	return err
}

// runCommand runs a program and returns its combined output.
func runCommand(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
