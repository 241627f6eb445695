// Package schedule parses the cron schedules of policies strictly, the way the CronJobs
// that run them will, so a schedule Kubernetes would refuse is caught on the policy.
package schedule

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// The parser Kubernetes' CronJob controller uses: five fields plus descriptors.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cron expression in a time zone.
type Schedule struct {
	cron     cron.Schedule
	location *time.Location
}

// Parse checks expr and timeZone (an IANA name; empty means UTC). Errors name what is
// wrong with which and give an example.
func Parse(expr, timeZone string) (Schedule, error) {
	location := time.UTC
	if timeZone != "" {
		var err error
		if location, err = time.LoadLocation(timeZone); err != nil {
			return Schedule{}, fmt.Errorf("time zone %q is not a known IANA time zone such as Europe/Berlin", timeZone)
		}
	}
	parsed, err := parser.Parse(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q is not a valid cron expression (%w); use five fields such as \"0 2 * * *\" or a descriptor such as @daily", expr, err)
	}
	return Schedule{cron: parsed, location: location}, nil
}

// Next is the first run strictly after now.
func (s Schedule) Next(now time.Time) time.Time {
	return s.cron.Next(now.In(s.location))
}

// Interval is the gap between the next two runs after now; callers use it to judge
// whether the newest success is recent enough.
func (s Schedule) Interval(now time.Time) time.Duration {
	first := s.Next(now)
	return s.Next(first).Sub(first)
}
