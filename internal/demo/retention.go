package demo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
)

// retentionRules turns a RetentionPolicy's rules into the subcommand's --rule flags
// (CLASS:ACTION:AGE).
func retentionRules(policy *unstructured.Unstructured) ([]string, error) {
	rules, _, _ := unstructured.NestedSlice(policy.Object, "spec", "rules")
	flags := make([]string, 0, len(rules))
	for _, r := range rules {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("RetentionPolicy %s: a rule is not an object", policy.GetName())
		}
		flags = append(flags, fmt.Sprintf("--rule=%v:%v:%v", m["dataClass"], m["action"], m["olderThan"]))
	}
	return flags, nil
}

// retentionDryRun runs `helpdesk-operator retention --dry-run` with the instance's
// RetentionPolicy rules on the local database: it counts what the rules would change,
// and changes nothing.
func (s *session) retentionDryRun(ctx context.Context) error {
	if s.data.retentionPolicy == "" {
		return nil
	}
	policy := &unstructured.Unstructured{}
	policy.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("RetentionPolicy"))
	if err := s.kube.Get(ctx, client.ObjectKey{Namespace: s.o.Namespace, Name: s.data.retentionPolicy}, policy); err != nil {
		return err
	}
	rules, err := retentionRules(policy)
	if err != nil {
		return err
	}
	args := append([]string{"retention", "--dry-run", "--app-profile=" + string(v1alpha1.AppProfileHelpy),
		"--db-host=" + s.pg.Host, "--db-port=" + strconv.Itoa(s.pg.Port), "--db-name=" + s.data.dbName, "--db-user=" + s.data.dbUser,
		"--db-password-file=" + s.data.dbPasswordFile, "--db-sslmode=disable", "--attachments-dir=" + s.data.attachments}, rules...)
	s.p.progress("retention dry run: helpdesk-operator retention --dry-run %s", strings.Join(rules, " "))
	out, runErr := s.runOperator(ctx, "retention.log", nil, args...)
	var res retention.Result
	if err := decodeResult(out, &res); err != nil {
		if runErr != nil {
			return runErr
		}
		return err
	}
	if res.Result != retention.Succeeded {
		s.p.line("retention dry run FAILED: %s: %s", res.Reason, res.Error)
		return nil
	}
	s.p.line("retention dry run with RetentionPolicy %s's rules (nothing changed: dryRun %v, changed %v), %.1fs:", policy.GetName(), res.DryRun, res.Changed, res.DurationSeconds)
	rows := [][]string{{"  RULE", "CUTOFF", "RECORDS", "ROWS BY TABLE", "FILES"}}
	for _, r := range res.Rules {
		rows = append(rows, []string{
			fmt.Sprintf("  %s: %s after %s", r.DataClass, r.Action, days(r.OlderThan)),
			r.Cutoff.Format("2006-01-02"),
			fmt.Sprint(r.Records),
			rowCounts(r.Rows),
			fmt.Sprint(r.Files),
		})
	}
	s.p.table(rows)
	if res.OrphanFiles > 0 {
		s.p.line("orphan attachment files it would remove: %d", res.OrphanFiles)
	}
	return nil
}

// days shows a rule's age ("17520h0m0s") in days, as people think of retention.
func days(olderThan string) string {
	d, err := time.ParseDuration(olderThan)
	if err != nil || d%(24*time.Hour) != 0 {
		return olderThan
	}
	return fmt.Sprintf("%d days", d/(24*time.Hour))
}

func rowCounts(rows map[string]int64) string {
	tables := make([]string, 0, len(rows))
	for t := range rows {
		tables = append(tables, t)
	}
	slices.Sort(tables)
	parts := make([]string, 0, len(tables))
	for _, t := range tables {
		if rows[t] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", t, rows[t]))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
