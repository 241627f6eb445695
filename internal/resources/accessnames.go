package resources

import "github.com/privatedesk/helpdesk-operator/api/v1alpha1"

// AccessNames are the names of the objects that expose an instance and guard it. Like
// Names they depend only on the instance's name, through childName, so that no spec field
// can make two instances share one.
type AccessNames struct {
	// PortalRoute is the HTTPRoute (and Envoy Gateway SecurityPolicy) of "/"; the portal
	// Ingress keeps Names.App.
	PortalRoute string
	// AgentRoute is the Ingress or HTTPRoute (and SecurityPolicy) of the agent paths.
	AgentRoute string
	// AgentAllowList, PortalAllowList and BodyLimit are Traefik Middlewares; BodyLimit is
	// also the Envoy Gateway BackendTrafficPolicy.
	AgentAllowList  string
	PortalAllowList string
	BodyLimit       string
	// Gate names the access gate's Deployment, Service, ServiceAccount, Secret and
	// NetworkPolicy.
	Gate string
}

// AccessNamesFor returns the access object names of inst.
func AccessNamesFor(inst *v1alpha1.HelpdeskInstance) AccessNames {
	child := func(suffix string) string { return childName(inst.Name, suffix, maxName) }
	return AccessNames{
		PortalRoute:     child("portal"),
		AgentRoute:      child("agent"),
		AgentAllowList:  child("agent-allow"),
		PortalAllowList: child("portal-allow"),
		BodyLimit:       child("body-limit"),
		Gate:            child("gate"),
	}
}
