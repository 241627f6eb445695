package operator

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// RunVaultSetup sets a Vault up for the operator with an administrator's token (VAULT_TOKEN):
// the transit, KV v2 and Kubernetes auth mounts, Kubernetes auth for this cluster (with
// alias metadata from ServiceAccount annotations, which the tenant policies read), the
// three fixed tenant policies, the operator's policy and its role. Safe to repeat.
func RunVaultSetup(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("vault-setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg vault.Config
	cfg.BindFlags(fs)
	var k vault.KubernetesAuthConfig
	var caFile, reviewerFile string
	fs.StringVar(&k.Host, "kubernetes-host", "", "The API server's URL as Vault reaches it; empty takes it from the kubeconfig.")
	fs.StringVar(&caFile, "kubernetes-ca-file", "", "PEM file with the API server's CA, for a Vault outside the cluster; empty takes it from the kubeconfig when the host is too.")
	fs.StringVar(&reviewerFile, "token-reviewer-jwt-file", "",
		"File with the token Vault reviews logins and reads ServiceAccounts with (a ServiceAccount with system:auth-delegator and get on serviceaccounts); required for a Vault outside the cluster.")
	in := fs.Bool("in-cluster-vault", false, "Vault runs in this cluster and uses its own pod's CA and token: set no CA and no reviewer token.")
	op := vault.OperatorIdentity{}
	fs.StringVar(&op.Role, "operator-role", "helpdesk-operator", "The operator's Kubernetes auth role (the manager's --vault-role).")
	fs.StringVar(&op.Namespace, "operator-namespace", "helpdesk-system", "Namespace the operator runs in.")
	fs.StringVar(&op.ServiceAccount, "operator-service-account", "helpdesk-operator", "ServiceAccount the operator runs as.")
	fs.StringVar(&op.Policy, "operator-policy", "helpdesk-operator", "Name of the operator's own Vault policy.")
	var logging zap.Options
	logging.BindFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: VAULT_ADDR=... VAULT_TOKEN=<admin token> helpdesk-operator vault-setup [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&logging)))
	cfg.AuthMethod = vault.AuthToken
	if k.Host == "" {
		rest, err := ctrl.GetConfig()
		if err != nil {
			return fmt.Errorf("--kubernetes-host is empty and no kubeconfig says where the API server is: %w", err)
		}
		k.Host = rest.Host
		if caFile == "" && !*in {
			k.CACertPEM = string(rest.CAData)
		}
	}
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("--kubernetes-ca-file: %w", err)
		}
		k.CACertPEM = string(ca)
	}
	if reviewerFile != "" {
		jwt, err := os.ReadFile(reviewerFile)
		if err != nil {
			return fmt.Errorf("--token-reviewer-jwt-file: %w", err)
		}
		k.ReviewerJWT = strings.TrimSpace(string(jwt))
	}
	if *in {
		k.CACertPEM, k.ReviewerJWT = "", ""
	} else if k.ReviewerJWT == "" {
		return fmt.Errorf("a Vault outside the cluster needs --token-reviewer-jwt-file (or --in-cluster-vault): tenant tokens are for Vault's audience, which the API server refuses as a reviewer's credential")
	}
	c, err := vault.New(ctx, cfg, ctrl.Log.WithName("vault-setup"))
	if err != nil {
		return err
	}
	return c.SetUp(ctx, k, op)
}
