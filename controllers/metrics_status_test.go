package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// series gathers g's metrics into "name{label="value",...}" -> value, only those whose
// labels include every one of match.
func series(t *testing.T, g prometheus.Gatherer, match map[string]string) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			ok := true
			for k, v := range match {
				ok = ok && labels[k] == v
			}
			if !ok {
				continue
			}
			out[f.GetName()+labelString(labels)] = value(m)
		}
	}
	return out
}

func labelString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return 0
}

// TestInstanceMetricsFollowTheStatus: the operator's registry exports, for an instance, what
// its status says (info, ready, each condition, the key's version and rotation period) and
// when Vault created its key, and forgets all of it when the instance is gone.
func TestInstanceMetricsFollowTheStatus(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	inst := &v1alpha1.HelpdeskInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "metered"},
		Spec:       v1alpha1.HelpdeskInstanceSpec{Hostname: "metered.example.com", DeletionPolicy: v1alpha1.DeletionPolicyDelete},
	}
	started := time.Now().Add(-2 * time.Second)
	mustCreate(t, inst)
	eventually(t, 30*time.Second, conditionIs(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))

	labels := fmt.Sprintf(`{instance="metered",namespace=%q}`, ns)
	var got map[string]float64
	eventually(t, 10*time.Second, func() error {
		got = series(t, metrics.Registry, map[string]string{"namespace": ns})
		if _, ok := got["helpdesk_instance_key_rotated_timestamp_seconds"+labels]; !ok {
			return fmt.Errorf("no key rotation time yet: %v", got)
		}
		return nil
	})
	for name, want := range map[string]float64{
		`helpdesk_instance_info{app="Helpy",hostname="metered.example.com",instance="metered",namespace="` + ns + `"}`: 1,
		"helpdesk_instance_ready" + labels:                       0,
		"helpdesk_instance_key_version" + labels:                 1,
		"helpdesk_instance_key_rotation_period_seconds" + labels: (720 * time.Hour).Seconds(),
		`helpdesk_instance_condition{condition="EncryptionReady",instance="metered",namespace="` + ns + `",reason="KeyReady",status="True"}`: 1,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	rotated := got["helpdesk_instance_key_rotated_timestamp_seconds"+labels]
	if at := time.Unix(int64(rotated), 0); at.Before(started.Truncate(time.Second)) || at.After(time.Now()) {
		t.Errorf("the key was created at %s by the metric, want during this test (after %s)", at, started)
	}
	if _, ok := got["helpdesk_instance_access_enforced"+labels]; ok {
		t.Errorf("access enforcement is exported for an instance without an access policy")
	}

	if err := k8sClient.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(inst), inst); err == nil {
			return fmt.Errorf("instance still there")
		}
		if left := series(t, metrics.Registry, map[string]string{"namespace": ns}); len(left) > 0 {
			return fmt.Errorf("series of a deleted instance: %v", left)
		}
		return nil
	})
}

// TestBackupPolicyMetrics: a policy's health, its schedule's interval and its newest drill.
func TestBackupPolicyMetrics(t *testing.T) {
	drillAt := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	policy := &v1alpha1.BackupPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: "nightly"},
		Spec:       v1alpha1.BackupPolicySpec{Schedule: "0 2 * * *"},
		Status: v1alpha1.BackupPolicyStatus{
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionBackupHealthy, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonBackupStale}},
			LastDrill:  &v1alpha1.DrillRecord{Instance: "support", Time: &metav1.Time{Time: drillAt}, Result: drillFailed},
		},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) { collectBackupPolicy(ch, policy, drillAt) }))
	got := series(t, reg, nil)
	for name, want := range map[string]float64{
		`helpdesk_backup_policy_healthy{namespace="tenant-a",policy="nightly"}`:                                   0,
		`helpdesk_backup_schedule_interval_seconds{namespace="tenant-a",policy="nightly"}`:                        86400,
		`helpdesk_restore_drill_last_success{instance="support",namespace="tenant-a",policy="nightly"}`:           0,
		`helpdesk_restore_drill_last_timestamp_seconds{instance="support",namespace="tenant-a",policy="nightly"}`: float64(drillAt.Unix()),
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	policy.Status.LastDrill.Result = drillPassed
	policy.Status.Conditions[0].Status = metav1.ConditionTrue
	got = series(t, reg, nil)
	if got[`helpdesk_restore_drill_last_success{instance="support",namespace="tenant-a",policy="nightly"}`] != 1 ||
		got[`helpdesk_backup_policy_healthy{namespace="tenant-a",policy="nightly"}`] != 1 {
		t.Errorf("a passed drill and a healthy policy: %v", got)
	}
}

// collectorFunc is an unchecked collector.
type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }
