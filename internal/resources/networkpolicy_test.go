package resources

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// instancePods are the labels of every pod an instance runs, as the cluster would show
// them: the app and migration pods from their templates, the database pods from the
// Cluster's inherited labels plus those CloudNativePG sets itself.
func instancePods(t *testing.T, inst *v1alpha1.HelpdeskInstance) map[string]labels.Set {
	t.Helper()
	prof := helpyProfile(t)
	opts := testOptions()
	cluster := Cluster(inst, prof, opts)
	db := labels.Set{
		ClusterLabel:                  cluster.Name,
		"cnpg.io/podRole":             "instance",
		"app.kubernetes.io/name":      "postgresql",
		"app.kubernetes.io/instance":  cluster.Name,
		"app.kubernetes.io/component": "database",
	}
	for k, v := range cluster.Spec.InheritedMetadata.Labels {
		db[k] = v
	}
	return map[string]labels.Set{
		"app": labels.Set(Deployment(inst, prof, opts, "h").Spec.Template.Labels),
		"job": labels.Set(MigrationJob(inst, prof, opts).Spec.Template.Labels),
		"db":  db,
	}
}

func selects(t *testing.T, s *metav1.LabelSelector, pod labels.Set) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel.Matches(pod)
}

type peerVisit struct {
	policy *networkingv1.NetworkPolicy
	peer   networkingv1.NetworkPolicyPeer
	ports  []networkingv1.NetworkPolicyPort
	dir    string
}

func visitPeers(pols []*networkingv1.NetworkPolicy) []peerVisit {
	var out []peerVisit
	for _, p := range pols {
		for _, r := range p.Spec.Ingress {
			for _, peer := range r.From {
				out = append(out, peerVisit{p, peer, r.Ports, "from"})
			}
		}
		for _, r := range p.Spec.Egress {
			for _, peer := range r.To {
				out = append(out, peerVisit{p, peer, r.Ports, "to"})
			}
		}
	}
	return out
}

func TestNetworkPoliciesSelectOnlyTheirInstance(t *testing.T) {
	prof := helpyProfile(t)
	for _, inst := range []*v1alpha1.HelpdeskInstance{minimalInstance(), haInstance(), vaultAgentInstance()} {
		t.Run(inst.Name, func(t *testing.T) {
			// A neighbour in the same namespace, and one whose name is a prefix.
			neighbour := inst.DeepCopy()
			neighbour.Name = inst.Name + "-2"
			own, other := instancePods(t, inst), instancePods(t, neighbour)

			pols := NetworkPolicies(inst, prof, testOptions(), AccessPlan{})
			for _, p := range pols {
				if p.Spec.PodSelector.MatchLabels[LabelHelpdeskInstance] != NamesFor(inst).InstanceLabel {
					t.Errorf("%s selects pods without the instance label: %v", p.Name, p.Spec.PodSelector)
				}
				for name, pod := range other {
					if selects(t, &p.Spec.PodSelector, pod) {
						t.Errorf("%s applies to the neighbour's %s pod", p.Name, name)
					}
				}
			}
			// The default deny must cover every pod of the instance.
			for name, pod := range own {
				if !selects(t, &pols[0].Spec.PodSelector, pod) {
					t.Errorf("%s does not apply to the %s pod %v", pols[0].Name, name, pod)
				}
			}
			if len(pols[0].Spec.Ingress)+len(pols[0].Spec.Egress) != 0 || len(pols[0].Spec.PolicyTypes) != 2 {
				t.Errorf("%s must deny both directions and allow nothing", pols[0].Name)
			}
		})
	}
}

func TestNetworkPolicyPeersNeverReachAnotherInstance(t *testing.T) {
	prof := helpyProfile(t)
	opts := testOptions()
	allowedNamespaceSelectors := []*metav1.LabelSelector{
		opts.IngressController.NamespaceSelector, opts.CloudNativePGOperator.NamespaceSelector,
		opts.DNS.NamespaceSelector, opts.Vault.Peer.NamespaceSelector,
	}
	for _, inst := range []*v1alpha1.HelpdeskInstance{minimalInstance(), haInstance(), vaultAgentInstance()} {
		t.Run(inst.Name, func(t *testing.T) {
			neighbour := inst.DeepCopy()
			neighbour.Name = inst.Name + "-2"
			other := instancePods(t, neighbour)
			for _, v := range visitPeers(NetworkPolicies(inst, prof, opts, AccessPlan{})) {
				where := fmt.Sprintf("%s %s %+v", v.policy.Name, v.dir, v.peer)
				if len(v.ports) == 0 {
					t.Errorf("%s: a rule without ports allows every port", where)
				}
				switch {
				case v.peer.IPBlock != nil:
					if v.peer.PodSelector != nil || v.peer.NamespaceSelector != nil {
						t.Errorf("%s: ipBlock mixed with selectors", where)
					}
				case v.peer.NamespaceSelector != nil:
					found := false
					for _, s := range allowedNamespaceSelectors {
						found = found || reflect.DeepEqual(s, v.peer.NamespaceSelector)
					}
					if !found {
						t.Errorf("%s: namespace selector is not one of the operator's", where)
					}
				case v.peer.PodSelector != nil:
					if v.peer.PodSelector.MatchLabels[LabelHelpdeskInstance] != NamesFor(inst).InstanceLabel {
						t.Errorf("%s: pod peer without the instance label", where)
					}
					for name, pod := range other {
						if selects(t, v.peer.PodSelector, pod) {
							t.Errorf("%s: matches the neighbour's %s pod", where, name)
						}
					}
				default:
					t.Errorf("%s: empty peer matches everything", where)
				}
			}
		})
	}
}

// flows lists every allowed flow as "<pods> <direction> <peer> <proto>/<port>".
func flows(t *testing.T, inst *v1alpha1.HelpdeskInstance, pols []*networkingv1.NetworkPolicy) []string {
	t.Helper()
	own := instancePods(t, inst)
	podsOf := func(s *metav1.LabelSelector) string {
		var names []string
		for name, pod := range own {
			if selects(t, s, pod) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		return fmt.Sprint(names)
	}
	var out []string
	for _, v := range visitPeers(pols) {
		var peer string
		switch {
		case v.peer.IPBlock != nil:
			peer = "cidr:" + v.peer.IPBlock.CIDR
		case v.peer.NamespaceSelector != nil:
			peer = "ns:" + v.peer.NamespaceSelector.MatchLabels[corev1.LabelMetadataName]
		default:
			peer = "pods:" + podsOf(v.peer.PodSelector)
		}
		for _, p := range v.ports {
			out = append(out, fmt.Sprintf("%s %s %s %s/%s", podsOf(&v.policy.Spec.PodSelector), v.dir, peer, *p.Protocol, p.Port.String()))
		}
	}
	sort.Strings(out)
	return out
}

func TestNetworkPolicyFlowsAreExactlyTheAllowedOnes(t *testing.T) {
	prof := helpyProfile(t)
	inst := haInstance()
	got := flows(t, inst, NetworkPolicies(inst, prof, testOptions(), AccessPlan{}))
	want := []string{
		// DNS for every pod.
		"[app db job] to ns:kube-system TCP/53",
		"[app db job] to ns:kube-system UDP/53",
		// The app: from the ingress controller; to its database, SMTP, extra egress (no
		// Vault: with Secret delivery the app never talks to it).
		"[app] from ns:ingress-nginx TCP/3000",
		"[app] to pods:[db] TCP/5432",
		"[app] to cidr:192.0.2.25/32 TCP/587",
		"[app] to cidr:198.51.100.0/24 TCP/443",
		"[app] to cidr:203.0.113.7/32 TCP/443",
		"[app] to cidr:203.0.113.7/32 TCP/8443",
		// Jobs: their database and Vault.
		"[job] to pods:[db] TCP/5432",
		"[job] to ns:vault TCP/8200",
		// The database: clients, the CloudNativePG operator, replication, the API server.
		"[db] from pods:[app] TCP/5432",
		"[db] from pods:[job] TCP/5432",
		"[db] from ns:cnpg-system TCP/8000",
		"[db] from pods:[db] TCP/5432",
		"[db] from pods:[db] TCP/8000",
		"[db] to pods:[db] TCP/5432",
		"[db] to pods:[db] TCP/8000",
		"[db] to cidr:172.18.0.2/32 TCP/6443",
	}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("allowed flows differ\n got: %q\nwant: %q", got, want)
	}
}

func TestNetworkPoliciesWithoutOptionalEgress(t *testing.T) {
	prof := helpyProfile(t)
	inst := minimalInstance()
	for _, f := range flows(t, inst, NetworkPolicies(inst, prof, testOptions(), AccessPlan{})) {
		if f == "[app] to cidr:192.0.2.25/32 TCP/587" {
			t.Errorf("SMTP egress without spec.network.smtp: %s", f)
		}
	}
	for _, p := range NetworkPolicies(inst, prof, testOptions(), AccessPlan{}) {
		if p.Name == NamesFor(inst).PolicyApp && len(p.Spec.Egress) != 1 {
			t.Errorf("minimal app policy should allow only its database, got %d egress rules", len(p.Spec.Egress))
		}
	}
}

func TestNetworkPoliciesVaultAgentAppReachesVault(t *testing.T) {
	prof := helpyProfile(t)
	inst := vaultAgentInstance()
	got := map[string]bool{}
	for _, f := range flows(t, inst, NetworkPolicies(inst, prof, testOptions(), AccessPlan{})) {
		got[f] = true
	}
	for _, want := range []string{"[app] to ns:vault TCP/8200", "[job] to ns:vault TCP/8200"} {
		if !got[want] {
			t.Errorf("with Vault Agent delivery %q is needed", want)
		}
	}
}
