package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/schedule"
)

func TestParseRunResult(t *testing.T) {
	for _, tc := range []struct {
		message   string
		wantID    string
		wantError string
	}{
		{"log\n" + `{"id":"a1","size":5,"durationSeconds":2}` + "\n", "a1", ""},
		{`{"subcommand":"backup","error":"vault: permission denied"}`, "", "vault: permission denied"},
		{"panic: runtime error\ngoroutine 1 [running]", "", "goroutine 1 [running]"},
		{"", "", ""},
	} {
		got := parseRunResult(tc.message)
		if got.ID != tc.wantID || got.Error != tc.wantError {
			t.Errorf("parseRunResult(%q) = %+v, want id %q error %q", tc.message, got, tc.wantID, tc.wantError)
		}
	}
	if long := parseRunResult(`{"error":"` + strings.Repeat("x", 5000) + `"}`); len(long.Error) > maxRecordMessage+len("…") {
		t.Errorf("a long error is kept whole (%d bytes)", len(long.Error))
	}
}

func TestJudgeBackupHealth(t *testing.T) {
	daily, err := schedule.Parse("0 2 * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	rec := func(result string, age time.Duration) *v1alpha1.BackupRecord {
		return &v1alpha1.BackupRecord{Result: result, CompletionTime: &metav1.Time{Time: now.Add(-age)}}
	}
	for _, tc := range []struct {
		name        string
		instances   []string
		byInstance  map[string]instanceBackups
		want        string
		wantRecheck time.Time
	}{
		{"nobody references it", nil, nil, v1alpha1.ReasonNoBackupYet, time.Time{}},
		{"never ran", []string{"a"}, nil, v1alpha1.ReasonNoBackupYet, time.Time{}},
		{"fresh success", []string{"a"}, map[string]instanceBackups{"a": {lastSuccess: rec(backupSucceeded, 8*time.Hour), lastAttempt: rec(backupSucceeded, 8*time.Hour)}},
			v1alpha1.ReasonBackupSucceeded, now.Add(40 * time.Hour)},
		{"fresh success, newest failed", []string{"a"}, map[string]instanceBackups{"a": {lastSuccess: rec(backupSucceeded, 30*time.Hour), lastAttempt: rec(backupFailed, time.Hour)}},
			v1alpha1.ReasonBackupSucceeded, now.Add(18 * time.Hour)},
		{"old success", []string{"a"}, map[string]instanceBackups{"a": {lastSuccess: rec(backupSucceeded, 49*time.Hour), lastAttempt: rec(backupSucceeded, 49*time.Hour)}},
			v1alpha1.ReasonBackupStale, time.Time{}},
		{"only failures", []string{"a"}, map[string]instanceBackups{"a": {lastAttempt: rec(backupFailed, time.Hour)}}, v1alpha1.ReasonBackupFailed, time.Time{}},
		{"the worst instance decides", []string{"a", "b"}, map[string]instanceBackups{
			"a": {lastSuccess: rec(backupSucceeded, time.Hour), lastAttempt: rec(backupSucceeded, time.Hour)},
			"b": {lastSuccess: rec(backupSucceeded, 50*time.Hour), lastAttempt: rec(backupSucceeded, 50*time.Hour)},
		}, v1alpha1.ReasonBackupStale, now.Add(47 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judgeBackupHealth(tc.instances, tc.byInstance, daily, now)
			if got.reason != tc.want || !got.recheck.Equal(tc.wantRecheck) {
				t.Errorf("got %s (recheck %v): %s; want %s (recheck %v)", got.reason, got.recheck, got.message, tc.want, tc.wantRecheck)
			}
			if (got.status == metav1.ConditionTrue) != (tc.want == v1alpha1.ReasonBackupSucceeded) {
				t.Errorf("status %s with reason %s", got.status, got.reason)
			}
		})
	}
}
