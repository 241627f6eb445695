package resources

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// Options is the operator-wide configuration the builders need; the controller fills it
// from flags once at start-up and checks it with Validate.
type Options struct {
	// ManagedBy is the app.kubernetes.io/managed-by value; use the SSA field manager name.
	ManagedBy string

	// Images overrides a profile's default image; spec.app.image overrides both.
	Images map[v1alpha1.AppProfile]string

	// PostgresImageRepository is combined with the major version as <repository>:<major>.
	PostgresImageRepository string
	// PostgresImages pins the image of a major version (e.g. to a digest), overriding
	// PostgresImageRepository for that version.
	PostgresImages map[int32]string
	// PostgresUID is the user (and group) the PostgreSQL image runs its server as, which
	// the image's /etc/passwd knows; drill pods start their throwaway server as it.
	PostgresUID int64

	// AttachmentsAccessMode of new attachments volumes. PersistentVolumeClaim access modes
	// are immutable, so changing it only affects instances created afterwards (and the
	// apply of an existing claim with another mode fails). ReadWriteOnce keeps the app
	// pods on one node; ReadWriteMany lets them spread.
	AttachmentsAccessMode corev1.PersistentVolumeAccessMode

	// IngressController is where the edge's pods run (the ingress controller's, or the
	// Gateway implementation's proxies); they alone may reach the application port, or
	// the gate's when one runs.
	IngressController PeerSelector

	// Exposure says how instances are exposed: Ingresses or HTTPRoutes, and for which
	// implementation (exposure.go).
	Exposure ExposureOptions

	// Gate configures the access gate of instances with SSO (gate.go).
	Gate GateOptions

	// CloudNativePGOperator is where the CloudNativePG operator runs; it alone may reach
	// the instance manager port of the database pods.
	CloudNativePGOperator PeerSelector

	// DNS is the cluster DNS service every pod of an instance may query.
	DNS DNSOptions

	// Vault is the Vault server, for network policy and the Vault Agent injector.
	Vault VaultOptions

	// APIServer is the Kubernetes API server the database pods talk to. NetworkPolicies
	// cannot select it, so the controller passes the addresses of the endpoints of the
	// default/kubernetes Service and their port (usually 6443, not the Service's 443,
	// because policies see traffic after the Service is resolved).
	APIServer CIDREndpoint

	// TenantEgress bounds the egress CIDRs a tenant's spec may open.
	TenantEgress EgressBounds

	// AllowedHostnameSuffixes, when set, are the only DNS suffixes an instance's hostname
	// may have (e.g. ".tenants.example.com"), so no tenant can take the platform's own
	// hosts or another domain.
	AllowedHostnameSuffixes []string

	// CertManager enables cert-manager annotations on Ingresses whose spec.tls sets an
	// issuer; without it the issuer is ignored and the TLS Secret must exist.
	CertManager bool

	// IngressBodySize, when set, limits request bodies at the ingress controller
	// (ingress-nginx annotation), e.g. "25m"; keep it above the largest upload.
	IngressBodySize string

	// MigrationBackoffLimit is how often a failed migration Job is retried.
	MigrationBackoffLimit int32

	// ImagePullSecrets name Secrets, in each instance's namespace, that every pod of the
	// instance (and its CloudNativePG cluster) pulls its images with (pullsecrets.go).
	ImagePullSecrets []string

	// OperatorImage is the operator's own image. Backup, drill and restore pods copy its
	// binary (/helpdesk-operator) into the PostgreSQL image of the instance, so the image
	// must also ship cp.
	OperatorImage string
}

// PeerSelector selects pods in other namespaces. NamespaceSelector is required; a nil
// PodSelector means every pod of the selected namespaces.
type PeerSelector struct {
	NamespaceSelector *metav1.LabelSelector
	PodSelector       *metav1.LabelSelector
}

// DNSOptions selects the cluster DNS service.
type DNSOptions struct {
	PeerSelector
	// CIDRs adds address peers, e.g. NodeLocal DNSCache's 169.254.20.10/32.
	CIDRs []string
	Port  int32
}

// VaultOptions locates Vault for network policy and configures the Vault Agent injector
// annotations. The names must match internal/vault: role <Prefix>-<namespace>-<name>,
// secret <KVMount>/data/<Prefix>/<namespace>/<name>.
type VaultOptions struct {
	// Peer selects in-cluster Vault pods; leave it empty for an external Vault.
	Peer PeerSelector
	// CIDRs of an external Vault (or of an in-cluster one, by address).
	CIDRs []string
	Port  int32

	// Prefix of the tenant names in Vault (vault.Config's prefix).
	Prefix string
	// KVMount is the KV version 2 mount holding the app secrets.
	KVMount string
	// KubernetesAuthMount is where the Kubernetes auth method is mounted.
	KubernetesAuthMount string
	// Address is Vault's URL as the backup pods reach it.
	Address string
	// TransitMount holds the tenants' transit keys, which encrypt backups.
	TransitMount string
	// Audience is the audience of the projected tokens pods log in to Vault with; the
	// tenant roles accept no other (vault.Config.Audience).
	Audience string
	// CABundle is the PEM certificate authority of Vault's TLS certificate when it is
	// private (the operator's --vault-ca-cert). Backup, drill and restore pods get it
	// from a ConfigMap in the instance's namespace: a CA certificate is public.
	CABundle string
}

// CIDREndpoint is a set of address ranges on one TCP port.
type CIDREndpoint struct {
	CIDRs []string
	Port  int32
}

// DefaultOptions are the defaults of the operator's flags.
func DefaultOptions() Options {
	return Options{
		ManagedBy:               "helpdesk-operator",
		PostgresImageRepository: "ghcr.io/cloudnative-pg/postgresql",
		// CloudNativePG's images and its default spec.postgresUID.
		PostgresUID:           26,
		AttachmentsAccessMode: corev1.ReadWriteOnce,
		IngressController: PeerSelector{
			NamespaceSelector: namespaceNamed("ingress-nginx"),
		},
		Exposure: DefaultExposure(),
		CloudNativePGOperator: PeerSelector{
			NamespaceSelector: namespaceNamed("cnpg-system"),
		},
		DNS: DNSOptions{
			PeerSelector: PeerSelector{
				NamespaceSelector: namespaceNamed("kube-system"),
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			},
			Port: 53,
		},
		Vault: VaultOptions{
			Port:                8200,
			Prefix:              "helpdesk",
			KVMount:             "secret",
			KubernetesAuthMount: "kubernetes",
			TransitMount:        "transit",
			Audience:            "vault",
		},
		APIServer:             CIDREndpoint{Port: 6443},
		TenantEgress:          EgressBounds{Denied: append([]string(nil), DefaultDeniedEgress...)},
		MigrationBackoffLimit: 3,
	}
}

// namespaceNamed selects a namespace by the label the API server sets on every namespace.
func namespaceNamed(name string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: name}}
}

// Validate reports configuration that would build broken or over-permissive objects. An
// empty selector would open a port to every namespace or pod, so it is refused.
func (o Options) Validate() error {
	var errs []error
	if o.ManagedBy == "" {
		errs = append(errs, errors.New("managed-by must not be empty"))
	}
	if o.PostgresUID < 1 {
		errs = append(errs, errors.New("the PostgreSQL UID must be a positive number (CloudNativePG's images use 26)"))
	}
	if o.PostgresImageRepository == "" {
		errs = append(errs, errors.New("the PostgreSQL image repository must not be empty"))
	}
	switch o.AttachmentsAccessMode {
	case corev1.ReadWriteOnce, corev1.ReadWriteMany:
	default:
		errs = append(errs, fmt.Errorf("attachments access mode %q: must be ReadWriteOnce or ReadWriteMany", o.AttachmentsAccessMode))
	}
	errs = append(errs, o.IngressController.validate("ingress controller", true))
	errs = append(errs, o.Exposure.Validate(), o.Gate.validate())
	errs = append(errs, o.CloudNativePGOperator.validate("CloudNativePG operator", true))
	errs = append(errs, o.DNS.PeerSelector.validate("DNS", len(o.DNS.CIDRs) == 0))
	errs = append(errs, validCIDRs("DNS", o.DNS.CIDRs), validPort("DNS", o.DNS.Port))
	errs = append(errs, o.Vault.Peer.validate("Vault", len(o.Vault.CIDRs) == 0))
	errs = append(errs, validCIDRs("Vault", o.Vault.CIDRs), validPort("Vault", o.Vault.Port))
	if o.Vault.Prefix == "" || o.Vault.KVMount == "" || o.Vault.KubernetesAuthMount == "" || o.Vault.Audience == "" {
		errs = append(errs, errors.New("the Vault prefix, KV mount, Kubernetes auth mount and audience must not be empty"))
	}
	if len(o.APIServer.CIDRs) == 0 {
		errs = append(errs, errors.New("the API server addresses are required: the database pods cannot work without it"))
	}
	errs = append(errs, validCIDRs("API server", o.APIServer.CIDRs), validPort("API server", o.APIServer.Port))
	errs = append(errs, validCIDRs("tenant egress allowed ranges", o.TenantEgress.Allowed), validCIDRs("tenant egress denied ranges", o.TenantEgress.Denied))
	for _, suffix := range o.AllowedHostnameSuffixes {
		if !strings.HasPrefix(suffix, ".") || len(suffix) < 2 {
			errs = append(errs, fmt.Errorf("allowed hostname suffix %q must start with a dot, e.g. .tenants.example.com", suffix))
		}
	}
	if o.OperatorImage == "" {
		errs = append(errs, errors.New("the operator image is required (--operator-image): backup, drill and restore pods copy the operator binary from it"))
	}
	for _, name := range o.ImagePullSecrets {
		if problems := validation.IsDNS1123Subdomain(name); len(problems) > 0 {
			errs = append(errs, fmt.Errorf("image pull secret %q is not a Secret name: %s", name, strings.Join(problems, "; ")))
		}
	}
	if o.MigrationBackoffLimit < 0 {
		errs = append(errs, errors.New("the migration backoff limit must not be negative"))
	}
	return errors.Join(errs...)
}

func (p PeerSelector) validate(what string, required bool) error {
	if p.NamespaceSelector == nil {
		if p.PodSelector != nil {
			return fmt.Errorf("%s: a pod selector needs a namespace selector", what)
		}
		if required {
			return fmt.Errorf("%s: a namespace selector is required", what)
		}
		return nil
	}
	if emptySelector(p.NamespaceSelector) {
		return fmt.Errorf("%s: the namespace selector is empty and would match every namespace", what)
	}
	if p.PodSelector != nil && emptySelector(p.PodSelector) {
		return fmt.Errorf("%s: the pod selector is empty; leave it unset to mean every pod of the namespaces", what)
	}
	for _, s := range []*metav1.LabelSelector{p.NamespaceSelector, p.PodSelector} {
		if s == nil {
			continue
		}
		if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

func (p PeerSelector) set() bool { return p.NamespaceSelector != nil }

func emptySelector(s *metav1.LabelSelector) bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

func validCIDRs(what string, cidrs []string) error {
	for _, c := range cidrs {
		if _, err := netip.ParsePrefix(c); err != nil {
			return fmt.Errorf("%s: %q is not a CIDR such as 10.0.0.1/32", what, c)
		}
	}
	return nil
}

func validPort(what string, port int32) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("%s: port %d is not between 1 and 65535", what, port)
	}
	return nil
}
