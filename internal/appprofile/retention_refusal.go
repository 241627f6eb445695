package appprofile

import "github.com/privatedesk/helpdesk-operator/api/v1alpha1"

// Refusal says why the application refuses action on class, "" when it supports it. It
// is the profile half of retention.CheckRules, for the controllers, which report a
// refused rule as a condition before any Job runs.
func (r Retention) Refusal(class v1alpha1.DataClass, action v1alpha1.RetentionAction) string {
	if why, refused := r.Unsupported[class]; refused {
		return "the application does not support this data class: " + why
	}
	c, ok := r.Classes[class]
	if !ok {
		return "the app profile defines no meaning for this data class"
	}
	if _, ok := c.Actions[action]; !ok {
		return "the app profile does not support this action for this data class"
	}
	return ""
}
