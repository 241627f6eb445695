package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	cases := []struct {
		expr, zone string
		wantErr    string
		wantNext   time.Time
		interval   time.Duration
	}{
		{expr: "0 2 * * *", wantNext: time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC), interval: 24 * time.Hour},
		{expr: "@hourly", wantNext: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC), interval: time.Hour},
		{expr: "0 5 * * 0", wantNext: time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC), interval: 7 * 24 * time.Hour},
		{expr: "0 2 * * *", zone: "Europe/Berlin", wantNext: time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC), interval: 24 * time.Hour},
		{expr: "61 * * * *", wantErr: `schedule "61 * * * *" is not a valid cron expression`},
		{expr: "* * * * * *", wantErr: "is not a valid cron expression"},
		{expr: "0 2 31 2 MON-FOO", wantErr: "is not a valid cron expression"},
		{expr: "@fortnightly", wantErr: "is not a valid cron expression"},
		{expr: "0 2 * * *", zone: "Mars/Olympus", wantErr: `time zone "Mars/Olympus" is not a known IANA time zone`},
	}
	for _, tc := range cases {
		t.Run(tc.expr+"/"+tc.zone, func(t *testing.T) {
			s, err := Parse(tc.expr, tc.zone)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q, %q) error = %v, want %q", tc.expr, tc.zone, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tc.expr, tc.zone, err)
			}
			if got := s.Next(now); !got.Equal(tc.wantNext) {
				t.Errorf("Next = %v, want %v", got, tc.wantNext)
			}
			if got := s.Interval(now); got != tc.interval {
				t.Errorf("Interval = %v, want %v", got, tc.interval)
			}
		})
	}
}
