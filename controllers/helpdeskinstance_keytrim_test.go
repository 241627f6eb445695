package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

func TestPlanKeyTrim(t *testing.T) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return day0.Add(time.Duration(n) * 24 * time.Hour) }
	key := func(minDecrypt, minAvailable int, versions ...int) *vault.KeyVersions {
		kv := &vault.KeyVersions{MinDecryption: minDecrypt, MinAvailable: minAvailable, Created: map[int]time.Time{}}
		for _, v := range versions {
			kv.Created[v] = day(10 * (v - 1)) // version v rotated in on day 10(v-1)
			kv.Latest = max(kv.Latest, v)
		}
		return kv
	}
	week := 7 * 24 * time.Hour
	for _, tc := range []struct {
		name        string
		kv          *vault.KeyVersions
		floor       int
		maxAge      time.Duration
		now         time.Time
		want        int
		wantRecheck time.Time
	}{
		{name: "everything below the floor is old enough", kv: key(1, 0, 1, 2, 3, 4, 5), floor: 4, maxAge: week, now: day(45), want: 4},
		{name: "the floor's version is too young: stop below it, look again when it is old enough",
			kv: key(1, 0, 1, 2, 3, 4, 5), floor: 5, maxAge: week, now: day(45), want: 4, wantRecheck: day(40).Add(week + time.Hour)},
		{name: "the clock-skew margin counts", kv: key(1, 0, 1, 2, 3), floor: 3, maxAge: week, now: day(27).Add(30 * time.Minute),
			want: 2, wantRecheck: day(27).Add(time.Hour)},
		{name: "nothing below version 1", kv: key(1, 0, 1, 2, 3), floor: 1, maxAge: week, now: day(100)},
		{name: "already trimmed there", kv: key(4, 4, 4, 5), floor: 4, maxAge: week, now: day(100)},
		{name: "never beyond the latest version", kv: key(1, 0, 1, 2, 3), floor: 9, maxAge: week, now: day(100), want: 3},
		{name: "a raised min_decryption_version is trimmed for good", kv: key(3, 0, 3, 4, 5), floor: 5, maxAge: week, now: day(100), want: 5},
		{name: "a long maxAge holds everything back", kv: key(1, 0, 1, 2, 3), floor: 3, maxAge: 365 * 24 * time.Hour, now: day(100),
			wantRecheck: day(0).Add(365*24*time.Hour + time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, recheck := planKeyTrim(tc.kv, tc.floor, tc.maxAge, tc.now)
			if got != tc.want || !recheck.Equal(tc.wantRecheck) {
				t.Errorf("planKeyTrim = %d, recheck %v; want %d, %v", got, recheck, tc.want, tc.wantRecheck)
			}
		})
	}
}

func TestRetainedKeyFloor(t *testing.T) {
	at := func(h int) *metav1.Time { return &metav1.Time{Time: time.Date(2026, 11, 1, h, 0, 0, 0, time.UTC)} }
	st := &v1alpha1.BackupPolicyStatus{RecentBackups: []v1alpha1.BackupRecord{
		{Instance: "desk", Result: backupFailed, CompletionTime: at(9)},
		{Instance: "desk", Result: backupSucceeded, CompletionTime: at(8), KeyVersion: 6}, // pruning failed: no report
		{Instance: "other", Result: backupSucceeded, CompletionTime: at(7), KeyVersion: 9, OldestKeyVersion: 9},
		{Instance: "desk", Result: backupSucceeded, CompletionTime: at(6), KeyVersion: 6, OldestKeyVersion: 4},
		{Instance: "desk", Result: backupSucceeded, CompletionTime: at(5), KeyVersion: 5, OldestKeyVersion: 3},
	}}
	if got := retainedKeyFloor(st, "desk"); got != 4 {
		t.Errorf("floor %d, want 4: the newest report of this instance", got)
	}
	if got := retainedKeyFloor(st, "nobody"); got != 0 {
		t.Errorf("floor %d for an instance without reports, want 0 (nothing is trimmed)", got)
	}
	st.LastSuccessfulBackup = &v1alpha1.BackupRecord{Instance: "desk", Result: backupSucceeded, CompletionTime: at(10), OldestKeyVersion: 5}
	if got := retainedKeyFloor(st, "desk"); got != 5 {
		t.Errorf("floor %d, want 5 from lastSuccessfulBackup", got)
	}
}

func TestExportKeyFloor(t *testing.T) {
	export := func(instance string, version int, deleted bool) v1alpha1.DataSubjectRequest {
		r := v1alpha1.DataSubjectRequest{Spec: v1alpha1.DataSubjectRequestSpec{InstanceName: instance, Type: v1alpha1.DataSubjectAccess}}
		r.Status.Export = &v1alpha1.DataSubjectExport{KeyVersion: version}
		if deleted {
			r.Status.Export.DeletedAt = &metav1.Time{}
		}
		return r
	}
	reqs := []v1alpha1.DataSubjectRequest{export("desk", 5, false), export("desk", 2, true), export("other", 1, false), {Spec: v1alpha1.DataSubjectRequestSpec{InstanceName: "desk"}}}
	if got := exportKeyFloor(reqs, "desk", 7); got != 5 {
		t.Errorf("floor %d, want 5: the live export of desk; deleted ones and other instances' do not count", got)
	}
	if got := exportKeyFloor(reqs, "desk", 3); got != 3 {
		t.Errorf("floor %d, want 3", got)
	}
}
