package resources

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

func envByName(env []corev1.EnvVar) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range env {
		out[e.Name] = e
	}
	return out
}

func checkRestricted(t *testing.T, where string, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v is not restricted", where, psc)
	}
	if ptr.Deref(pod.EnableServiceLinks, true) {
		t.Errorf("%s: service links are enabled", where)
	}
	for _, c := range append(append([]corev1.Container(nil), pod.InitContainers...), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s/%s: container security context %+v is not restricted", where, c.Name, sc)
		}
	}
}

func TestDeploymentRunsHardened(t *testing.T) {
	prof := helpyProfile(t)
	for _, inst := range []*v1alpha1.HelpdeskInstance{minimalInstance(), haInstance(), vaultAgentInstance()} {
		d := Deployment(inst, prof, testOptions(), "h")
		pod := d.Spec.Template.Spec
		checkRestricted(t, inst.Name, pod)
		if pod.ServiceAccountName != NamesFor(inst).App {
			t.Errorf("%s: service account %q", inst.Name, pod.ServiceAccountName)
		}
		mounts := map[string]string{}
		for _, m := range pod.Containers[0].VolumeMounts {
			mounts[m.MountPath] = m.Name
		}
		for _, p := range []string{"/helpy/log", "/helpy/tmp", "/helpy/public/assets"} {
			if _, ok := mounts[p]; !ok {
				t.Errorf("%s: %s is not writable", inst.Name, p)
			}
		}
		if mounts["/helpy/public/uploads"] != attachmentsVolume {
			t.Errorf("%s: attachments are not mounted at the uploads path: %v", inst.Name, mounts)
		}
		if _, ok := mounts["/helpy/public"]; ok {
			t.Errorf("%s: a volume on /helpy/public would hide the app's public files", inst.Name)
		}
		c := pod.Containers[0]
		if r := c.ReadinessProbe; r == nil || r.HTTPGet == nil || r.HTTPGet.Path != "/" ||
			len(r.HTTPGet.HTTPHeaders) == 0 || r.HTTPGet.HTTPHeaders[len(r.HTTPGet.HTTPHeaders)-1] != (corev1.HTTPHeader{Name: "Host", Value: inst.Spec.Hostname}) {
			t.Errorf("%s: readiness must GET / as the public hostname, got %+v", inst.Name, r)
		}
		if l := c.LivenessProbe; l == nil || l.TCPSocket == nil {
			t.Errorf("%s: liveness must be a TCP check, got %+v", inst.Name, l)
		}
		if s := c.StartupProbe; s == nil || s.PeriodSeconds*s.FailureThreshold < 300 {
			t.Errorf("%s: the startup probe must allow a slow first start, got %+v", inst.Name, s)
		}
		if d.Spec.Template.Annotations[AnnotationConfigHash] != withAppConfigHash("h", prof) {
			t.Errorf("%s: config hash annotation missing", inst.Name)
		}
	}
}

func TestDeploymentReplicasZeroIsKept(t *testing.T) {
	inst := minimalInstance()
	inst.Spec.App.Replicas = ptr.To[int32](0)
	if got := *Deployment(inst, helpyProfile(t), testOptions(), "").Spec.Replicas; got != 0 {
		t.Errorf("replicas = %d, want 0", got)
	}
	inst.Spec.App.Replicas = nil
	if got := *Deployment(inst, helpyProfile(t), testOptions(), "").Spec.Replicas; got != 1 {
		t.Errorf("replicas without a value = %d, want 1", got)
	}
}

func TestDeploymentEnvironment(t *testing.T) {
	prof := helpyProfile(t)
	inst := haInstance()
	env := envByName(Deployment(inst, prof, testOptions(), "").Spec.Template.Spec.Containers[0].Env)
	for _, k := range []string{"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} {
		e := env[k]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "helpdesk-db-app" {
			t.Errorf("%s must reference CloudNativePG's app Secret, got %+v", k, e)
		}
	}
	if env["RAILS_ENV"].Value != "production" || env["Settings.site_url"].Value != "https://help.tenant-b.example.com" {
		t.Errorf("RAILS_ENV / site URL: %+v %+v", env["RAILS_ENV"], env["Settings.site_url"])
	}
	if _, ok := env["RAILS_SERVE_STATIC_FILES"]; !ok {
		t.Error("RAILS_SERVE_STATIC_FILES is missing: uploads would not be served")
	}
	skb := env["SECRET_KEY_BASE"]
	if skb.ValueFrom == nil || skb.ValueFrom.SecretKeyRef == nil || skb.ValueFrom.SecretKeyRef.Name != "helpdesk-secrets" {
		t.Errorf("SECRET_KEY_BASE must reference the app Secret, got %+v", skb)
	}
	if _, ok := env["ADMIN_PASSWORD"]; ok {
		t.Error("the app must not receive the admin password; only the migration Job does")
	}
	// $(VAR) references only work for variables defined earlier.
	seen := map[string]bool{}
	for _, e := range Deployment(inst, prof, testOptions(), "").Spec.Template.Spec.Containers[0].Env {
		for name := range env {
			if strings.Contains(e.Value, "$("+name+")") && !seen[name] {
				t.Errorf("%s refers to %s before it is defined", e.Name, name)
			}
		}
		seen[e.Name] = true
	}
}

func TestDeploymentVaultAgentDelivery(t *testing.T) {
	prof := helpyProfile(t)
	inst := vaultAgentInstance()
	opts := testOptions()
	d := Deployment(inst, prof, opts, "")
	a := d.Spec.Template.Annotations
	if a["vault.hashicorp.com/agent-inject"] != "true" || a["vault.hashicorp.com/role"] != "helpdesk_tenant-c_desk_app" ||
		a["vault.hashicorp.com/agent-pre-populate-only"] != "true" || a["vault.hashicorp.com/auth-path"] != "auth/kubernetes" {
		t.Errorf("Vault Agent annotations: %v", a)
	}
	if got := a["vault.hashicorp.com/agent-inject-secret-app-env"]; got != "secret/data/helpdesk/secrets/tenant-c/desk" {
		t.Errorf("secret path %q", got)
	}
	tmpl := a["vault.hashicorp.com/agent-inject-template-app-env"]
	if !strings.Contains(tmpl, "export SECRET_KEY_BASE=") || strings.Contains(tmpl, "ADMIN_PASSWORD") {
		t.Errorf("template should render exactly the app's secrets: %s", tmpl)
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == NamesFor(inst).AppSecret {
			t.Errorf("%s references the app Secret, which does not exist with Vault Agent delivery", e.Name)
		}
	}
	if len(c.Command) < 4 || !strings.Contains(c.Command[2], vaultEnvPath) || c.Command[len(c.Command)-1] != "config/puma.rb" {
		t.Errorf("command must source the rendered env file and exec Puma: %q", c.Command)
	}
	pod := d.Spec.Template.Spec
	if ptr.Deref(pod.AutomountServiceAccountToken, true) {
		t.Error("no API token may be mounted: the Vault Agent logs in with the projected Vault token")
	}
	if a["vault.hashicorp.com/agent-service-account-token-volume-name"] != vaultTokenVolumeName {
		t.Errorf("the agent is not pointed at the projected token: %v", a)
	}
	var token *corev1.ServiceAccountTokenProjection
	for _, v := range pod.Volumes {
		if v.Name == vaultTokenVolumeName && v.Projected != nil {
			token = v.Projected.Sources[0].ServiceAccountToken
		}
	}
	if token == nil || token.Audience != opts.Vault.Audience || token.Audience == "" {
		t.Errorf("projected Vault token %+v, want one for the Vault audience", token)
	}
	for _, m := range c.VolumeMounts {
		if m.Name == vaultTokenVolumeName {
			t.Error("the app container mounts the Vault token; only the agent may")
		}
	}
	if a["vault.hashicorp.com/role"] != vault.RoleName("helpdesk", inst.Namespace, inst.Name, vault.WorkloadApp) {
		t.Errorf("agent role %q, want the app workload's", a["vault.hashicorp.com/role"])
	}
	if AppSecret(inst, prof, opts, testSecrets()) != nil {
		t.Error("no app Secret may exist with Vault Agent delivery")
	}
	if ptr.Deref(Deployment(minimalInstance(), prof, opts, "").Spec.Template.Spec.AutomountServiceAccountToken, true) {
		t.Error("with Secret delivery the app pods must not mount a token")
	}
}

func TestDeploymentPlacementFollowsAccessMode(t *testing.T) {
	prof := helpyProfile(t)
	inst := haInstance()
	opts := testOptions()
	rwo := Deployment(inst, prof, opts, "").Spec.Template.Spec
	if rwo.Affinity == nil || rwo.Affinity.PodAffinity == nil || len(rwo.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 ||
		len(rwo.TopologySpreadConstraints) != 0 {
		t.Errorf("ReadWriteOnce: app pods must share a node: %+v", rwo.Affinity)
	}
	opts.AttachmentsAccessMode = corev1.ReadWriteMany
	rwx := Deployment(inst, prof, opts, "").Spec.Template.Spec
	if rwx.Affinity != nil || len(rwx.TopologySpreadConstraints) != 2 {
		t.Errorf("ReadWriteMany: app pods must spread across nodes and zones: %+v", rwx.TopologySpreadConstraints)
	}
}

func TestImageChoice(t *testing.T) {
	prof := helpyProfile(t)
	inst := minimalInstance()
	opts := testOptions()
	if got := AppImage(inst, prof, opts); got != "registry.example.com/helpy:26aff0e" {
		t.Errorf("operator image: %q", got)
	}
	inst.Spec.App.Image = "mine:1"
	if got := AppImage(inst, prof, opts); got != "mine:1" {
		t.Errorf("spec image: %q", got)
	}
	inst.Spec.App.Image = ""
	opts.Images = nil
	// Helpy publishes no image: without one configured there is none, never a placeholder.
	if got := AppImage(inst, prof, opts); got != "" {
		t.Errorf("no image configured: %q, want none", got)
	}
}
