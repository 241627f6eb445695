package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/controllers"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// operatorImage is what --operator-image says in both runs, helpyImage --helpy-image (the
// operator has no default Helpy image: without one an instance runs no app or migration).
const (
	operatorImage = "registry.example.com/helpdesk-operator:bench"
	helpyImage    = "registry.example.com/helpdesk/helpy:bench"
)

// resourceOptions are the children's options as the manager completes them from the
// flags the bench passes it (controllers.Options.complete): Vault reached at vaultAddr,
// the API server's addresses from its EndpointSlice.
func resourceOptions(ctx context.Context, c client.Client, vaultAddr string) (resources.Options, error) {
	opts := resources.DefaultOptions()
	opts.ManagedBy = controllers.FieldManager
	opts.OperatorImage = operatorImage
	opts.Images = map[v1alpha1.AppProfile]string{v1alpha1.AppProfileHelpy: helpyImage}
	cfg := vault.DefaultConfig()
	opts.Vault.Prefix, opts.Vault.KVMount, opts.Vault.KubernetesAuthMount = cfg.Prefix, cfg.KVMount, cfg.KubernetesMount
	opts.Vault.Address, opts.Vault.TransitMount, opts.Vault.Audience = vaultAddr, cfg.TransitMount, cfg.Audience
	u, err := url.Parse(vaultAddr)
	if err != nil {
		return opts, err
	}
	port, _ := strconv.Atoi(u.Port())
	opts.Vault.CIDRs, opts.Vault.Port = []string{u.Hostname() + "/32"}, int32(port)
	slice := &discoveryv1.EndpointSlice{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, slice); err != nil {
		return opts, err
	}
	for _, e := range slice.Endpoints {
		for _, a := range e.Addresses {
			opts.APIServer.CIDRs = append(opts.APIServer.CIDRs, a+"/32")
		}
	}
	for _, p := range slice.Ports {
		if p.Port != nil {
			opts.APIServer.Port = *p.Port
		}
	}
	opts.TenantEgress = resources.EgressBounds{Denied: append(append([]string{}, resources.DefaultDeniedEgress...), opts.APIServer.CIDRs...)}
	return opts, opts.Validate()
}

// fixtures are the policies as the API server stored them, and the resourceVersions of
// the Secrets they reference.
type fixtures struct {
	access         *v1alpha1.AccessPolicy
	retention      *v1alpha1.RetentionPolicy
	backup         *v1alpha1.BackupPolicy
	secretVersions map[string]string
}

func readFixtures(ctx context.Context, c client.Client) (*fixtures, error) {
	f := &fixtures{access: &v1alpha1.AccessPolicy{}, retention: &v1alpha1.RetentionPolicy{}, backup: &v1alpha1.BackupPolicy{}, secretVersions: map[string]string{}}
	for name, obj := range map[string]client.Object{accessPolicy: f.access, retentionPolicy: f.retention, backupPolicy: f.backup} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: benchNamespace, Name: name}, obj); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"oidc", "captcha", "s3"} {
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: benchNamespace, Name: name}, s); err != nil {
			return nil, err
		}
		f.secretVersions[name] = s.ResourceVersion
	}
	return f, nil
}

// render builds, with the operator's own builders, every object the instance controller
// applies for inst once it has converged (database ready, migration and settings done).
func render(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts resources.Options, f *fixtures, secrets map[string][]byte) ([]client.Object, error) {
	plan := resources.PlanAccess(inst, f.access, prof, opts)
	var objs []client.Object
	add := func(obj client.Object) {
		if !isNil(obj) {
			objs = append(objs, obj)
		}
	}
	for _, np := range resources.NetworkPolicies(inst, prof, opts, plan) {
		add(np)
	}
	add(resources.Cluster(inst, prof, opts))
	add(resources.AttachmentsPVC(inst, prof, opts))
	for _, sa := range resources.ServiceAccounts(inst, prof, opts, "") {
		add(sa)
	}
	add(resources.VaultCAConfigMap(inst, prof, opts))
	add(resources.AppConfigMap(inst, prof, opts))
	add(resources.AppSecret(inst, prof, opts, secrets))
	add(resources.MigrationJob(inst, prof, opts))
	var settings map[string]string
	if s := plan.Settings; s != nil && s.Requested {
		versions := map[string]string{}
		for _, ref := range s.Secrets {
			versions[ref.Name] = f.secretVersions[ref.Name]
		}
		job := resources.SettingsJob(inst, prof, opts, *s, versions)
		add(job)
		settings = map[string]string{"operator-settings": job.Annotations[resources.AnnotationSettingsHash]}
	}
	hash := resources.ConfigHash(prof, resources.ConfigInputs{AppSecrets: secrets, Settings: settings})
	add(resources.Deployment(inst, prof, opts, hash))
	add(resources.PodDisruptionBudget(inst, prof, opts))
	if plan.Gated {
		cfg, err := resources.GateConfig(inst, prof, plan.Policy)
		if err != nil {
			return nil, err
		}
		in := resources.GateInputs{Secrets: secrets, SecretVersions: map[string]string{}}
		for _, ref := range resources.GateSecretRefs(plan.Policy) {
			in.SecretVersions[ref.Name] = f.secretVersions[ref.Name]
		}
		secret, err := resources.GateSecret(inst, prof, opts, cfg, in)
		if err != nil {
			return nil, err
		}
		add(resources.GateServiceAccount(inst, prof, opts))
		add(secret)
		add(resources.GateDeployment(inst, prof, opts, plan.Policy, resources.GateConfigHash(secret, in)))
		add(resources.GateService(inst, prof, opts))
	}
	add(resources.Service(inst, prof, opts))
	for _, obj := range resources.Exposure(inst, prof, opts, plan) {
		add(obj)
	}
	add(resources.BackupCronJob(inst, prof, opts, f.backup))
	add(resources.DrillCronJob(inst, prof, opts, f.backup))
	add(resources.BackupNetworkPolicy(inst, prof, opts, f.backup))
	add(resources.RetentionCronJob(inst, prof, opts, f.retention))
	return objs, nil
}

// isNil tells a typed nil pointer in an interface (a builder with nothing to build).
func isNil(obj client.Object) bool {
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// baselineResult is what the plain client did.
type baselineResult struct {
	elapsed time.Duration
	// perKind counts the objects applied, by kind, over all instances.
	perKind map[string]int
	writes  int64
}

// runBaseline does, with a plain client and workers goroutines, what the operator must
// do for n instances and no more: create each instance, its Vault state (the same
// internal/vault calls the operator makes: its writes, and the reads they begin with),
// every child by server-side apply as one field manager, the status writes the harness
// makes for the controllers that do not run here, and the instance's status once.
func runBaseline(ctx context.Context, w *world, n, workers int) (*baselineResult, error) {
	opts, err := resourceOptions(ctx, w.client, w.vault.Addr)
	if err != nil {
		return nil, err
	}
	f, err := readFixtures(ctx, w.client)
	if err != nil {
		return nil, err
	}
	prof, err := appprofile.For(v1alpha1.AppProfileHelpy)
	if err != nil {
		return nil, err
	}
	vcfg := vault.DefaultConfig()
	vcfg.Address, vcfg.AuthMethod, vcfg.Token = w.vault.Addr, vault.AuthToken, w.vault.RootToken
	vc, err := vault.New(ctx, vcfg, ctrl.Log.WithName("baseline"))
	if err != nil {
		return nil, err
	}
	if err := vc.EnsureMounts(ctx, vault.KubernetesAuthConfig{Host: w.config.Host, CACertPEM: string(w.config.CAData)}); err != nil {
		return nil, err
	}
	specs := make([]vault.SecretSpec, 0, len(prof.Secrets)+2)
	for _, s := range prof.Secrets {
		specs = append(specs, vault.SecretSpec{Key: s.Key, Length: s.Length})
	}
	specs = append(specs, resources.GateVaultSecrets()...)

	res := &baselineResult{perKind: map[string]int{}}
	var mu sync.Mutex
	var writes int64
	next := make(chan int)
	errs := make(chan error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				kinds, nw, err := baselineInstance(ctx, w.client, vc, prof, opts, f, specs, i)
				if err != nil {
					errs <- fmt.Errorf("instance %d: %w", i, err)
					for range next { //nolint:revive // drain
					}
					return
				}
				mu.Lock()
				for k, v := range kinds {
					res.perKind[k] += v
				}
				writes += nw
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	res.elapsed = time.Since(start)
	res.writes = writes
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return res, nil
}

func baselineInstance(ctx context.Context, c client.Client, vc *vault.Client, prof appprofile.Profile, opts resources.Options, f *fixtures, specs []vault.SecretSpec, i int) (map[string]int, int64, error) {
	inst := instance(i)
	inst.Finalizers = []string{"helpdesk.privatedesk.io/vault"}
	if err := c.Create(ctx, inst); err != nil {
		return nil, 0, err
	}
	writes := int64(1)
	tenant := vault.Tenant{Namespace: inst.Namespace, Name: inst.Name, UID: string(inst.UID), ServiceAccounts: resources.VaultServiceAccounts(inst)}
	state, err := vc.EnsureTenant(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	secrets, err := vc.EnsureAppSecrets(ctx, tenant, specs)
	if err != nil {
		return nil, 0, err
	}
	objs, err := render(inst, prof, opts, f, secrets)
	if err != nil {
		return nil, 0, err
	}
	kinds := map[string]int{}
	for _, obj := range objs {
		u, err := apply(ctx, c, obj)
		if err != nil {
			return nil, 0, err
		}
		writes++
		kinds[u.GetKind()]++
		// What the controllers that do not run here write: the harness's part.
		if status := playedStatus(u); status != nil {
			body, err := json.Marshal(map[string]any{"status": status})
			if err != nil {
				return nil, 0, err
			}
			if err := c.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, body)); err != nil {
				return nil, 0, fmt.Errorf("status of %s %s: %w", u.GetKind(), u.GetName(), err)
			}
			writes++
		}
	}
	// The instance's status, once, as the operator writes it when converged.
	inst.Status = v1alpha1.HelpdeskInstanceStatus{
		ObservedGeneration: inst.Generation, URL: resources.SiteURL(inst), DatabaseCluster: resources.NamesFor(inst).DatabaseCluster,
		Encryption: &v1alpha1.EncryptionStatus{KeyName: state.KeyName, LatestKeyVersion: state.LatestVersion},
	}
	for _, t := range []string{v1alpha1.ConditionNetworkIsolated, v1alpha1.ConditionEncryptionReady, v1alpha1.ConditionDatabaseReady,
		v1alpha1.ConditionAppReady, v1alpha1.ConditionAccessEnforced, v1alpha1.ConditionReady} {
		inst.Status.Conditions = append(inst.Status.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: "Bench",
			Message: "set by the baseline", ObservedGeneration: inst.Generation, LastTransitionTime: metav1.Now()})
	}
	if err := c.Status().Update(ctx, inst); err != nil {
		return nil, 0, fmt.Errorf("instance status: %w", err)
	}
	return kinds, writes + 1, nil
}

// apply server-side applies obj as the operator's field manager and returns what the
// server stored.
func apply(ctx context.Context, c client.Client, obj client.Object) (*unstructured.Unstructured, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: content}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(controllers.FieldManager), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return u, nil
}

// playedStatus is the status the harness gives an object whose controller does not run
// on the test API server (CloudNativePG, the Job and Deployment controllers); nil for the
// other kinds.
func playedStatus(u *unstructured.Unstructured) any {
	now := metav1.Now()
	switch u.GetKind() {
	case "Cluster":
		instances, _, _ := unstructured.NestedInt64(u.Object, "spec", "instances")
		return cnpgv1.ClusterStatus{Phase: cnpgv1.PhaseHealthy, ReadyInstances: int(instances),
			Conditions: []metav1.Condition{{Type: string(cnpgv1.ConditionClusterReady), Status: metav1.ConditionTrue, Reason: "ClusterIsReady", LastTransitionTime: now}}}
	case "Job":
		return batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}}
	case "Deployment":
		replicas, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !found {
			replicas = 1
		}
		r := int32(replicas)
		return appsv1.DeploymentStatus{ObservedGeneration: u.GetGeneration(), Replicas: r, UpdatedReplicas: r, ReadyReplicas: r, AvailableReplicas: r}
	}
	return nil
}
