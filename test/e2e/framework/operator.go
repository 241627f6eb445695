package framework

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OperatorNamespace is where the e2e tests install the operator.
const OperatorNamespace = "helpdesk-system"

// HelmVar is the environment variable with the path of the pinned helm binary
// (hack/tools); `make test-e2e` builds helm and sets it.
const HelmVar = "HELPDESK_E2E_HELM"

// Operator is how InstallOperator installs the operator with our Helm chart.
type Operator struct {
	// Namespace and Release of the Helm release.
	Namespace, Release string
	// VaultAddress is Vault's URL as pods reach it; VaultToken the token the operator
	// uses (token auth from a Secret: the chart's vault.authMethod=token).
	VaultAddress, VaultToken string
	// IngressNamespace is the namespace whose pods alone may reach the app port.
	IngressNamespace string
	// Values are further --set values, "key=value".
	Values []string
}

// OperatorValues are the chart values InstallOperator sets: the local images (never
// pulled), Vault on the host with its /32 as the tenants' Vault egress, and the
// stand-in as the default Helpy image.
func (c *Cluster) OperatorValues(o Operator) []string {
	i := strings.LastIndex(c.Images.Operator, ":")
	values := []string{
		"image.repository=" + c.Images.Operator[:i],
		"image.tag=" + c.Images.Operator[i+1:],
		"image.pullPolicy=Never",
		"vault.address=" + o.VaultAddress,
		"vault.authMethod=token",
		"vault.tokenSecret.name=vault-token",
		"vault.tokenSecret.key=token",
		"vault.egressCIDRs=" + c.NodeIP + "/32",
		"network.ingressControllerNamespaceSelector=kubernetes.io/metadata.name=" + o.IngressNamespace,
		"network.cnpgNamespaceSelector=kubernetes.io/metadata.name=cnpg-system",
		"helpy.image=" + c.Images.HelpyStandin,
		"postgres.imageRepository=" + c.Images.PostgresRepository,
		"logLevel=debug",
	}
	return append(values, o.Values...)
}

// InstallOperator installs (or upgrades) the operator with charts/helpdesk-operator and
// waits until its Deployment is available.
func (c *Cluster) InstallOperator(ctx context.Context, o Operator) error {
	helm := os.Getenv(HelmVar)
	if helm == "" {
		return fmt.Errorf("%s is not set: run the e2e tests with `make test-e2e`, which builds the pinned helm", HelmVar)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}
	if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: o.Namespace},
		StringData: map[string]string{"token": o.VaultToken},
	}
	err := c.Client.Create(ctx, secret)
	if apierrors.IsAlreadyExists(err) {
		err = c.Client.Update(ctx, secret)
	}
	if err != nil {
		return fmt.Errorf("the operator's Vault token Secret: %w", err)
	}
	args := []string{"upgrade", "--install", o.Release, filepath.Join(c.Root, "charts", "helpdesk-operator"),
		"--kubeconfig", c.Kubeconfig, "--namespace", o.Namespace, "--wait", "--timeout", "5m"}
	// The token reaches the manager as an environment variable: a new token (a new Vault
	// server on a kept cluster) must roll the pod.
	sum := sha256.Sum256([]byte(o.VaultToken))
	for _, v := range c.OperatorValues(o) {
		args = append(args, "--set", v)
	}
	// --set-string: hex digits alone, or digits around one "e", would be read as a number.
	args = append(args, "--set-string", "podAnnotations.helpdesk-e2e/vault-token-sha256="+hex.EncodeToString(sum[:8]))
	ctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	if out, err := runCommand(ctx, helm, args...); err != nil {
		logs, _ := c.KubectlRun(ctx, nil, "logs", "-n", o.Namespace, "-l", "app.kubernetes.io/instance="+o.Release, "--tail", "50", "--all-containers")
		return fmt.Errorf("helm %s: %w\n%s\noperator logs:\n%s", strings.Join(args[:3], " "), err, out, logs)
	}
	return nil
}

// UninstallOperator removes the Helm release (the CRDs stay, as Helm leaves crds/).
func (c *Cluster) UninstallOperator(ctx context.Context, o Operator) error {
	helm := os.Getenv(HelmVar)
	if helm == "" {
		return fmt.Errorf("%s is not set", HelmVar)
	}
	_, err := runCommand(ctx, helm, "uninstall", o.Release, "--kubeconfig", c.Kubeconfig, "--namespace", o.Namespace, "--wait")
	return err
}

// OperatorLogs are the last lines of the operator's logs, for failure messages.
func (c *Cluster) OperatorLogs(ctx context.Context, o Operator, lines int) string {
	out, err := c.KubectlRun(ctx, nil, "logs", "-n", o.Namespace, "-l", "app.kubernetes.io/instance="+o.Release,
		"--tail", fmt.Sprint(lines), "--all-containers", "--prefix")
	if err != nil {
		return err.Error()
	}
	return out
}
