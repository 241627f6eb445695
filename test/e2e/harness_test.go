//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// TestHarnessBuildsAndRunsAnImage: an image built by the harness (hack/images) and
// imported into containerd runs as a pod, so later tests can bring their own images.
func TestHarnessBuildsAndRunsAnImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ref := "helpdesk-e2e.invalid/harness-check:" + proc.RandomHex(4)
	err := cluster.BuildImage(ctx, framework.ImageSpec{
		Ref:        ref,
		Files:      map[string]string{"/bin/busybox": "/bin/busybox:0755"},
		Symlinks:   map[string]string{"/bin/sh": "busybox", "/bin/id": "busybox"},
		Env:        []string{"PATH=/bin"},
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{"echo harness-image-ran as $(id -u)"},
		User:       "4242:4242",
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-harness-" + proc.RandomHex(3)}}
	if err := cluster.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), ns) })
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "check", Namespace: ns.Name},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "check", Image: ref, ImagePullPolicy: corev1.PullNever}},
		},
	}
	if err := cluster.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	err = framework.Eventually(ctx, 2*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
		if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return false, "", err
		}
		return pod.Status.Phase == corev1.PodSucceeded, string(pod.Status.Phase), nil
	})
	if err != nil {
		t.Fatalf("pod of the built image: %v\n%s", err, describe(ns.Name))
	}
	logs, err := cluster.KubectlRun(ctx, nil, "logs", "-n", ns.Name, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(logs) != "harness-image-ran as 4242" {
		t.Fatalf("the built image printed %q, want its command's output as its user", logs)
	}
}

// TestHostServicesReachableFromPods: Vault and the S3 gateway, which TestMain starts on
// the host, answer pods on the host's addresses (later tests back up to S3 and log in to
// Vault).
func TestHostServicesReachableFromPods(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-hostsvc-" + proc.RandomHex(3)}}
	if err := cluster.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), ns) })
	pod := probePod(t, ns.Name, "probe", map[string]string{"e2e.helpdesk.privatedesk.io/probe": "host-services"})
	vault := strings.TrimPrefix(operator.VaultAddress, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, target := range []string{vault, s3.Endpoint} {
		res, err := cluster.Exec(ctx, ns.Name, pod, "", "netcheck", "tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Errorf("a pod cannot reach %s on the host: %s", target, res.Stderr)
		}
	}
}
