package controllers

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

// appImageMissing reports AppReady=False/AppImageNotSet, with how to set one, when no image
// is configured for the instance's app: neither spec.app.image nor the operator's default
// for the profile. Nothing of the app starts then (no migration, no pods); what already
// runs is left as it is.
func (r *HelpdeskInstanceReconciler) appImageMissing(scope *instanceScope) bool {
	if resources.AppImage(scope.inst, scope.profile, r.Resources) != "" {
		return false
	}
	name := scope.profile.Name
	setCondition(scope.inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonAppImageNotSet, fmt.Sprintf(
		"No %[1]s image is configured: set spec.app.image on this instance, or the operator's default with --%[1]s-image "+
			"(Helm value %[1]s.image, environment HELPDESK_%[2]s_IMAGE). %[1]s publishes no image of its own: "+
			"build one from its Dockerfile and push it to a registry the cluster can pull from (docs/operations.md, \"Images\")",
		name, strings.ToUpper(name)))
	return true
}
