package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// child is one object the operator created for an instance.
type child struct {
	kind, name, note string
}

// showChildren prints every object in the namespace that carries the instance's label or
// names it as owner, found through discovery (so a kind added to the operator shows up
// without a change here).
func (s *session) showChildren(ctx context.Context, inst unstructured.Unstructured) error {
	children, err := s.childrenOf(ctx, inst)
	if err != nil {
		return err
	}
	s.p.line("children the operator created (%d; the pods they describe never start here):", len(children))
	rows := make([][]string, 0, len(children))
	for _, c := range children {
		rows = append(rows, []string{"  " + c.kind, c.name, c.note})
	}
	s.p.table(rows)
	return nil
}

func (s *session) childrenOf(ctx context.Context, inst unstructured.Unstructured) ([]child, error) {
	label := resources.NamesFor(&v1alpha1.HelpdeskInstance{ObjectMeta: objectMeta(&inst)}).InstanceLabel
	lists, err := s.clientset.Discovery().ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discovering the API's kinds: %w", err)
	}
	var children []child
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil || gv.Group == v1alpha1.GroupVersion.Group {
			continue
		}
		for _, r := range list.APIResources {
			if !slices.Contains(r.Verbs, "list") || r.Name == "events" {
				continue
			}
			items := &unstructured.UnstructuredList{}
			items.SetGroupVersionKind(gv.WithKind(r.Kind + "List"))
			if err := s.kube.List(ctx, items, client.InNamespace(s.o.Namespace)); err != nil {
				continue // a kind we may not list is not a child we could show
			}
			for _, obj := range items.Items {
				if obj.GetLabels()[resources.LabelHelpdeskInstance] != label && !ownedBy(obj, inst) {
					continue
				}
				kind := r.Kind
				if gv.Group != "" {
					kind += "." + gv.Group
				}
				children = append(children, child{kind: kind, name: obj.GetName(), note: childNote(obj)})
			}
		}
	}
	slices.SortFunc(children, func(a, b child) int {
		if c := strings.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return children, nil
}

func ownedBy(obj, owner unstructured.Unstructured) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// childNote says what a child would do in a cluster, and that here it does not.
func childNote(obj unstructured.Unstructured) string {
	switch obj.GetKind() {
	case "Cluster":
		instances, _, _ := unstructured.NestedInt64(obj.Object, "spec", "instances")
		image, _, _ := unstructured.NestedString(obj.Object, "spec", "imageName")
		return fmt.Sprintf("CloudNativePG: %d PostgreSQL instance(s) of %s; no CloudNativePG operator or kubelet here", instances, image)
	case "Deployment":
		replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		ready, _, _ := unstructured.NestedInt64(obj.Object, "status", "readyReplicas")
		return fmt.Sprintf("replicas %d, ready %d", replicas, ready)
	case "CronJob":
		schedule, _, _ := unstructured.NestedString(obj.Object, "spec", "schedule")
		return fmt.Sprintf("schedule %q; never fires here (no controller-manager)", schedule)
	case "Job":
		return "never runs here (no controller-manager, no kubelet)"
	case "Secret":
		keys, _, _ := unstructured.NestedMap(obj.Object, "data")
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		slices.Sort(names)
		return "keys: " + strings.Join(names, ", ")
	case "NetworkPolicy":
		types, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "policyTypes")
		return "policyTypes " + strings.Join(types, ", ")
	case "PersistentVolumeClaim":
		storage, _, _ := unstructured.NestedString(obj.Object, "spec", "resources", "requests", "storage")
		return storage + ", Pending (nothing provisions volumes here)"
	case "Ingress":
		class, _, _ := unstructured.NestedString(obj.Object, "spec", "ingressClassName")
		return "class " + class + "; no ingress controller here"
	}
	return ""
}
