package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// What the operator needs from the cluster besides its own CRDs, checked once at start:
// CloudNativePG's Cluster (every instance's database) and the kinds of the configured
// exposure (Gateway API, Traefik, Envoy Gateway). A kind whose CRD is missing is neither
// cached nor watched, so the manager still starts: the instances then say exactly what is
// missing (DatabaseReady=False/CloudNativePGMissing, Ready=False/ExposureAPIMissing), and
// the start-up log lists it. When a missing CRD appears, the manager exits so that it
// restarts watching it (--preflight-interval).

// cnpgClusterGVK is CloudNativePG's Cluster, the database of every instance.
var cnpgClusterGVK = cnpgv1.SchemeGroupVersion.WithKind("Cluster")

// kindInstalled reports whether the API server serves gvk.
func kindInstalled(mapper meta.RESTMapper, gvk schema.GroupVersionKind) bool {
	_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil
}

// InstalledOptionalKinds are empty objects of the kinds whose CRDs other projects install
// and that the cluster has: CloudNativePG's Cluster and the exposure kinds. The manager
// caches them like the other children (CacheOptions); a cache entry for a kind the API
// server does not know would keep the manager from starting.
func InstalledOptionalKinds(mapper meta.RESTMapper) []client.Object {
	var out []client.Object
	if kindInstalled(mapper, cnpgClusterGVK) {
		out = append(out, &cnpgv1.Cluster{})
	}
	return append(out, InstalledExposureKinds(mapper)...)
}

// requiredExposureKinds are the kinds beyond Ingress the configured exposure builds.
func requiredExposureKinds(x resources.ExposureOptions) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	if x.Mode == resources.ExposureGateway {
		out = append(out, schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"})
	}
	switch x.Edge {
	case resources.EdgeTraefik:
		out = append(out, resources.TraefikMiddlewareGVK())
	case resources.EdgeEnvoyGateway:
		out = append(out, resources.EnvoyGatewayGVKs()...)
	}
	return out
}

// crdName is the CustomResourceDefinition that serves gvk, as kubectl get crd shows it
// (the plural the way these kinds form it: clusters, httproutes, securitypolicies).
func crdName(gvk schema.GroupVersionKind) string {
	plural := strings.ToLower(gvk.Kind)
	if strings.HasSuffix(plural, "y") {
		plural = strings.TrimSuffix(plural, "y") + "ies"
	} else {
		plural += "s"
	}
	return plural + "." + gvk.Group
}

// missingPrerequisite is one missing CRD, with what provides it.
type missingPrerequisite struct {
	gvk      schema.GroupVersionKind
	provider string
}

func (m missingPrerequisite) String() string {
	return fmt.Sprintf("%s (CRD %s, from %s)", m.gvk.Kind, crdName(m.gvk), m.provider)
}

// missingPrerequisites are the CRDs the operator's configuration needs that the API server
// does not serve.
func missingPrerequisites(mapper meta.RESTMapper, opts Options) []missingPrerequisite {
	var out []missingPrerequisite
	if !kindInstalled(mapper, cnpgClusterGVK) {
		out = append(out, missingPrerequisite{cnpgClusterGVK, "CloudNativePG"})
	}
	for _, gvk := range requiredExposureKinds(opts.Resources.Exposure) {
		if !kindInstalled(mapper, gvk) {
			out = append(out, missingPrerequisite{gvk, exposureProvider(gvk)})
		}
	}
	return out
}

func exposureProvider(gvk schema.GroupVersionKind) string {
	switch gvk.Group {
	case "gateway.networking.k8s.io":
		return "Gateway API (standard channel)"
	case resources.TraefikMiddlewareGVK().Group:
		return "Traefik"
	}
	return "Envoy Gateway"
}

// vaultSetupChecker is the part of the Vault client preflight asks.
type vaultSetupChecker interface {
	SetupProblem(ctx context.Context) (string, error)
}

// preflight logs, once at start, everything the operator's environment lacks, each with
// what to do, and adds the watcher that restarts the manager when a missing CRD appears.
func preflight(ctx context.Context, mgr ctrl.Manager, opts Options, v vaultSetupChecker) error {
	log := ctrl.Log.WithName("preflight")
	missing := missingPrerequisites(mgr.GetRESTMapper(), opts)
	for _, m := range missing {
		switch m.gvk {
		case cnpgClusterGVK:
			log.Error(nil, "CloudNativePG is not installed: the API server does not serve "+m.String()+
				"; every HelpdeskInstance says DatabaseReady=False/CloudNativePGMissing and gets no database until it is. Install CloudNativePG (its operator and CRDs); the manager restarts by itself when the CRD appears",
				"missing", crdName(m.gvk))
		default:
			log.Error(nil, fmt.Sprintf("The %s exposure needs %s, which the API server does not serve; instances are not exposed (Ready=False/ExposureAPIMissing) until it is installed; the manager restarts by itself when the CRD appears",
				opts.Resources.Exposure, m), "missing", crdName(m.gvk))
		}
	}
	if v != nil {
		checkCtx, cancel := context.WithTimeout(ctx, 2*opts.Vault.RequestTimeout+time.Second)
		problem, err := v.SetupProblem(checkCtx)
		cancel()
		switch {
		case err != nil:
			log.Info("Could not check Vault's set-up at start; instances report it (EncryptionReady)", "error", err.Error())
		case problem != "":
			log.Error(nil, "Vault is not set up for the operator: every HelpdeskInstance says EncryptionReady=False/VaultNotConfigured until it is. "+
				"Run `helpdesk-operator vault-setup` as a Vault administrator (README: Vault)", "problem", problem)
		}
	}
	if len(missing) == 0 {
		log.Info("CloudNativePG and the exposure's CRDs are installed", "exposure", opts.Resources.Exposure.String())
		return nil
	}
	if opts.packaging.preflightInterval <= 0 {
		return nil
	}
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	return mgr.Add(&prerequisiteWatcher{discovery: dc, missing: missing, interval: opts.packaging.preflightInterval, log: log})
}

// ErrPrerequisiteInstalled ends the manager when a CRD that was missing at start appears:
// only a new start caches and watches it. The pod restarts and picks it up.
var ErrPrerequisiteInstalled = errors.New("a CRD that was missing at start is installed now: restarting to watch it")

// prerequisiteWatcher looks for the missing CRDs every interval, on every replica.
type prerequisiteWatcher struct {
	discovery discovery.DiscoveryInterface
	missing   []missingPrerequisite
	interval  time.Duration
	log       logr.Logger
}

// NeedLeaderElection: every replica caches the kinds, so every replica restarts.
func (w *prerequisiteWatcher) NeedLeaderElection() bool { return false }

func (w *prerequisiteWatcher) Start(ctx context.Context) error {
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		var appeared []string
		for _, m := range w.missing {
			if served(w.discovery, m.gvk) {
				appeared = append(appeared, crdName(m.gvk))
			}
		}
		if len(appeared) > 0 {
			sort.Strings(appeared)
			w.log.Info("Installed since the start: restarting to watch them", "crds", appeared)
			return fmt.Errorf("%w: %s", ErrPrerequisiteInstalled, strings.Join(appeared, ", "))
		}
	}
}

// served asks the API server itself (no cached mapping) whether it serves gvk.
func served(dc discovery.DiscoveryInterface, gvk schema.GroupVersionKind) bool {
	list, err := dc.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Kind == gvk.Kind && !strings.Contains(r.Name, "/") {
			return true
		}
	}
	return false
}

// cloudNativePGMissing sets DatabaseReady=False/CloudNativePGMissing when CloudNativePG's
// Cluster CRD was not installed at start: the instance gets no database (and so no app)
// until it is.
func (r *HelpdeskInstanceReconciler) cloudNativePGMissing(scope *instanceScope) bool {
	if !r.cnpgMissing {
		return false
	}
	setCondition(scope.inst, v1alpha1.ConditionDatabaseReady, metav1.ConditionFalse, v1alpha1.ReasonCloudNativePGMissing,
		fmt.Sprintf("CloudNativePG is not installed: the API server does not serve its Cluster kind (CRD %s). Install CloudNativePG; the operator restarts by itself when the CRD appears", crdName(cnpgClusterGVK)))
	return true
}

// exposureAPIMissing reports, as a reason the instance is not Ready, the kinds among objs
// whose CRDs were not installed at start, and then leaves the routes alone: the instance is
// not exposed until they are.
func (r *HelpdeskInstanceReconciler) exposureAPIMissing(scope *instanceScope, objs []client.Object) bool {
	seen := map[string]bool{}
	var missing []string
	for _, obj := range objs {
		gvk := obj.GetObjectKind().GroupVersionKind()
		if r.exposureKinds.has(obj) || seen[gvk.String()] {
			continue
		}
		seen[gvk.String()] = true
		missing = append(missing, fmt.Sprintf("%s (CRD %s, from %s)", gvk.Kind, crdName(gvk), exposureProvider(gvk)))
	}
	if len(missing) == 0 {
		return false
	}
	sort.Strings(missing)
	scope.report(v1alpha1.ReasonExposureAPIMissing, fmt.Sprintf("The %s exposure needs %s, which the API server did not serve when the operator started; the instance is not exposed until it is installed (the operator restarts by itself when it appears)",
		r.Resources.Exposure, strings.Join(missing, " and ")))
	return true
}
