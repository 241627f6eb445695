package controllers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get,resourceNames=kubernetes

// FieldManager is the one server-side apply field manager the operator writes as.
const FieldManager = "helpdesk-operator"

// Options configure the controllers; the manager binds them to flags.
type Options struct {
	// Vault says how to reach and log in to Vault.
	Vault vault.Config
	// Resources configure the children of an instance.
	Resources resources.Options
	// VaultRecheck is how often an unchanged instance's Vault state is read again.
	VaultRecheck time.Duration
	// InstanceWorkers and PolicyWorkers are how many instances, and policies of each
	// kind, are reconciled at once.
	InstanceWorkers, PolicyWorkers int

	// access holds the exposure, edge and gate flags (options_access.go).
	access accessFlags
	// packaging holds the installation's flags (options_packaging.go).
	packaging packagingFlags

	cnpgNamespaces, vaultNamespaces, vaultPods                  string
	vaultCIDRs, apiServerCIDRs, dnsCIDRs                        string
	egressAllowed, egressDenied, clusterCIDRs, hostnameSuffixes string
	helpyImage                                                  string
}

// BindFlags registers the controllers' flags on fs, with their defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.Vault.BindFlags(fs)
	fs.IntVar(&o.InstanceWorkers, "instance-workers", 4, "How many HelpdeskInstances are reconciled at once.")
	fs.IntVar(&o.PolicyWorkers, "policy-workers", 2, "How many policies of each kind are reconciled at once.")
	fs.DurationVar(&o.VaultRecheck, "vault-recheck-interval", time.Hour,
		"How often an instance whose spec did not change has its Vault state (key, roles, secrets) checked again, plus up to a tenth for spread; Vault errors and spec changes check at once. 0 checks on every reconcile.")
	o.Resources = resources.DefaultOptions()
	o.Resources.ManagedBy = FieldManager
	o.access.bind(fs)
	o.packaging.bind(fs)
	fs.StringVar(&o.cnpgNamespaces, "cnpg-namespace-selector", "kubernetes.io/metadata.name=cnpg-system",
		"Label selector of the namespace the CloudNativePG operator runs in; only it may reach the database instance managers.")
	fs.StringVar(&o.vaultCIDRs, "vault-egress-cidrs", "",
		"Comma-separated CIDRs of Vault for the instances' egress policy; empty derives them from --vault-address when it is an IP address.")
	fs.StringVar(&o.vaultNamespaces, "vault-namespace-selector", "",
		"Label selector of the namespace of an in-cluster Vault, for the instances' egress policy (instead of --vault-egress-cidrs).")
	fs.StringVar(&o.vaultPods, "vault-pod-selector", "",
		"Label selector of the Vault pods inside --vault-namespace-selector; empty means every pod there.")
	fs.StringVar(&o.apiServerCIDRs, "api-server-cidrs", "",
		"Comma-separated CIDRs of the Kubernetes API server for the database pods' egress; empty reads them from the default/kubernetes endpoints at start.")
	fs.StringVar(&o.dnsCIDRs, "dns-egress-cidrs", "", "Extra CIDRs of DNS servers the instances may query, e.g. NodeLocal DNSCache's 169.254.20.10/32.")
	fs.StringVar(&o.helpyImage, "helpy-image", "", "Default Helpy image, used when an instance does not set spec.app.image.")
	fs.StringVar(&o.egressAllowed, "tenant-egress-allowed-cidrs", "",
		"Comma-separated CIDRs that tenants' egress CIDRs (SMTP relay, additional egress, S3 egress) must fall in; empty allows any range outside the denied ones.")
	fs.StringVar(&o.egressDenied, "tenant-egress-denied-cidrs", strings.Join(resources.DefaultDeniedEgress, ","),
		"Comma-separated CIDRs cut out of every tenant egress rule (a tenant CIDR inside one is refused); the API server's addresses and --cluster-cidrs are always added.")
	fs.StringVar(&o.clusterCIDRs, "cluster-cidrs", "",
		"Comma-separated CIDRs of the cluster's own networks (pods, Services, nodes), which tenant egress rules never reach.")
	fs.StringVar(&o.hostnameSuffixes, "allowed-hostname-suffixes", "",
		"Comma-separated DNS suffixes, each starting with a dot (e.g. .tenants.example.com), that instance hostnames must end in; empty allows any hostname.")
	fs.StringVar(&o.Resources.OperatorImage, "operator-image", "",
		"The operator's own image (required); backup, drill and restore pods copy its /helpdesk-operator binary into the PostgreSQL image.")
	fs.StringVar(&o.Resources.PostgresImageRepository, "postgres-image-repository", o.Resources.PostgresImageRepository,
		"Repository of the PostgreSQL images; the tag is the major version.")
	fs.Int64Var(&o.Resources.PostgresUID, "postgres-uid", o.Resources.PostgresUID,
		"UID (and GID) of the PostgreSQL images' server user; restore drills start their scratch server as it.")
	fs.BoolVar(&o.Resources.CertManager, "cert-manager", false, "Annotate Ingresses for cert-manager when an instance's spec.tls names an issuer.")
	fs.StringVar(&o.Resources.IngressBodySize, "ingress-body-size", "", "Request body limit set on Ingresses (ingress-nginx), e.g. 25m; keep it above the largest upload.")
}

// complete turns the flag values into Options.Resources, reading the API server's
// endpoints when they were not given. Errors name the flag to fix.
func (o *Options) complete(ctx context.Context, reader client.Reader) error {
	var errs []error
	selector := func(flagName, value string) *metav1.LabelSelector {
		if value == "" {
			return nil
		}
		s, err := metav1.ParseToLabelSelector(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: %w", flagName, value, err))
		}
		return s
	}
	errs = append(errs, o.access.complete(&o.Resources))
	o.packaging.complete(&o.Resources)
	o.Resources.CloudNativePGOperator.NamespaceSelector = selector("cnpg-namespace-selector", o.cnpgNamespaces)
	o.Resources.Vault.Peer = resources.PeerSelector{
		NamespaceSelector: selector("vault-namespace-selector", o.vaultNamespaces),
		PodSelector:       selector("vault-pod-selector", o.vaultPods),
	}
	o.Resources.Vault.Prefix, o.Resources.Vault.KVMount, o.Resources.Vault.KubernetesAuthMount = o.Vault.Prefix, o.Vault.KVMount, o.Vault.KubernetesMount
	o.Resources.Vault.Address, o.Resources.Vault.TransitMount = o.Vault.Address, o.Vault.TransitMount
	o.Resources.Vault.CIDRs = splitList(o.vaultCIDRs)
	if port, err := addressPort(o.Vault.Address); err == nil {
		// The address's port counts whichever way Vault's addresses (CIDRs, selectors) are given.
		o.Resources.Vault.Port = port
	}
	if len(o.Resources.Vault.CIDRs) == 0 && o.Resources.Vault.Peer.NamespaceSelector == nil {
		cidr, port, err := addressCIDR(o.Vault.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("--vault-egress-cidrs or --vault-namespace-selector is required: %w", err))
		} else {
			o.Resources.Vault.CIDRs, o.Resources.Vault.Port = []string{cidr}, port
		}
	}
	if o.Vault.CACertFile != "" {
		ca, err := os.ReadFile(o.Vault.CACertFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--vault-ca-cert: %w", err))
		}
		o.Resources.Vault.CABundle = string(ca)
	}
	o.Resources.DNS.CIDRs = splitList(o.dnsCIDRs)
	o.Resources.Vault.Audience = o.Vault.Audience
	o.Resources.TenantEgress = resources.EgressBounds{
		Allowed: splitList(o.egressAllowed),
		Denied:  append(splitList(o.egressDenied), splitList(o.clusterCIDRs)...),
	}
	o.Resources.AllowedHostnameSuffixes = splitList(o.hostnameSuffixes)
	if o.helpyImage != "" {
		o.Resources.Images = map[v1alpha1.AppProfile]string{v1alpha1.AppProfileHelpy: o.helpyImage}
	}
	o.Resources.APIServer.CIDRs = splitList(o.apiServerCIDRs)
	if len(o.Resources.APIServer.CIDRs) == 0 {
		cidrs, port, err := apiServerEndpoints(ctx, reader)
		if err != nil {
			errs = append(errs, fmt.Errorf("--api-server-cidrs is empty and %w", err))
		} else {
			o.Resources.APIServer.CIDRs, o.Resources.APIServer.Port = cidrs, port
		}
	}
	// Only the database pods may talk to the API server.
	o.Resources.TenantEgress.Denied = append(o.Resources.TenantEgress.Denied, o.Resources.APIServer.CIDRs...)
	if len(errs) == 0 {
		errs = append(errs, o.Resources.Validate())
	}
	return errors.Join(errs...)
}

// addressCIDR turns a Vault URL with an IP address host into a /32 (or /128) and port.
func addressCIDR(address string) (string, int32, error) {
	u, err := url.Parse(address)
	if err != nil {
		return "", 0, fmt.Errorf("the Vault address %q is not a URL", address)
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return "", 0, fmt.Errorf("the Vault address %q has a host name, not an IP address", address)
	}
	port, err := addressPort(address)
	if err != nil {
		return "", 0, err
	}
	return netip.PrefixFrom(ip, ip.BitLen()).String(), port, nil
}

// addressPort is the TCP port of a Vault URL: its own, else 443 for https without one,
// else Vault's 8200.
func addressPort(address string) (int32, error) {
	u, err := url.Parse(address)
	if err != nil || u.Host == "" {
		return 0, fmt.Errorf("the Vault address %q is not a URL", address)
	}
	if p := u.Port(); p != "" {
		var port int32
		if _, err := fmt.Sscan(p, &port); err != nil || port < 1 {
			return 0, fmt.Errorf("the Vault address %q has port %q", address, p)
		}
		return port, nil
	}
	if u.Scheme == "https" {
		return 443, nil
	}
	return 8200, nil
}

// apiServerEndpoints reads the addresses behind the default/kubernetes Service, from the
// EndpointSlice the API server keeps for it (named kubernetes): network policies see the
// endpoint addresses and port, not the Service's. The operator may read only that one.
func apiServerEndpoints(ctx context.Context, reader client.Reader) ([]string, int32, error) {
	slice := &discoveryv1.EndpointSlice{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, slice); err != nil {
		return nil, 0, fmt.Errorf("reading the default/kubernetes EndpointSlice failed: %w", err)
	}
	var cidrs []string
	var port int32
	for _, p := range slice.Ports {
		if p.Port != nil && (p.Name == nil || *p.Name == "https") {
			port = *p.Port
		}
	}
	for _, endpoint := range slice.Endpoints {
		for _, address := range endpoint.Addresses {
			if ip := net.ParseIP(address); ip != nil {
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				cidrs = append(cidrs, fmt.Sprintf("%s/%d", address, bits))
			}
		}
	}
	if len(cidrs) == 0 || port == 0 {
		return nil, 0, errors.New("the default/kubernetes EndpointSlice lists no address")
	}
	return cidrs, port, nil
}

func splitList(value string) []string {
	var out []string
	for _, item := range strings.Split(value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
