package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/netpol"
)

const clientSecretValue = "oidc-client-secret-value-never-shown"

// oidcAccessPolicy: OIDC with a group, MFA (the default), both allow-lists, the provider's
// address for the gate's egress.
func oidcAccessPolicy(ns, name string) *v1alpha1.AccessPolicy {
	return &v1alpha1.AccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.AccessPolicySpec{
			AgentAllowedCIDRs:  []string{"203.0.113.0/24", "198.51.100.16/28"},
			PortalAllowedCIDRs: []string{"192.0.2.0/24"},
			SSO: &v1alpha1.SSOSpec{
				OIDC: &v1alpha1.OIDCSpec{
					IssuerURL: "https://login.example.com/realms/acme", ClientID: "helpdesk",
					ClientSecretRef: v1alpha1.SecretKeyReference{Name: "oidc", Key: "client-secret"},
					AllowedGroups:   []string{"support-agents"},
				},
				ProviderCIDRs: []string{"198.18.0.10/32"},
			},
		},
	}
}

func withAccessPolicy(name string) func(*v1alpha1.HelpdeskInstance) {
	return func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.AccessPolicyRef = &v1alpha1.LocalObjectReference{Name: name}
		i.Spec.TLS = &v1alpha1.TLSSpec{SecretName: i.Name + "-tls"}
	}
}

// markGateAvailable plays the Deployment controller for the instance's gate, for its
// current generation.
func markGateAvailable(t *testing.T, inst *v1alpha1.HelpdeskInstance) {
	t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.AccessNamesFor(inst).Gate}}
	eventually(t, wait, exists(d))
	replicas := ptr.Deref(d.Spec.Replicas, 1)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
	if err := k8sClient.Status().Update(context.Background(), d); err != nil {
		t.Fatalf("marking the gate available: %v", err)
	}
}

// bringUpGuarded creates inst and plays the controllers until its app and gate run.
func bringUpGuarded(t *testing.T, inst *v1alpha1.HelpdeskInstance) {
	t.Helper()
	mustCreate(t, inst)
	markDatabaseReady(t, inst)
	// The migration Job of this instance: the namespace may hold another instance's.
	jobs := &batchv1.JobList{}
	eventually(t, wait, func() error {
		if err := k8sClient.List(context.Background(), jobs, client.InNamespace(inst.Namespace), client.MatchingLabels{
			resources.LabelComponent: resources.ComponentMigration, resources.LabelHelpdeskInstance: inst.Name,
		}); err != nil {
			return err
		}
		if len(jobs.Items) != 1 {
			return fmt.Errorf("want 1 migration Job of %s, found %d", inst.Name, len(jobs.Items))
		}
		return nil
	})
	now := time.Now()
	finishJob(t, &jobs.Items[0], now, now, true)
	markDeploymentAvailable(t, inst, 1)
	markGateAvailable(t, inst)
}

func ingress(inst *v1alpha1.HelpdeskInstance, name string) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: name}}
}

// annotationIs waits for an annotation of an object to have a value ("" for absent).
func annotationIs(obj client.Object, key, want string) func() error {
	return func() error {
		if err := get(obj); err != nil {
			return err
		}
		if got := obj.GetAnnotations()[key]; got != want {
			return fmt.Errorf("%T %s: %s is %q, want %q", obj, obj.GetName(), key, got, want)
		}
		return nil
	}
}

func TestSharedAccessPolicyIsEnforcedOnEveryInstance(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	mustCreate(t, secret(ns, "oidc", map[string]string{"client-secret": clientSecretValue}))
	policy := oidcAccessPolicy(ns, "agents")
	mustCreate(t, policy)
	one := newInstance(ns, "one", withAccessPolicy("agents"))
	two := newInstance(ns, "two", withAccessPolicy("agents"))
	for _, inst := range []*v1alpha1.HelpdeskInstance{one, two} {
		bringUpGuarded(t, inst)
	}
	for _, inst := range []*v1alpha1.HelpdeskInstance{one, two} {
		eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))
		eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
		a := inst.Status.Access
		if a == nil || a.PolicyName != "agents" || a.Exposure != "ingress/ingress-nginx" {
			t.Fatalf("%s: status.access %+v", inst.Name, a)
		}
		for _, p := range namedParts(a.AccessEnforcement) {
			want := v1alpha1.AccessPartEnforced
			if p.name == "botProtection" {
				want = v1alpha1.AccessPartNotRequested
			}
			if p.status.State != want {
				t.Errorf("%s: %s is %s (%s), want %s", inst.Name, p.name, p.status.State, p.status.Message, want)
			}
		}
	}

	// The policy gathers both instances, and is Ready only now that both enforce it.
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))
	if len(policy.Status.Instances) != 2 || policy.Status.Instances[0].Name != "one" || policy.Status.Instances[1].Name != "two" ||
		policy.Status.Instances[0].MFA.State != v1alpha1.AccessPartEnforced {
		t.Errorf("status.instances = %+v", policy.Status.Instances)
	}
	// Parts in force are listed by state: their text is the instance's own.
	for _, entry := range policy.Status.Instances {
		for _, p := range namedParts(entry.AccessEnforcement) {
			if p.status.Reason != "" || p.status.Message != "" {
				t.Errorf("status.instances %s: %s %s carries %q %q", entry.Name, p.name, p.status.State, p.status.Reason, p.status.Message)
			}
		}
	}

	// Routes: the portal and the agent paths, each with its list, both to the gate.
	an := resources.AccessNamesFor(one)
	portal, agent := ingress(one, resources.NamesFor(one).App), ingress(one, an.AgentRoute)
	eventually(t, wait, annotationIs(agent, resources.AnnotationNginxAllowList, "198.51.100.16/28,203.0.113.0/24"))
	eventually(t, wait, annotationIs(portal, resources.AnnotationNginxAllowList, "192.0.2.0/24"))
	for _, ing := range []*networkingv1.Ingress{portal, agent} {
		if ing.Annotations[resources.AnnotationNginxBodySize] != "10485760" {
			t.Errorf("%s: body limit %q, want spec.uploads.maxSize's default 10Mi", ing.Name, ing.Annotations[resources.AnnotationNginxBodySize])
		}
		for _, p := range ing.Spec.Rules[0].HTTP.Paths {
			if p.Backend.Service.Name != an.Gate {
				t.Errorf("%s path %s leads to %s, not the gate", ing.Name, p.Path, p.Backend.Service.Name)
			}
		}
	}

	// The gate: its Secret holds the rendered configuration and the keys, never the
	// client secret, which is mounted from the policy's Secret.
	gateSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(gateSecret), gateSecret); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(gateSecret.Data["config.json"], &cfg); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg["allowedGroups"]) != "[support-agents]" || cfg["externalURL"] != "https://"+one.Spec.Hostname {
		t.Errorf("gate configuration: %v", cfg)
	}
	for k, v := range gateSecret.Data {
		if strings.Contains(string(v), clientSecretValue) {
			t.Errorf("the gate Secret's %s holds the client secret", k)
		}
	}
	if len(gateSecret.Data["hash-key"]) == 0 || len(gateSecret.Data["block-key"]) == 0 {
		t.Error("the gate Secret has no cookie keys")
	}
	gate := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}}
	if err := get(gate); err != nil {
		t.Fatal(err)
	}
	if c := gate.Spec.Template.Spec.Containers[0]; c.Image != testResources.OperatorImage || strings.Join(c.Command, " ") != "/helpdesk-operator gate --config=/etc/helpdesk-gate/config.json" {
		t.Errorf("gate container: image %s, command %v", c.Image, c.Command)
	}
	// The cookie keys are the ones kept in Vault under the instance's path.
	kv, err := vaultSrv.Client(t).Logical().ReadWithContext(ctx, "secret/data/helpdesk/secrets/"+ns+"/one")
	if err != nil || kv == nil {
		t.Fatalf("reading the instance's KV secret: %v", err)
	}
	if data, _ := kv.Data["data"].(map[string]any); data[resources.GateHashKeySecret] == nil || data[resources.GateBlockKeySecret] == nil {
		t.Errorf("no gate keys in Vault: %v", keysOf(data))
	}

	// The perimeter, evaluated: only the edge reaches the gates, the gates only their app and
	// the identity provider, and the instances never each other.
	cluster := clusterOf(t, ns)
	pods := map[string]*netpol.Pod{}
	for _, inst := range []*v1alpha1.HelpdeskInstance{one, two} {
		for role, p := range podsOf(t, inst) {
			pods[inst.Name+"/"+role] = p
		}
	}
	edge := &netpol.Pod{Namespace: "ingress-nginx", Name: "controller", IP: "10.9.0.1", Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	allowed := func(src, dst netpol.Endpoint, port int32) bool {
		return cluster.Allowed(src, dst, corev1.ProtocolTCP, port)
	}
	for _, c := range []struct {
		src, dst netpol.Endpoint
		port     int32
		want     bool
	}{
		{netpol.PodEndpoint(edge), netpol.PodEndpoint(pods["one/gate"]), 8080, true},
		{netpol.PodEndpoint(edge), netpol.PodEndpoint(pods["one/app"]), 3000, false},
		{netpol.PodEndpoint(pods["one/gate"]), netpol.PodEndpoint(pods["one/app"]), 3000, true},
		{netpol.PodEndpoint(pods["one/gate"]), netpol.PodEndpoint(pods["two/app"]), 3000, false},
		{netpol.PodEndpoint(pods["two/gate"]), netpol.PodEndpoint(pods["one/app"]), 3000, false},
		{netpol.PodEndpoint(pods["one/gate"]), netpol.External("198.18.0.10"), 443, true},
		{netpol.PodEndpoint(pods["one/gate"]), netpol.External("203.0.113.50"), 443, false},
		{netpol.PodEndpoint(pods["one/app"]), netpol.External("198.18.0.10"), 443, false},
		{netpol.PodEndpoint(pods["one/app"]), netpol.PodEndpoint(pods["two/app"]), 3000, false},
		{netpol.PodEndpoint(pods["one/app"]), netpol.PodEndpoint(pods["two/db"]), resources.PostgresPort, false},
		{netpol.PodEndpoint(pods["one/app"]), netpol.PodEndpoint(pods["two/gate"]), 8080, false},
		{netpol.PodEndpoint(pods["one/app"]), netpol.PodEndpoint(pods["one/gate"]), 8080, false},
	} {
		if got := allowed(c.src, c.dst, c.port); got != c.want {
			t.Errorf("%s -> %s TCP/%d: allowed %v, want %v", c.src, c.dst, c.port, got, c.want)
		}
	}

	// Narrowing the agent list and removing the portal's take the old allowances away on
	// both instances, through the policy watch alone.
	update(t, policy, func() {
		policy.Spec.AgentAllowedCIDRs = []string{"203.0.113.0/24"}
		policy.Spec.PortalAllowedCIDRs = nil
	})
	for _, inst := range []*v1alpha1.HelpdeskInstance{one, two} {
		eventually(t, wait, annotationIs(ingress(inst, resources.AccessNamesFor(inst).AgentRoute), resources.AnnotationNginxAllowList, "203.0.113.0/24"))
		eventually(t, wait, annotationIs(ingress(inst, resources.NamesFor(inst).App), resources.AnnotationNginxAllowList, ""))
	}
	update(t, policy, func() { policy.Spec.AgentAllowedCIDRs = nil })
	for _, inst := range []*v1alpha1.HelpdeskInstance{one, two} {
		eventually(t, wait, annotationIs(ingress(inst, resources.AccessNamesFor(inst).AgentRoute), resources.AnnotationNginxAllowList, ""))
	}
	eventually(t, wait, func() error {
		if err := conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced)(); err != nil {
			return err
		}
		if s := policy.Status.Instances[0].AllowList.State; s != v1alpha1.AccessPartNotRequested {
			return fmt.Errorf("allowList of %s is %s after both lists were removed", policy.Status.Instances[0].Name, s)
		}
		return nil
	})

	// Every change of enforcement was recorded.
	var access []string
	for _, e := range recorder.of(ns, "one") {
		if e.reason == "AccessEnforced" || e.reason == "AccessNotEnforced" {
			access = append(access, e.message)
		}
	}
	if len(access) < 2 || !strings.Contains(strings.Join(access, "\n"), "allowList NotRequested") {
		t.Errorf("access events of one: %q", access)
	}

	// Nothing to change: reconciling the instances and the policy writes nothing.
	settle(t)
	before := writes.snapshot()
	touch(t, one)
	touch(t, two)
	update(t, policy, func() { policy.Annotations = map[string]string{"test/touched": "1"} })
	settle(t)
	for path, n := range writes.snapshot() {
		if strings.Contains(path, "/namespaces/"+ns+"/") && n != before[path] {
			t.Errorf("a reconcile with nothing to change wrote %s %d times", path, n-before[path])
		}
	}
}

func TestGateKeepsItsLastConfigurationWhileItsSecretIsMissing(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	credentials := secret(ns, "oidc", map[string]string{"client-secret": clientSecretValue})
	mustCreate(t, credentials)
	policy := oidcAccessPolicy(ns, "agents")
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", withAccessPolicy("agents"))
	bringUpGuarded(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))
	an := resources.AccessNamesFor(inst)
	gate := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}}
	hashOf := func() string {
		if err := get(gate); err != nil {
			t.Fatal(err)
		}
		return gate.Spec.Template.Annotations[resources.AnnotationConfigHash]
	}
	first := hashOf()

	// A rotated client secret rolls the gate, which reads it at start.
	credentials.Data["client-secret"] = []byte("rotated-" + clientSecretValue)
	if err := k8sClient.Update(ctx, credentials); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		if hashOf() == first {
			return fmt.Errorf("the gate did not roll after its client secret changed")
		}
		return nil
	})
	rotated := hashOf()
	configOf := func() string {
		s := &corev1.Secret{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: an.Gate}, s); err != nil {
			t.Fatal(err)
		}
		return string(s.Data["config.json"])
	}

	// The Secret goes and the policy changes: the gate keeps its last configuration, and
	// the instance and the policy say why.
	if err := k8sClient.Delete(ctx, credentials); err != nil {
		t.Fatal(err)
	}
	update(t, policy, func() { policy.Spec.Session.IdleTimeout = &metav1.Duration{Duration: 45 * time.Minute} })
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing))
	if sso := inst.Status.Access.SSO; sso.State != v1alpha1.AccessPartNotEnforced || !strings.Contains(sso.Message, `Secret "oidc" does not exist`) ||
		!strings.Contains(sso.Message, "keeps its last configuration") {
		t.Errorf("status.access.sso = %+v", sso)
	}
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing))
	// The policy lists the part not enforced with the instance's reason and message.
	eventually(t, wait, func() error {
		if err := get(policy); err != nil {
			return err
		}
		if len(policy.Status.Instances) != 1 {
			return fmt.Errorf("status.instances = %+v", policy.Status.Instances)
		}
		if sso := policy.Status.Instances[0].SSO; sso.State != v1alpha1.AccessPartNotEnforced || sso.Reason != v1alpha1.ReasonSecretMissing ||
			!strings.Contains(sso.Message, `Secret "oidc" does not exist`) {
			return fmt.Errorf("status.instances[0].sso = %+v", sso)
		}
		return nil
	})
	settle(t)
	if got := hashOf(); got != rotated {
		t.Error("the gate changed while its policy could not be rendered")
	}
	if cfg := configOf(); !strings.Contains(cfg, `"idleTimeout": "30m0s"`) {
		t.Errorf("the gate configuration changed while its Secret was missing:\n%s", cfg)
	}
	var warned bool
	for _, e := range recorder.of(ns, "desk") {
		warned = warned || (e.reason == "AccessNotEnforced" && e.eventType == corev1.EventTypeWarning && strings.Contains(e.message, "sso NotEnforced (SecretNotFound)"))
		if strings.Contains(e.message, clientSecretValue) {
			t.Errorf("event %s shows the client secret", e.reason)
		}
	}
	if !warned {
		t.Error("no Warning event when the gate stopped following the policy")
	}

	// The Secret comes back: the new configuration is rendered and rolled out.
	mustCreate(t, secret(ns, "oidc", map[string]string{"client-secret": clientSecretValue}))
	// The Secret and then the Deployment are applied: the roll may come a request later.
	eventually(t, wait, func() error {
		if cfg := configOf(); !strings.Contains(cfg, `"idleTimeout": "45m0s"`) {
			return fmt.Errorf("the gate still has the old configuration")
		}
		if hashOf() == rotated {
			return fmt.Errorf("the new configuration did not roll the gate")
		}
		return nil
	})
	markGateAvailable(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionTrue, v1alpha1.ReasonAccessEnforced))
	for _, c := range inst.Status.Conditions {
		if strings.Contains(c.Message, clientSecretValue) {
			t.Errorf("condition %s shows the client secret", c.Type)
		}
	}
}

// TestNewInstanceWithAMissingSecretHasNoGateAndIsClosed: nothing was ever enforced, so
// nothing runs: the routes lead to a gate Service without pods. Dropping SSO removes the
// gate and sends the routes to the app again.
func TestNewInstanceWithAMissingSecretHasNoGateAndIsClosed(t *testing.T) {
	ns := newNamespace(t)
	policy := oidcAccessPolicy(ns, "agents")
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", withAccessPolicy("agents"))
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionFalse, v1alpha1.ReasonSecretMissing))
	an := resources.AccessNamesFor(inst)
	if err := get(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}}); !apierrors.IsNotFound(err) {
		t.Errorf("a gate runs without its client secret (err %v)", err)
	}
	agent := ingress(inst, an.AgentRoute)
	eventually(t, wait, exists(agent))
	if backend := agent.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; backend != an.Gate {
		t.Errorf("the agent paths lead to %s, not to the (absent) gate", backend)
	}

	mustCreate(t, secret(ns, "oidc", map[string]string{"client-secret": clientSecretValue}))
	eventually(t, wait, exists(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}}))

	update(t, policy, func() {
		policy.Spec.SSO = nil
		policy.Spec.MFA.Required = ptr.To(false)
	})
	for _, obj := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: an.Gate}},
	} {
		eventually(t, wait, gone(obj))
	}
	eventually(t, wait, func() error {
		if err := get(agent); err != nil {
			return err
		}
		if backend := agent.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; backend != resources.NamesFor(inst).App {
			return fmt.Errorf("without SSO the agent paths lead to %s, not the app", backend)
		}
		return nil
	})
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		if s := inst.Status.Access.Session; s.Reason != v1alpha1.ReasonSessionNeedsSSO {
			return fmt.Errorf("session part %+v, want %s", s, v1alpha1.ReasonSessionNeedsSSO)
		}
		return nil
	})
}

// TestRemovingThePolicyReferenceClearsTheAccessStatus: AccessEnforced and status.access are
// there only while the instance names a policy, and the policy forgets the instance.
func TestRemovingThePolicyReferenceClearsTheAccessStatus(t *testing.T) {
	ns := newNamespace(t)
	policy := &v1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lists"},
		Spec: v1alpha1.AccessPolicySpec{AgentAllowedCIDRs: []string{"203.0.113.0/24"}, MFA: v1alpha1.MFASpec{Required: ptr.To(false)}}}
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", withAccessPolicy("lists"))
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionFalse, v1alpha1.ReasonSessionNeedsSSO))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotEnforced))
	if msg := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "instance desk: session SessionNeedsSSO") {
		t.Errorf("policy Ready message %q does not say what is not enforced where", msg)
	}
	update(t, inst, func() { inst.Spec.AccessPolicyRef = nil })
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		if inst.Status.Access != nil || meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionAccessEnforced) != nil {
			return fmt.Errorf("access status stays without a policy: %+v", inst.Status.Access)
		}
		return nil
	})
	eventually(t, wait, annotationIs(ingress(inst, resources.AccessNamesFor(inst).AgentRoute), resources.AnnotationNginxAllowList, ""))
	eventually(t, wait, conditionIs(policy, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled))
}

// clusterOf reads the NetworkPolicies of the namespaces from the API server.
func clusterOf(t *testing.T, namespaces ...string) netpol.Cluster {
	t.Helper()
	c := netpol.Cluster{Namespaces: map[string]map[string]string{"ingress-nginx": {corev1.LabelMetadataName: "ingress-nginx"}}}
	for _, ns := range namespaces {
		c.Namespaces[ns] = map[string]string{corev1.LabelMetadataName: ns}
		list := &networkingv1.NetworkPolicyList{}
		if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		c.Policies = append(c.Policies, list.Items...)
	}
	return c
}

// podsOf are the pods the instance's workloads would run, with the labels the cluster's
// objects give them: the app and gate Deployments' templates, the database Cluster's
// inherited labels plus CloudNativePG's own.
func podsOf(t *testing.T, inst *v1alpha1.HelpdeskInstance) map[string]*netpol.Pod {
	t.Helper()
	out := map[string]*netpol.Pod{}
	for role, name := range map[string]string{"app": resources.NamesFor(inst).App, "gate": resources.AccessNamesFor(inst).Gate} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: name}}
		if err := get(d); err != nil {
			t.Fatal(err)
		}
		podIPs++
		out[role] = &netpol.Pod{Namespace: inst.Namespace, Name: inst.Name + "-" + role, Labels: d.Spec.Template.Labels, IP: fmt.Sprintf("10.8.0.%d", podIPs)}
	}
	cluster := &cnpgv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.NamesFor(inst).DatabaseCluster}}
	if err := get(cluster); err != nil {
		t.Fatal(err)
	}
	db := map[string]string{resources.ClusterLabel: cluster.Name, "cnpg.io/podRole": "instance"}
	for k, v := range cluster.Spec.InheritedMetadata.Labels {
		db[k] = v
	}
	podIPs++
	out["db"] = &netpol.Pod{Namespace: inst.Namespace, Name: inst.Name + "-db", Labels: db, IP: fmt.Sprintf("10.8.0.%d", podIPs)}
	return out
}

var podIPs int

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAccessEventsTellProblemsFromSettingsBeingWritten brings up an instance whose policy
// asks for a captcha: its settings wait for the migration (no Event), then for a missing
// Secret (a Warning), then are written (a Normal Event).
func TestAccessEventsTellProblemsFromSettingsBeingWritten(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, secret(ns, "oidc", map[string]string{"client-secret": clientSecretValue}))
	policy := oidcAccessPolicy(ns, "agents")
	policy.Spec.MFA.Required = ptr.To(false)
	policy.Spec.BotProtection = &v1alpha1.BotProtectionSpec{Captcha: &v1alpha1.CaptchaSpec{
		Provider: "ReCaptcha", SiteKey: "6LcSiteKey", SecretKeyRef: v1alpha1.SecretKeyReference{Name: "captcha", Key: "secret-key"},
	}}
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", withAccessPolicy("agents"))
	mustCreate(t, inst)
	markDatabaseReady(t, inst)
	botProtectionIs := func(state v1alpha1.AccessPartState, reason string) func() error {
		return func() error {
			if err := get(inst); err != nil {
				return err
			}
			if a := inst.Status.Access; a == nil || a.BotProtection.State != state || a.BotProtection.Reason != reason {
				return fmt.Errorf("status.access %+v, want botProtection %s %s", a, state, reason)
			}
			return nil
		}
	}
	eventually(t, wait, botProtectionIs(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSettingsPending))
	completeMigration(t, inst)
	eventually(t, wait, botProtectionIs(v1alpha1.AccessPartNotEnforced, v1alpha1.ReasonSecretMissing))
	eventually(t, wait, eventIs(inst, corev1.EventTypeWarning, "AccessNotEnforced"))

	mustCreate(t, secret(ns, "captcha", map[string]string{"secret-key": "captcha-private-key-never-shown"}))
	var job batchv1.Job
	eventually(t, wait, func() error {
		list := &batchv1.JobList{}
		if err := k8sClient.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{resources.LabelComponent: resources.ComponentSettings}); err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("%d settings Jobs", len(list.Items))
		}
		job = list.Items[0]
		return nil
	})
	now := time.Now()
	finishJob(t, &job, now, now, true)
	eventually(t, wait, botProtectionIs(v1alpha1.AccessPartEnforced, ""))
	eventually(t, wait, eventIs(inst, corev1.EventTypeNormal, "AccessEnforced"))

	var warnings []string
	for _, e := range recorder.of(ns, "desk") {
		if e.reason == "AccessNotEnforced" {
			warnings = append(warnings, e.eventType+" "+e.message)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "botProtection NotEnforced ("+v1alpha1.ReasonSecretMissing+")") {
		t.Errorf("access Warnings %q, want one, for the missing Secret only", warnings)
	}
}

// TestAppSettingsAreWrittenByAJobAndRollTheApp: the extension allow-list and reCAPTCHA go
// to Helpy's settings through a Job of the operator's binary once the database is
// migrated; the parts are enforced when it succeeded. The app's first start waits for
// them; later values roll the running app only once they are written. New values make a
// new Job; the old one goes once the new one succeeded.
func TestAppSettingsAreWrittenByAJobAndRollTheApp(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, secret(ns, "captcha", map[string]string{"secret-key": "captcha-private-key-never-shown"}))
	policy := &v1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agents"}, Spec: v1alpha1.AccessPolicySpec{
		MFA:     v1alpha1.MFASpec{Required: ptr.To(false)},
		Uploads: v1alpha1.UploadSpec{AllowedExtensions: []string{"pdf", "png"}},
		BotProtection: &v1alpha1.BotProtectionSpec{Captcha: &v1alpha1.CaptchaSpec{
			Provider: "ReCaptcha", SiteKey: "6LcSiteKey", SecretKeyRef: v1alpha1.SecretKeyReference{Name: "captcha", Key: "secret-key"},
		}},
	}}
	mustCreate(t, policy)
	inst := newInstance(ns, "desk", withAccessPolicy("agents"))
	mustCreate(t, inst)
	markDatabaseReady(t, inst)
	// Before the migration, nothing is written and the parts say they wait.
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		if a := inst.Status.Access; a == nil || a.Uploads.Reason != v1alpha1.ReasonSettingsPending || a.BotProtection.Reason != v1alpha1.ReasonSettingsPending {
			return fmt.Errorf("status.access %+v", a)
		}
		return nil
	})
	settingsJobs := func() []batchv1.Job {
		list := &batchv1.JobList{}
		if err := k8sClient.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{resources.LabelComponent: resources.ComponentSettings}); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	if n := len(settingsJobs()); n != 0 {
		t.Fatalf("%d settings Jobs before the migration", n)
	}
	completeMigration(t, inst)
	var job batchv1.Job
	eventually(t, wait, func() error {
		jobs := settingsJobs()
		if len(jobs) != 1 {
			return fmt.Errorf("%d settings Jobs", len(jobs))
		}
		job = jobs[0]
		return nil
	})
	c := job.Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Command, " ")
	if !strings.HasPrefix(args, "/helpdesk-operator app-settings") || !strings.Contains(args, `"settings.extension_whitelist":"pdf,png"`) ||
		!strings.Contains(args, `"settings.recaptcha_enabled":"1"`) || !strings.Contains(args, "--secret-setting=settings.recaptcha_api_key=SETTING_SECRET_0") {
		t.Errorf("settings Job command: %s", args)
	}
	if ref := c.Env[0].ValueFrom.SecretKeyRef; ref == nil || ref.Name != "captcha" || ref.Key != "secret-key" {
		t.Errorf("the captcha key does not come from the policy's Secret: %+v", c.Env)
	}
	if strings.Contains(fmt.Sprintf("%+v", job.Spec), "captcha-private-key-never-shown") {
		t.Error("the Job spec holds the captcha key")
	}
	if job.Spec.Template.Labels[resources.LabelHelpdeskRole] != resources.RoleJob {
		t.Errorf("the settings pods are not under the jobs' NetworkPolicy: %v", job.Spec.Template.Labels)
	}

	// The app does not start before its settings are written.
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonWaitingForSettings))
	settle(t)
	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(inst).App}}
	if err := get(deployment); !apierrors.IsNotFound(err) {
		t.Fatalf("the app's Deployment exists before its settings were written (err %v)", err)
	}
	now := time.Now()
	finishJob(t, &job, now, now, true)
	markDeploymentAvailable(t, inst, 1)
	hashOf := func() string {
		if err := get(deployment); err != nil {
			t.Fatal(err)
		}
		return deployment.Spec.Template.Annotations[resources.AnnotationConfigHash]
	}
	first := hashOf()
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		a := inst.Status.Access
		if a.Uploads.State != v1alpha1.AccessPartEnforced || a.BotProtection.State != v1alpha1.AccessPartEnforced {
			return fmt.Errorf("uploads %+v, botProtection %+v", a.Uploads, a.BotProtection)
		}
		return nil
	})
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable))

	// New values: a new Job; the old one stays until it succeeded, and the running app
	// keeps its pods until then.
	update(t, policy, func() { policy.Spec.Uploads.AllowedExtensions = []string{"pdf"} })
	eventually(t, wait, func() error {
		if n := len(settingsJobs()); n != 2 {
			return fmt.Errorf("%d settings Jobs, want the old and the new", n)
		}
		return nil
	})
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		if r := inst.Status.Access.Uploads.Reason; r != v1alpha1.ReasonSettingsPending {
			return fmt.Errorf("uploads is %q while the new allow-list is being written", r)
		}
		return nil
	})
	settle(t)
	if hashOf() != first {
		t.Error("the app rolled before the new settings were written")
	}
	for _, j := range settingsJobs() {
		if j.Name != job.Name {
			finishJob(t, &j, time.Now(), time.Now().Add(time.Second), true)
		}
	}
	eventually(t, wait, func() error {
		jobs := settingsJobs()
		if len(jobs) != 1 || jobs[0].Name == job.Name {
			return fmt.Errorf("settings Jobs %d, the old one still there", len(jobs))
		}
		return nil
	})
	eventually(t, wait, func() error {
		if hashOf() == first {
			return fmt.Errorf("the app did not roll after its settings changed")
		}
		return nil
	})
	// Without SSO the session part is the only one left unenforced.
	eventually(t, wait, func() error {
		if err := conditionIs(inst, v1alpha1.ConditionAccessEnforced, metav1.ConditionFalse, v1alpha1.ReasonSessionNeedsSSO)(); err != nil {
			return err
		}
		if msg := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionAccessEnforced).Message; strings.Contains(msg, "uploads") || strings.Contains(msg, "botProtection") {
			return fmt.Errorf("AccessEnforced: %s", msg)
		}
		return nil
	})
}
