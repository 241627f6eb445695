// Package appprofile holds everything that is specific to one helpdesk application, so
// that the builders in internal/resources stay application-neutral and another helpdesk
// (Zammad, FreeScout) becomes a new profile rather than a change to every builder.
package appprofile

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// Profile describes how to run one helpdesk application. It is plain data so that the
// builders can be tested against it and a new application only fills in another one.
type Profile struct {
	// Name is the application's name, used as the app.kubernetes.io/name label value.
	Name string
	// DefaultImage is used when neither spec.app.image nor the operator's options name one;
	// empty when the application publishes no image (the instance then says AppImageNotSet).
	DefaultImage string
	// ContainerName of the application container in the Deployment and the migration Job.
	ContainerName string
	// Port the application listens on inside the pod.
	Port int32
	// RunAsUser and RunAsGroup are the numeric IDs the image runs as. They must be numeric:
	// runAsNonRoot cannot verify a user given by name in the image.
	RunAsUser  int64
	RunAsGroup int64

	// Shell runs MigrationScript and the Vault Agent wrapper. It must pass environment
	// variables with dots in their names (Settings.site_url) through to its children.
	Shell string
	// StartCommand starts the application server directly, without an entrypoint script.
	StartCommand []string
	// MigrationScript is run by Shell in the migration Job. It must be idempotent: it
	// runs again for every new image and whenever a Job is retried.
	MigrationScript string

	// Env is the application's fixed environment.
	Env []corev1.EnvVar
	// DatabaseEnv maps environment variables to keys of the Secret CloudNativePG writes
	// for the application user (<cluster>-app); values are only ever referenced.
	DatabaseEnv []SecretEnv
	// DerivedEnv may reference Env and DatabaseEnv with $(NAME); it comes after them.
	DerivedEnv []corev1.EnvVar
	// SiteURLEnv is the variable that receives the instance's public URL.
	SiteURLEnv string

	// Secrets are the values the operator generates and keeps in Vault.
	Secrets []Secret

	// Database and DatabaseOwner are created by CloudNativePG's initdb bootstrap.
	Database      string
	DatabaseOwner string

	// WritablePaths become emptyDir volumes, as the root filesystem is read-only.
	WritablePaths []WritablePath
	// UploadsPath is where the attachments volume is mounted.
	UploadsPath string
	// ConfigFiles are placed read-only into the app container (not the migration Job).
	ConfigFiles []ConfigFile

	// WorkingDir of the application containers.
	WorkingDir string

	// Settings says where the app keeps the settings an access policy decides; a zero
	// Table means the app has none the operator can write.
	Settings SettingsStore

	// AgentPathPrefixes are the paths of the agent and admin UI and of the API whose keys
	// are agent credentials. They are routed apart from the customer portal, carry the
	// agent allow-list, and need a session at the access gate. Clean absolute paths.
	AgentPathPrefixes []string

	// HTTPProbePath is requested by the readiness probe, with HTTPProbeHeaders. The
	// builders add a Host header with the instance's hostname (see resources).
	HTTPProbePath    string
	HTTPProbeHeaders []corev1.HTTPHeader
	// StartupTimeoutSeconds is how long the first start may take before the pod is
	// restarted; Helpy may compile assets on start.
	StartupTimeoutSeconds int32
}

// SettingsStore is a rails-settings-cached table (var, YAML value, thing_type NULL for
// global rows) and the names of the settings an access policy decides.
type SettingsStore struct {
	Table string
	// ExtensionAllowList holds the allowed upload extensions, comma-separated; empty
	// allows what the app's own refused-extensions list does not refuse.
	ExtensionAllowList string
	// CaptchaProvider is the one captcha provider the app supports (an API value), and
	// CaptchaEnabled ("1" or "0"), CaptchaSiteKey and CaptchaSecretKey its settings.
	CaptchaProvider  string
	CaptchaEnabled   string
	CaptchaSiteKey   string
	CaptchaSecretKey string
}

// SecretEnv sets an environment variable from one key of a Secret.
type SecretEnv struct {
	Name string
	Key  string
}

// Secret is one value the operator generates in Vault and delivers to the pods.
type Secret struct {
	// Key in Vault's KV secret and the app Secret; also the environment variable name.
	Key string
	// Length in URL-safe characters. URL-safe values need no quoting in the Vault Agent
	// env file, which the builders rely on.
	Length int
	// App delivers the value to the application pods.
	App bool
	// Migration delivers the value to the migration Job.
	Migration bool
}

// WritablePath is a directory the application writes to at run time.
type WritablePath struct {
	// Volume name in the pod.
	Name string
	Path string
	// SeedFromImage copies the image's content of Path into the volume before the app
	// starts, so that files built into the image (precompiled assets) stay visible.
	SeedFromImage bool
}

// AppSecretKeys returns the keys of the secrets the application pods receive.
func (p Profile) AppSecretKeys() []string {
	var keys []string
	for _, s := range p.Secrets {
		if s.App {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

// MigrationSecretKeys returns the keys of the secrets the migration Job receives.
func (p Profile) MigrationSecretKeys() []string {
	var keys []string
	for _, s := range p.Secrets {
		if s.Migration {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

// For returns a fresh copy of the profile for app; callers may modify it freely.
func For(app v1alpha1.AppProfile) (Profile, error) {
	switch app {
	case v1alpha1.AppProfileHelpy, "":
		// The schema defaults the profile; an empty one only comes from Go callers.
		return helpy(), nil
	default:
		return Profile{}, fmt.Errorf("unknown app profile %q: the operator supports %q", app, v1alpha1.AppProfileHelpy)
	}
}
