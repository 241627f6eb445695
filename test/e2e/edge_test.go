//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

var (
	traefikOnce sync.Once
	traefik     *framework.Traefik
	traefikErr  error
)

// traefikEdge deploys Traefik once, in the namespace the operator admits to app ports
// as the edge.
func traefikEdge(t *testing.T) *framework.Traefik {
	t.Helper()
	ns := ingressNamespace(t)
	traefikOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		traefik, traefikErr = cluster.DeployTraefik(ctx, ns)
	})
	if traefikErr != nil {
		t.Fatalf("deploying Traefik: %v", traefikErr)
	}
	return traefik
}

// agentUIBanner is the first line of the stand-in's agent UI page
// (test/e2e/fixtures/helpy-standin).
const agentUIBanner = "helpy-standin agent UI"

// TestTraefikEnforcesTheAgentAllowListAndTheGate: an instance exposed through a real
// Traefik with an AccessPolicy (agent allow-list of one probe pod's /32, OIDC sign-in
// with MFA at the test provider), and real HTTPS requests from two probe pods:
//   - the pod outside the allow-list gets Traefik's 403 on /admin, with or without a
//     valid session, while the portal (/) answers it from the app;
//   - the pod inside it, without a session, is sent to the identity provider by the gate;
//   - the pod inside it signs in (the whole OIDC flow, with a cookie jar, through Traefik
//     and the gate, the user's ID token carrying amr otp) and reaches the app's /admin,
//     which sees the gate's identity header and the pod's own address as the client;
//   - a sign-in whose ID token names no second factor (amr pwd) is refused by the gate.
//
// Every refusal has its control: the same path answered for the allowed pod.
func TestTraefikEnforcesTheAgentAllowListAndTheGate(t *testing.T) {
	ctx := context.Background()
	edge := traefikEdge(t)

	// The clients first: the policy names the allowed one's address.
	clients := testNamespace(t, "e2e-clients")
	allowed := probePod(t, clients, "allowed", nil)
	disallowed := probePod(t, clients, "disallowed", nil)
	allowedIP, disallowedIP := podIP(t, clients, allowed), podIP(t, clients, disallowed)

	ns := "e2e-edge-" + proc.RandomHex(3)
	if err := createSharedNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	hostname := "desk." + ns + ".example.com"
	idp := startOIDCProvider(t, "https://"+hostname+"/_gate/oidc/callback",
		oidcUser{id: "agent", groups: []string{"agents"}, amr: []string{"pwd", "otp"}},
		oidcUser{id: "agent-password-only", groups: []string{"agents"}, amr: []string{"pwd"}})
	idp.signInAs("agent")

	certPEM, keyPEM, _, err := testCA.Issue(hostname)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "desk-tls", Namespace: ns}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}},
		{ObjectMeta: metav1.ObjectMeta{Name: "desk-oidc", Namespace: ns},
			Data: map[string][]byte{"client-secret": []byte(oidcClientSecret)}},
	} {
		if err := cluster.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	policy := &v1alpha1.AccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "agents-only", Namespace: ns},
		Spec: v1alpha1.AccessPolicySpec{
			AgentAllowedCIDRs: []string{allowedIP + "/32"},
			SSO: &v1alpha1.SSOSpec{
				OIDC: &v1alpha1.OIDCSpec{IssuerURL: idp.URL, ClientID: oidcClientID,
					ClientSecretRef: v1alpha1.SecretKeyReference{Name: "desk-oidc", Key: "client-secret"},
					AllowedGroups:   []string{"agents"}},
				ProviderCIDRs: []string{cluster.ServicesIP + "/32"},
			},
			MFA: v1alpha1.MFASpec{Required: ptr.To(true), Methods: []v1alpha1.MFAMethod{"TOTP"}},
		},
	}
	if err := cluster.Client.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	inst := &v1alpha1.HelpdeskInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "desk", Namespace: ns},
		Spec: v1alpha1.HelpdeskInstanceSpec{
			Hostname:        hostname,
			Ingress:         v1alpha1.IngressSpec{ClassName: ptr.To(edge.IngressClass)},
			TLS:             &v1alpha1.TLSSpec{SecretName: "desk-tls"},
			Database:        v1alpha1.DatabaseSpec{PostgresVersion: 15},
			AccessPolicyRef: &v1alpha1.LocalObjectReference{Name: policy.Name},
		},
	}
	if err := cluster.Client.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, inst, v1alpha1.ConditionAppReady, databaseTimeout+appTimeout)
	waitCondition(t, inst, v1alpha1.ConditionAccessEnforced, 2*time.Minute)
	t.Logf("instance %s/%s ready behind Traefik at %s; allowed client %s, disallowed %s", ns, inst.Name, edge.HTTPSAddress, allowedIP, disallowedIP)

	calls := edgeClient{t: t, clients: clients, edge: edge, hostname: hostname}
	admin, portal := "https://"+hostname+"/admin", "https://"+hostname+"/"

	// No session, allowed source: the gate sends it to the provider. Waited for, since
	// Traefik loads the Ingresses and Middlewares a moment after the operator writes them.
	noSession := calls.eventually(allowed, admin, func(r httpResult) bool {
		return r.Status == 302 && strings.HasPrefix(r.Location, idp.URL+"/")
	}, "302 to the identity provider")
	t.Logf("allowed, no session: %d to %s", noSession.Status, noSession.Location)

	// Disallowed source: Traefik's ipAllowList refuses the agent path; the portal works.
	if r := calls.get(disallowed, admin); r.Status != 403 || strings.Contains(r.Body, agentUIBanner) {
		t.Errorf("GET /admin from %s (outside the allow-list): %d %q, want Traefik's 403", disallowedIP, r.Status, r.Body)
	}
	if r := calls.get(disallowed, portal); r.Status != 301 || !strings.HasSuffix(r.Location, "/en") {
		t.Errorf("GET / from %s: %d (Location %q), want the app's 301 to /en: the portal is open to every source", disallowedIP, r.Status, r.Location)
	}

	// Allowed source signs in: the whole flow through Traefik, the gate and the provider.
	signedIn := calls.get(allowed, admin, "-follow")
	if signedIn.Status != 200 || !strings.Contains(signedIn.Body, agentUIBanner) {
		t.Fatalf("GET /admin from %s after signing in: %d %q (hops %v), want the app's agent UI\nTraefik:\n%s",
			allowedIP, signedIn.Status, signedIn.Body, signedIn.Hops, cluster.TraefikLogs(ctx, edge, 30))
	}
	if !strings.Contains(signedIn.Body, "\nuser=agent\n") {
		t.Errorf("the app saw no identity from the gate: %q", signedIn.Body)
	}
	// Traefik puts the address it saw first in X-Forwarded-For; the gate adds Traefik's.
	if _, chain, _ := strings.Cut(signedIn.Body, "forwarded-for="); strings.TrimSpace(strings.Split(chain, ",")[0]) != allowedIP {
		t.Errorf("the app's X-Forwarded-For does not start with the client pod's address %s (so Traefik did not see it): %q", allowedIP, signedIn.Body)
	}
	t.Logf("allowed, signed in through %d hops", len(signedIn.Hops))
	var session []string
	for name, value := range signedIn.Cookies {
		session = append(session, "-cookie", name+"="+value)
	}
	if len(session) == 0 {
		t.Fatalf("the sign-in left no cookie for %s", hostname)
	}

	// The session, without the flow: through for the allowed source, and no key past the
	// allow-list for the disallowed one.
	if r := calls.get(allowed, admin, session...); r.Status != 200 || !strings.Contains(r.Body, agentUIBanner) {
		t.Errorf("GET /admin from %s with the session: %d %q, want the agent UI", allowedIP, r.Status, r.Body)
	}
	if r := calls.get(disallowed, admin, session...); r.Status != 403 || strings.Contains(r.Body, agentUIBanner) {
		t.Errorf("GET /admin from %s (outside the allow-list) with a valid session: %d %q, want Traefik's 403", disallowedIP, r.Status, r.Body)
	}

	// MFA verified, not only requested: the same sign-in whose ID token says only "pwd"
	// ends at the gate's refusal (the "otp" sign-in above is its control).
	idp.signInAs("agent-password-only")
	if r := calls.get(allowed, admin, "-follow"); r.Status != 403 || strings.Contains(r.Body, agentUIBanner) || !strings.Contains(r.Body, "second factor") {
		t.Errorf("GET /admin from %s after a sign-in without a second factor: %d %q, want the gate's 403", allowedIP, r.Status, r.Body)
	}
}

// podIP is a running pod's address.
func podIP(t *testing.T, namespace, name string) string {
	t.Helper()
	pod := &corev1.Pod{}
	if err := cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, pod); err != nil {
		t.Fatal(err)
	}
	if pod.Status.PodIP == "" {
		t.Fatalf("pod %s/%s has no address", namespace, name)
	}
	return pod.Status.PodIP
}

// httpResult is what `netcheck http` prints (test/e2e/fixtures/helpy-standin).
type httpResult struct {
	Status   int               `json:"status"`
	URL      string            `json:"url"`
	Location string            `json:"location"`
	Body     string            `json:"body"`
	Hops     []string          `json:"hops"`
	Cookies  map[string]string `json:"cookies"`
}

// edgeClient sends HTTPS requests from probe pods to the instance's hostname through
// Traefik's Service (its name resolved to Traefik by the probe, as DNS would), trusting
// the run's test CA (the instance's and the provider's certificates).
type edgeClient struct {
	t                 *testing.T
	clients, hostname string
	edge              *framework.Traefik
}

func (c edgeClient) get(pod, url string, flags ...string) httpResult {
	c.t.Helper()
	args := append([]string{"http", "-resolve", c.hostname + ":443=" + c.edge.HTTPSAddress,
		"-ca-pem-base64", base64.StdEncoding.EncodeToString(testCA.PEM)}, flags...)
	res := netcheck(c.t, c.clients, pod, append(args, url)...)
	if res.ExitCode != 0 {
		c.t.Fatalf("%s: GET %s got no answer: %s%s\nTraefik:\n%s", pod, url, res.Stdout, res.Stderr, cluster.TraefikLogs(context.Background(), c.edge, 20))
	}
	var r httpResult
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		c.t.Fatalf("%s: GET %s: %v in %q", pod, url, err, res.Stdout)
	}
	return r
}

// eventually repeats get until ok, for two minutes.
func (c edgeClient) eventually(pod, url string, ok func(httpResult) bool, want string) httpResult {
	c.t.Helper()
	var last httpResult
	err := framework.Eventually(context.Background(), 2*time.Minute, 2*time.Second, func(context.Context) (bool, string, error) {
		last = c.get(pod, url)
		return ok(last), fmt.Sprintf("%d (Location %q) %q", last.Status, last.Location, last.Body), nil
	})
	if err != nil {
		c.t.Fatalf("%s: GET %s: %v, want %s\nTraefik:\n%s", pod, url, err, want, cluster.TraefikLogs(context.Background(), c.edge, 30))
	}
	return last
}
