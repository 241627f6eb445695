package retention

import (
	"fmt"
	"strings"
	"time"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// MinAge is the smallest age a rule accepts, as the RetentionPolicy CRD does.
const MinAge = time.Hour

// Rule ages out one data class: records older than OlderThan get Action.
type Rule struct {
	Class     v1alpha1.DataClass
	Action    v1alpha1.RetentionAction
	OlderThan time.Duration
}

func (r Rule) String() string { return fmt.Sprintf("%s:%s:%s", r.Class, r.Action, r.OlderThan) }

// ParseRule parses CLASS:ACTION:AGE, e.g. ClosedTickets:Delete:8760h (AGE is a Go
// duration, as in the RetentionPolicy's olderThan).
func ParseRule(s string) (Rule, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Rule{}, Errorf(ReasonInvalidConfiguration, "rule %q: want CLASS:ACTION:AGE, e.g. ClosedTickets:Delete:8760h", s)
	}
	age, err := time.ParseDuration(parts[2])
	if err != nil {
		return Rule{}, Errorf(ReasonInvalidConfiguration, "rule %q: the age %q is not a duration like 8760h", s, parts[2])
	}
	return Rule{Class: v1alpha1.DataClass(parts[0]), Action: v1alpha1.RetentionAction(parts[1]), OlderThan: age}, nil
}

// CheckRules validates rules as the RetentionPolicy CRD does (known class and action, at
// most one rule per class, Attachments and Logs Delete only, an age of at least an hour),
// and against the app profile: a class the application does not support is refused with
// the profile's reason.
func CheckRules(rules []Rule, p appprofile.Retention) error {
	if len(rules) == 0 {
		return Errorf(ReasonInvalidConfiguration, "no rules: give at least one, e.g. --rule=ClosedTickets:Delete:8760h")
	}
	seen := map[v1alpha1.DataClass]bool{}
	for _, r := range rules {
		switch r.Class {
		case v1alpha1.DataClassClosedTickets, v1alpha1.DataClassAllTickets, v1alpha1.DataClassAttachments,
			v1alpha1.DataClassInactiveCustomers, v1alpha1.DataClassLogs:
		default:
			return Errorf(ReasonInvalidConfiguration, "rule %s: unknown data class (want ClosedTickets, AllTickets, Attachments, InactiveCustomers or Logs)", r)
		}
		if r.Action != v1alpha1.RetentionActionDelete && r.Action != v1alpha1.RetentionActionAnonymize {
			return Errorf(ReasonInvalidConfiguration, "rule %s: unknown action (want Delete or Anonymize)", r)
		}
		if r.Action == v1alpha1.RetentionActionAnonymize && (r.Class == v1alpha1.DataClassAttachments || r.Class == v1alpha1.DataClassLogs) {
			return Errorf(ReasonInvalidConfiguration, "rule %s: attachments and logs can only be deleted", r)
		}
		if r.OlderThan < MinAge {
			return Errorf(ReasonInvalidConfiguration, "rule %s: the age must be at least %s", r, MinAge)
		}
		if seen[r.Class] {
			return Errorf(ReasonInvalidConfiguration, "rule %s: at most one rule per data class", r)
		}
		seen[r.Class] = true
		if why, refused := p.Unsupported[r.Class]; refused {
			return Errorf(ReasonUnsupportedDataClass, "rule %s: the application does not support this data class: %s", r, why)
		}
		class, ok := p.Classes[r.Class]
		if !ok {
			return Errorf(ReasonUnsupportedDataClass, "rule %s: the app profile defines no meaning for this data class", r)
		}
		if _, ok := class.Actions[r.Action]; !ok {
			return Errorf(ReasonUnsupportedDataClass, "rule %s: the app profile does not support this action for this data class", r)
		}
	}
	return nil
}

// ordered returns rules in the profile's order; classes the order does not name follow
// in the order given.
func ordered(rules []Rule, p appprofile.Retention) []Rule {
	out := make([]Rule, 0, len(rules))
	placed := map[v1alpha1.DataClass]bool{}
	for _, c := range p.Order {
		for _, r := range rules {
			if r.Class == c {
				out = append(out, r)
				placed[c] = true
			}
		}
	}
	for _, r := range rules {
		if !placed[r.Class] {
			out = append(out, r)
		}
	}
	return out
}
