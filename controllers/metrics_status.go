package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// Per-instance and per-policy metrics, read from the objects' status in the manager's cache
// when Prometheus scrapes, so they always say what the status says, survive a restart,
// and vanish with their object. Only the elected leader exports them (it is the replica
// that writes the status and the backup metrics), so replicas never double a series. The
// one thing the status does not hold, when the instance's transit key was last rotated, is
// what Vault said at the last check of the instance (observeKey).
//
// Series carry namespace and instance (the instance's name as a label value, as the backup
// metrics do); scrape them with honorLabels so Prometheus keeps those labels.
var (
	instanceLabels = []string{"namespace", "instance"}

	descInstanceInfo = prometheus.NewDesc("helpdesk_instance_info",
		"Always 1 for every HelpdeskInstance; its labels say the app profile and hostname.",
		append(instanceLabels, "app", "hostname"), nil)
	descInstanceReady = prometheus.NewDesc("helpdesk_instance_ready",
		"1 when the instance's Ready condition is True, else 0.", instanceLabels, nil)
	descInstanceCondition = prometheus.NewDesc("helpdesk_instance_condition",
		"Always 1 for each condition of the instance, with its status and reason.",
		append(instanceLabels, "condition", "status", "reason"), nil)
	descKeyVersion = prometheus.NewDesc("helpdesk_instance_key_version",
		"Latest version of the instance's transit key in Vault (each rotation adds one).", instanceLabels, nil)
	descKeyRotated = prometheus.NewDesc("helpdesk_instance_key_rotated_timestamp_seconds",
		"Unix time the latest version of the instance's transit key was created (created or rotated), as Vault said at the last check.",
		instanceLabels, nil)
	descKeyRotationPeriod = prometheus.NewDesc("helpdesk_instance_key_rotation_period_seconds",
		"spec.encryption.keyRotationPeriod of the instance: how often Vault rotates its key; 0 when rotation is off.",
		instanceLabels, nil)
	descAccessEnforced = prometheus.NewDesc("helpdesk_instance_access_enforced",
		"1 when every part of the instance's access policy is enforced on it (AccessEnforced=True), else 0; absent without an access policy.",
		append(instanceLabels, "policy"), nil)
	descAccessPart = prometheus.NewDesc("helpdesk_instance_access_part",
		"Always 1 for each part of the instance's access policy (allowList, sso, mfa, session, uploads, botProtection), with its state (Enforced, NotEnforced, NotRequested) and reason.",
		append(instanceLabels, "policy", "part", "state", "reason"), nil)
	descBackupHealthy = prometheus.NewDesc("helpdesk_backup_policy_healthy",
		"1 when the BackupPolicy's BackupHealthy condition is True (every instance has a backup younger than twice the schedule's interval), 0 when False; absent while no instance uses it.",
		[]string{"namespace", "policy"}, nil)
	descBackupInterval = prometheus.NewDesc("helpdesk_backup_schedule_interval_seconds",
		"Interval of the BackupPolicy's schedule: a backup older than twice this is stale.", []string{"namespace", "policy"}, nil)
	descDrillSuccess = prometheus.NewDesc("helpdesk_restore_drill_last_success",
		"1 when the newest restore drill of the policy (of the instance it restored) passed, 0 when it failed.",
		[]string{"namespace", "instance", "policy"}, nil)
	descDrillTimestamp = prometheus.NewDesc("helpdesk_restore_drill_last_timestamp_seconds",
		"Unix time the newest restore drill of the policy finished.", []string{"namespace", "instance", "policy"}, nil)
)

// statusMetrics is the one collector, registered with the controller-runtime registry.
var statusMetrics = &statusCollector{}

func init() { metrics.Registry.MustRegister(statusMetrics) }

// statusCollector reads the cache on each scrape.
type statusCollector struct {
	mu      sync.RWMutex
	reader  client.Reader
	elected <-chan struct{}
	now     func() time.Time
	// keys are when each instance's key was last rotated, as Vault said at the last check,
	// by instance UID.
	keys sync.Map
}

// use points the collector at a manager's cache; it exports once elected is closed.
func (c *statusCollector) use(reader client.Reader, elected <-chan struct{}, now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reader, c.elected, c.now = reader, elected, now
}

// observeKey records what Vault said about the instance's key.
func (c *statusCollector) observeKey(inst *v1alpha1.HelpdeskInstance, state vault.TenantStatus) {
	c.keys.Store(inst.UID, state.LatestVersionCreated)
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInstanceInfo, descInstanceReady, descInstanceCondition, descKeyVersion, descKeyRotated,
		descKeyRotationPeriod, descAccessEnforced, descAccessPart, descBackupHealthy, descBackupInterval, descDrillSuccess, descDrillTimestamp} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	reader, elected, now := c.reader, c.elected, c.now
	c.mu.RUnlock()
	if reader == nil {
		return
	}
	select {
	case <-elected:
	default:
		return // a standby replica: the leader exports
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Read, never changed: no copy of every instance and policy per scrape.
	instances := &v1alpha1.HelpdeskInstanceList{}
	if err := reader.List(ctx, instances, client.UnsafeDisableDeepCopy); err == nil {
		seen := map[types.UID]bool{}
		for i := range instances.Items {
			seen[instances.Items[i].UID] = true
			c.collectInstance(ch, &instances.Items[i])
		}
		c.keys.Range(func(uid, _ any) bool {
			if !seen[uid.(types.UID)] {
				c.keys.Delete(uid)
			}
			return true
		})
	}
	policies := &v1alpha1.BackupPolicyList{}
	if err := reader.List(ctx, policies, client.UnsafeDisableDeepCopy); err == nil {
		for i := range policies.Items {
			collectBackupPolicy(ch, &policies.Items[i], now())
		}
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, value float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, value, labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *statusCollector) collectInstance(ch chan<- prometheus.Metric, inst *v1alpha1.HelpdeskInstance) {
	ns, name := inst.Namespace, resources.InstanceLabel(inst)
	gauge(ch, descInstanceInfo, 1, ns, name, string(inst.Spec.App.Profile), inst.Spec.Hostname)
	gauge(ch, descInstanceReady, boolValue(meta.IsStatusConditionTrue(inst.Status.Conditions, v1alpha1.ConditionReady)), ns, name)
	for _, cond := range inst.Status.Conditions {
		gauge(ch, descInstanceCondition, 1, ns, name, cond.Type, string(cond.Status), cond.Reason)
	}
	period := time.Duration(0)
	if p := inst.Spec.Encryption.KeyRotationPeriod; p != nil {
		period = p.Duration
	}
	gauge(ch, descKeyRotationPeriod, period.Seconds(), ns, name)
	if enc := inst.Status.Encryption; enc != nil && enc.LatestKeyVersion > 0 {
		gauge(ch, descKeyVersion, float64(enc.LatestKeyVersion), ns, name)
	}
	if v, ok := c.keys.Load(inst.UID); ok {
		if rotated := v.(time.Time); !rotated.IsZero() {
			gauge(ch, descKeyRotated, float64(rotated.Unix()), ns, name)
		}
	}
	if ref := inst.Spec.AccessPolicyRef; ref != nil {
		if cond := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionAccessEnforced); cond != nil {
			gauge(ch, descAccessEnforced, boolValue(cond.Status == metav1.ConditionTrue), ns, name, ref.Name)
		}
		if a := inst.Status.Access; a != nil {
			for part, s := range map[string]v1alpha1.AccessPartStatus{
				"allowList": a.AllowList, "sso": a.SSO, "mfa": a.MFA, "session": a.Session, "uploads": a.Uploads, "botProtection": a.BotProtection,
			} {
				if s.State != "" {
					gauge(ch, descAccessPart, 1, ns, name, ref.Name, part, string(s.State), s.Reason)
				}
			}
		}
	}
}

func collectBackupPolicy(ch chan<- prometheus.Metric, policy *v1alpha1.BackupPolicy, now time.Time) {
	ns := policy.Namespace
	if cond := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionBackupHealthy); cond != nil && cond.Status != metav1.ConditionUnknown {
		gauge(ch, descBackupHealthy, boolValue(cond.Status == metav1.ConditionTrue), ns, policy.Name)
	}
	if sched, err := parseBackupSchedules(policy); err == nil {
		gauge(ch, descBackupInterval, sched.Interval(now).Seconds(), ns, policy.Name)
	}
	if d := policy.Status.LastDrill; d != nil && d.Time != nil && d.Instance != "" {
		gauge(ch, descDrillSuccess, boolValue(d.Result == drillPassed), ns, d.Instance, policy.Name)
		gauge(ch, descDrillTimestamp, float64(d.Time.Unix()), ns, d.Instance, policy.Name)
	}
}
