package demo

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

const (
	// operatorTimeout bounds the wait for the operator's first reconciles.
	operatorTimeout = 3 * time.Minute
	// settleFor is how long the objects must stay unchanged to count as reconciled.
	settleFor = 3 * time.Second
	// progressEvery is how often a waiting line is printed.
	progressEvery = 5 * time.Second
)

// helpdeskKinds are our kinds, in the order they are shown.
var helpdeskKinds = []string{"HelpdeskInstance", "AccessPolicy", "RetentionPolicy", "BackupPolicy"}

// listKind lists our objects of kind in the tenant namespace, as the API server has them.
func (s *session) listKind(ctx context.Context, kind string) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(kind + "List"))
	if err := s.kube.List(ctx, list, client.InNamespace(s.o.Namespace)); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].GetName() < list.Items[j].GetName() })
	return list.Items, nil
}

// waitForOperator waits until the operator has reconciled every sample (each reports
// conditions for its current generation), the data-path instance has its Vault key and
// workload ServiceAccounts, and nothing has changed for a few seconds. It prints what it
// sees while it waits.
func (s *session) waitForOperator(ctx context.Context) error {
	s.p.progress("waiting for the operator to reconcile the samples")
	deadline := time.Now().Add(operatorTimeout)
	var lastVersions string
	var stableSince, lastProgress time.Time
	for {
		versions, waitingFor, err := s.reconcileState(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if versions != lastVersions || waitingFor != "" {
			lastVersions, stableSince = versions, now
		}
		if waitingFor == "" && now.Sub(stableSince) >= settleFor {
			s.p.progress("the operator has reconciled every sample")
			return nil
		}
		if now.Sub(lastProgress) >= progressEvery {
			lastProgress = now
			if waitingFor == "" {
				waitingFor = "the status to settle"
			}
			s.p.progress("waiting for %s", waitingFor)
		}
		if now.After(deadline) {
			return fmt.Errorf("the operator did not reconcile the samples within %s (still waiting for %s); see %s", operatorTimeout, waitingFor, s.manager.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.manager.exited:
			return fmt.Errorf("the manager exited: %w; see %s", s.manager.err, s.manager.log)
		case <-time.After(time.Second):
		}
	}
}

// reconcileState returns the resourceVersions of our objects (to see them settle) and what
// is still missing, "" when nothing.
func (s *session) reconcileState(ctx context.Context) (versions, waitingFor string, err error) {
	var b strings.Builder
	for _, kind := range helpdeskKinds {
		items, err := s.listKind(ctx, kind)
		if err != nil {
			return "", "", err
		}
		for _, obj := range items {
			fmt.Fprintf(&b, "%s/%s@%s ", kind, obj.GetName(), obj.GetResourceVersion())
			observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
			conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			if waitingFor == "" && (observed != obj.GetGeneration() || len(conditions) == 0) {
				waitingFor = fmt.Sprintf("%s/%s's first status", kind, obj.GetName())
			}
			if kind == "HelpdeskInstance" && obj.GetName() == s.data.instance && waitingFor == "" {
				if c := condition(obj, v1alpha1.ConditionEncryptionReady); c["status"] != "True" {
					waitingFor = fmt.Sprintf("%s/%s's Vault key and roles (EncryptionReady is %v/%v)", kind, obj.GetName(), c["status"], c["reason"])
				}
			}
		}
	}
	if waitingFor == "" {
		for _, sa := range []string{s.data.backupSA, s.data.restoreSA} {
			var obj unstructured.Unstructured
			obj.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"})
			if err := s.kube.Get(ctx, client.ObjectKey{Namespace: s.o.Namespace, Name: sa}, &obj); err != nil {
				waitingFor = "ServiceAccount " + sa
				break
			}
		}
	}
	return b.String(), waitingFor, nil
}

// condition is the condition of type t of obj, as a map (empty when absent).
func condition(obj unstructured.Unstructured, t string) map[string]any {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == t {
			return m
		}
	}
	return map[string]any{}
}

// showResources prints every sample object with its conditions and status, and what the
// operator created for each instance.
func (s *session) showResources(ctx context.Context) error {
	for _, kind := range helpdeskKinds {
		items, err := s.listKind(ctx, kind)
		if err != nil {
			return err
		}
		for _, obj := range items {
			s.p.section("%s %s/%s", kind, obj.GetNamespace(), obj.GetName())
			s.showConditions(obj)
			s.showStatusFields(obj)
			if kind == "HelpdeskInstance" {
				if err := s.showChildren(ctx, obj); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *session) showConditions(obj unstructured.Unstructured) {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	rows := [][]string{{"CONDITION", "STATUS", "REASON", "MESSAGE"}}
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		rows = append(rows, []string{fmt.Sprint(m["type"]), fmt.Sprint(m["status"]), fmt.Sprint(m["reason"]), clip(fmt.Sprint(m["message"]), 110)})
	}
	s.p.table(rows)
}

// showStatusFields prints the status besides the conditions, one line per field.
func (s *session) showStatusFields(obj unstructured.Unstructured) {
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	var keys []string
	for k := range status {
		if k != "conditions" && k != "observedGeneration" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		s.p.line("status.%s: %s", k, clip(compact(status[k]), 150))
	}
}

// compact renders a status value on one line: a part's state (and reason), lists by
// their length, maps as key=value.
func compact(v any) string {
	switch v := v.(type) {
	case map[string]any:
		for _, key := range []string{"state", "status", "phase"} {
			if state, ok := v[key].(string); ok {
				if reason, _ := v["reason"].(string); reason != "" {
					return state + "/" + reason
				}
				return state
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+compact(v[k]))
		}
		return strings.Join(parts, " ")
	case []any:
		if len(v) == 1 {
			return "[" + compact(v[0]) + "]"
		}
		return fmt.Sprintf("%d items", len(v))
	default:
		return fmt.Sprint(v)
	}
}
