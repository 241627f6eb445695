package resources

import (
	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Label keys.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"

	// LabelHelpdeskInstance carries the instance on every child and every pod, the
	// database pods included; it is what isolates instances from one another.
	LabelHelpdeskInstance = "helpdesk.privatedesk.io/instance"
	// LabelHelpdeskRole says which NetworkPolicy applies to a pod: RoleApp,
	// RoleDatabase, RoleJob or RoleGate.
	LabelHelpdeskRole = "helpdesk.privatedesk.io/role"

	// PartOf is the app.kubernetes.io/part-of value of every child.
	PartOf = "helpdesk"

	// ClusterLabel is the label CloudNativePG puts on the pods of a Cluster.
	ClusterLabel = "cnpg.io/cluster"
)

// Components, the app.kubernetes.io/component values.
const (
	ComponentApp       = "app"
	ComponentDatabase  = "database"
	ComponentMigration = "migration"
	ComponentStorage   = "storage"
	ComponentNetwork   = "network"
	ComponentSecrets   = "secrets"
	ComponentGate      = "gate"
)

// Network roles, the LabelHelpdeskRole values. Other Jobs of an instance (backup,
// retention) use RoleJob to get the jobs' network access.
const (
	RoleApp      = "app"
	RoleDatabase = "database"
	RoleJob      = "job"
	// RoleGate is the access gate in front of the app.
	RoleGate = "gate"
)

// Labels are the labels of a child object of inst.
func Labels(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, component string) map[string]string {
	instance := InstanceLabel(inst)
	return map[string]string{
		LabelName:             prof.Name,
		LabelInstance:         instance,
		LabelComponent:        component,
		LabelManagedBy:        opts.ManagedBy,
		LabelPartOf:           PartOf,
		LabelHelpdeskInstance: instance,
	}
}

// InstanceSelector selects every pod of inst.
func InstanceSelector(inst *v1alpha1.HelpdeskInstance) map[string]string {
	return map[string]string{LabelHelpdeskInstance: InstanceLabel(inst)}
}

// SelectorLabels select the pods of inst that have a network role. They never change
// for an instance (Deployment selectors are immutable), so they hold neither the
// profile nor the operator's name.
func SelectorLabels(inst *v1alpha1.HelpdeskInstance, role string) map[string]string {
	return map[string]string{
		LabelHelpdeskInstance: InstanceLabel(inst),
		LabelHelpdeskRole:     role,
	}
}

// PodLabels are the labels of the pods of a component with a network role.
func PodLabels(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, component, role string) map[string]string {
	l := Labels(inst, prof, opts, component)
	for k, v := range SelectorLabels(inst, role) {
		l[k] = v
	}
	return l
}

// databasePodSelector selects the instance's own database pods: the operator's labels,
// inherited through the Cluster, and CloudNativePG's cluster label.
func databasePodSelector(inst *v1alpha1.HelpdeskInstance) map[string]string {
	l := SelectorLabels(inst, RoleDatabase)
	l[ClusterLabel] = NamesFor(inst).DatabaseCluster
	return l
}
