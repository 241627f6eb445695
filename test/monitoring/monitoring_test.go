package monitoring

import (
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	// The operator's controllers register every metric the manager serves (theirs and
	// controller-runtime's) with controller-runtime's registry, which the manager serves.
	_ "github.com/privatedesk/helpdesk-operator/controllers"
)

const (
	rulesFile     = "../../config/prometheus/prometheus_rule.yaml"
	dashboardFile = "../../config/grafana/helpdesk-operator.json"
)

var promql = parser.NewParser(parser.Options{})

// exportedMetrics are the names of every metric registered with the manager's registry,
// from their descriptors: vectors without a series yet count too.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() {
		metrics.Registry.(prometheus.Collector).Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		names[m[1]] = true
	}
	return names
}

// exported says whether name is an exported metric or a series of one (histograms and
// summaries export _bucket, _sum and _count series).
func exported(names map[string]bool, name string) bool {
	if names[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && names[base] {
			return true
		}
	}
	return false
}

// metricNames are the metric names a PromQL expression selects.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	node, err := promql.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q does not parse: %v", expr, err)
	}
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					name = m.Value
				}
			}
			if name == "" {
				t.Errorf("%q selects series without a metric name", expr)
			}
			names = append(names, name)
		}
		return nil
	})
	return names
}

// loadRules parses the PrometheusRule's groups with Prometheus's own rule parser, which
// checks every expression, duration and annotation template.
func loadRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		Kind string         `json:"kind"`
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	if obj.Kind != "PrometheusRule" {
		t.Fatalf("%s is a %q, want a PrometheusRule", rulesFile, obj.Kind)
	}
	groups, err := yaml.Marshal(obj.Spec)
	if err != nil {
		t.Fatal(err)
	}
	rules, errs := rulefmt.Parse(groups, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("Prometheus refuses the rules: %v", err)
	}
	if rules == nil {
		t.FailNow()
	}
	return rules
}

// TestRulesUseOnlyExportedMetrics: Prometheus loads the rules, every alert says how bad it is
// and what to do, and every metric the rules use is one the operator exports.
func TestRulesUseOnlyExportedMetrics(t *testing.T) {
	names := exportedMetrics(t)
	for _, want := range []string{"helpdesk_instance_ready", "helpdesk_backup_last_successful_timestamp", "controller_runtime_reconcile_errors_total"} {
		if !names[want] {
			t.Fatalf("the registry does not have %s; it has %v", want, sorted(names))
		}
	}
	alerts := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a recording rule %q; the operator ships alerts only", g.Name, r.Record)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			if r.Labels["severity"] != "warning" && r.Labels["severity"] != "critical" {
				t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s has no summary or description", r.Alert)
			}
			for _, name := range metricNames(t, r.Expr) {
				if !exported(names, name) {
					t.Errorf("alert %s uses %s, which the operator does not export", r.Alert, name)
				}
			}
		}
	}
	for _, want := range []string{"HelpdeskInstanceNotReady", "HelpdeskBackupStale", "HelpdeskRestoreDrillFailed",
		"HelpdeskKeyRotationOverdue", "HelpdeskAccessPolicyNotEnforced"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestAlertsFireOnlyWhenTheyShould evaluates each alert's expression with Prometheus's query
// engine on series as the operator exports them: it returns exactly the broken instance or
// policy, with the labels the annotations use, and nothing for the healthy ones.
func TestAlertsFireOnlyWhenTheyShould(t *testing.T) {
	exprs := map[string]string{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}
	// Evaluated at 10m, where time() is 600 (timestamps are Unix seconds), unless at says.
	cases := map[string]struct{ load, want, at string }{
		"HelpdeskInstanceNotReady": {`
  helpdesk_instance_ready{namespace="a",instance="down"} 0x20
  helpdesk_instance_ready{namespace="a",instance="up"} 1x20`,
			`{namespace="a",instance="down"} 0`, ""},
		"HelpdeskAccessPolicyNotEnforced": {`
  helpdesk_instance_access_part{namespace="a",instance="x",policy="p",part="allowList",state="NotEnforced",reason="AllowListUnsupported"} 1x20
  helpdesk_instance_access_part{namespace="a",instance="x",policy="p",part="sso",state="Enforced",reason=""} 1x20
  helpdesk_instance_access_part{namespace="a",instance="y",policy="p",part="mfa",state="NotRequested",reason=""} 1x20`,
			`{namespace="a",instance="x",policy="p",part="allowList",reason="AllowListUnsupported"} 1`, ""},
		"HelpdeskKeyRotationOverdue": {`
  helpdesk_instance_key_rotated_timestamp_seconds{namespace="a",instance="overdue"} -100000x20
  helpdesk_instance_key_rotation_period_seconds{namespace="a",instance="overdue"} 3600x20
  helpdesk_instance_key_rotated_timestamp_seconds{namespace="a",instance="fresh"} 0x20
  helpdesk_instance_key_rotation_period_seconds{namespace="a",instance="fresh"} 3600x20
  helpdesk_instance_key_rotated_timestamp_seconds{namespace="a",instance="off"} -100000x20
  helpdesk_instance_key_rotation_period_seconds{namespace="a",instance="off"} 0x20`,
			`{namespace="a",instance="overdue"} 100600`, ""},
		"HelpdeskBackupStale": {`
  helpdesk_backup_last_successful_timestamp{namespace="a",instance="stale",policy="hourly"} 0x20
  helpdesk_backup_last_successful_timestamp{namespace="a",instance="fresh",policy="daily"} 0x20
  helpdesk_backup_schedule_interval_seconds{namespace="a",policy="hourly"} 60x20
  helpdesk_backup_schedule_interval_seconds{namespace="a",policy="daily"} 86400x20`,
			`{namespace="a",instance="stale",policy="hourly"} 600`, ""},
		"HelpdeskBackupPolicyUnhealthy": {`
  helpdesk_backup_policy_healthy{namespace="a",policy="sick"} 0x20
  helpdesk_backup_policy_healthy{namespace="a",policy="fine"} 1x20`,
			`{namespace="a",policy="sick"} 0`, ""},
		"HelpdeskRestoreDrillFailed": {`
  helpdesk_restore_drill_last_success{namespace="a",instance="x",policy="p"} 0x20
  helpdesk_restore_drill_last_success{namespace="b",instance="y",policy="p"} 1x20`,
			`{namespace="a",instance="x",policy="p"} 0`, ""},
		"HelpdeskOperatorReconcileErrors": {`
  controller_runtime_reconcile_errors_total{controller="helpdeskinstance"} 0+10x20
  controller_runtime_reconcile_errors_total{controller="backuppolicy"} 0x20
  controller_runtime_reconcile_errors_total{controller="someone-elses"} 0+10x20`,
			`{controller="helpdeskinstance"} 0.16666666666666666`, "20m"},
	}
	for alert, expr := range exprs {
		c, ok := cases[alert]
		if !ok {
			t.Errorf("alert %s has no case here: add series on which it fires and on which it does not", alert)
			continue
		}
		t.Run(alert, func(t *testing.T) {
			at := c.at
			if at == "" {
				at = "10m"
			}
			script := "load 1m" + c.load + "\n\neval instant at " + at + " " + oneLine(expr) + "\n  " + c.want + "\n"
			promqltest.RunTest(t, script, promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery))
		})
	}
}

func oneLine(expr string) string { return strings.Join(strings.Fields(expr), " ") }

// TestDashboardUsesOnlyExportedMetrics: every query of the Grafana dashboard parses and
// selects only metrics the operator exports, and it is per tenant: a namespace variable
// that every helpdesk panel filters by.
func TestDashboardUsesOnlyExportedMetrics(t *testing.T) {
	names := exportedMetrics(t)
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dashboard map[string]any
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	// Grafana's variables, as values PromQL accepts.
	variables := strings.NewReplacer("${datasource}", "x", "$__rate_interval", "5m", "$__interval", "1m", "$namespace", "ns", "$instance", "inst")
	var exprs []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if s, ok := child.(string); ok && k == "expr" {
					exprs = append(exprs, s)
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(dashboard["panels"])
	if len(exprs) < 10 {
		t.Fatalf("the dashboard has %d queries; lost panels?", len(exprs))
	}
	for _, expr := range exprs {
		for _, name := range metricNames(t, variables.Replace(expr)) {
			if !exported(names, name) {
				t.Errorf("the dashboard queries %s, which the operator does not export: %s", name, expr)
			}
			if strings.HasPrefix(name, "helpdesk_") && !strings.Contains(expr, `namespace=~"$namespace"`) {
				t.Errorf("a panel shows %s of every tenant, not the chosen namespace: %s", name, expr)
			}
		}
	}
	// The variables' label_values queries.
	templating, _ := dashboard["templating"].(map[string]any)
	list, _ := templating["list"].([]any)
	labelValues := regexp.MustCompile(`^label_values\((.+), *([a-z_]+)\)$`)
	found := map[string]bool{}
	for _, v := range list {
		variable, _ := v.(map[string]any)
		name, _ := variable["name"].(string)
		found[name] = true
		definition, _ := variable["definition"].(string)
		if definition == "" {
			continue
		}
		m := labelValues.FindStringSubmatch(definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(<selector>, <label>)", name, definition)
			continue
		}
		for _, metric := range metricNames(t, variables.Replace(m[1])) {
			if !exported(names, metric) {
				t.Errorf("variable %s reads %s, which the operator does not export", name, metric)
			}
		}
	}
	if !found["namespace"] || !found["datasource"] {
		t.Errorf("the dashboard lacks the namespace or data source variable: %v", found)
	}
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
