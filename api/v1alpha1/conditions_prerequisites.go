package v1alpha1

// Reasons for what the operator's environment lacks: something an administrator installs or
// configures once (an image, another operator's CRDs). The message names what is missing
// and how to provide it.
const (
	// ReasonAppImageNotSet (AppReady): no image for the app profile is configured, neither
	// in spec.app.image nor as the operator's default (--helpy-image).
	ReasonAppImageNotSet = "AppImageNotSet"
	// ReasonCloudNativePGMissing (DatabaseReady): CloudNativePG's Cluster CRD was not
	// installed when the operator started.
	ReasonCloudNativePGMissing = "CloudNativePGMissing"
	// ReasonExposureAPIMissing (Ready): the CRDs of the exposure the operator is configured
	// for (Gateway API's HTTPRoute, Traefik's Middleware, Envoy Gateway's policies) were not
	// installed when the operator started, so the instance is not exposed.
	ReasonExposureAPIMissing = "ExposureAPIMissing"
)
