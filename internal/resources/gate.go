package resources

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	gateconfig "github.com/privatedesk/helpdesk-operator/internal/gate/config"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// GateOptions configure the access gate every instance with spec.sso runs: the operator's
// own binary (`helpdesk-operator gate`), an authenticating reverse proxy in front of the app.
type GateOptions struct {
	// Image of the gate; empty uses OperatorImage.
	Image string
	// EgressCIDRs are identity provider networks every gate may reach, besides the
	// policy's spec.sso.providerCIDRs (--gate-egress-cidrs).
	EgressCIDRs []string
}

func (g GateOptions) validate() error { return validCIDRs("gate egress", g.EgressCIDRs) }

// The gate's Vault secrets: the session cookie's keys, generated once under the instance's
// KV path with the app secrets. Vault generates URL-safe characters; 86 of them carry 64
// random bytes (the HMAC key, 32 to 64 bytes) and 43 carry 32 (the AES-256 key), which
// GateSecret re-encodes as the standard base64 the gate reads.
const (
	GateHashKeySecret  = "GATE_COOKIE_HASH_KEY"
	GateBlockKeySecret = "GATE_COOKIE_BLOCK_KEY"
)

// GateVaultSecrets are the specs of the gate's keys in Vault.
func GateVaultSecrets() []vault.SecretSpec {
	return []vault.SecretSpec{{Key: GateHashKeySecret, Length: 86}, {Key: GateBlockKeySecret, Length: 43}}
}

// Where the gate finds its files, and what it listens on.
const (
	gatePort        = 8080
	gateUID         = 65532 // the distroless nonroot user of the operator image
	gateConfigFile  = "/etc/helpdesk-gate/config.json"
	gateCookieDir   = "/var/run/helpdesk-gate/cookie"
	gateIDPDir      = "/var/run/helpdesk-gate/idp"
	gateConfigKey   = "config.json"
	gateHashKeyKey  = "hash-key"
	gateBlockKeyKey = "block-key"
)

// gateFile is one policy Secret key the gate reads as a file under gateIDPDir.
type gateFile struct {
	ref  v1alpha1.SecretKeyReference
	file string
}

// gateFiles are the policy's Secret keys the gate mounts: only references, never values.
func gateFiles(sso *v1alpha1.SSOSpec) []gateFile {
	var out []gateFile
	switch {
	case sso == nil:
	case sso.OIDC != nil:
		out = append(out, gateFile{sso.OIDC.ClientSecretRef, "client-secret"})
	case sso.SAML != nil:
		if sso.SAML.SigningKeyRef != nil && sso.SAML.CertificateRef != nil {
			out = append(out, gateFile{*sso.SAML.SigningKeyRef, "saml-key.pem"}, gateFile{*sso.SAML.CertificateRef, "saml-cert.pem"})
		}
	case sso.LDAP != nil:
		out = append(out, gateFile{sso.LDAP.BindPasswordRef, "bind-password"})
		if sso.LDAP.CASecretRef != nil {
			out = append(out, gateFile{*sso.LDAP.CASecretRef, "ldap-ca.pem"})
		}
	}
	return out
}

// GateSecretRefs are the policy's Secret keys the gate needs.
func GateSecretRefs(policy *v1alpha1.AccessPolicy) []v1alpha1.SecretKeyReference {
	var refs []v1alpha1.SecretKeyReference
	for _, f := range gateFiles(policy.Spec.SSO) {
		refs = append(refs, f.ref)
	}
	return refs
}

func idpFile(name string) string { return gateIDPDir + "/" + name }

// GateConfig renders the gate's configuration from the policy and checks it with the
// gate's own validation, so a configuration the gate would refuse never reaches a pod.
func GateConfig(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, policy *v1alpha1.AccessPolicy) (*gateconfig.Config, error) {
	spec := policy.Spec
	if spec.SSO == nil {
		return nil, fmt.Errorf("AccessPolicy %s has no spec.sso", policy.Name)
	}
	idle, absolute := 30*time.Minute, 12*time.Hour
	if d := spec.Session.IdleTimeout; d != nil {
		idle = d.Duration
	}
	if d := spec.Session.AbsoluteTimeout; d != nil {
		absolute = d.Duration
	}
	methods := make([]string, 0, len(spec.MFA.Methods))
	for _, m := range spec.MFA.Methods {
		methods = append(methods, string(m))
	}
	if len(methods) == 0 {
		methods = []string{gateconfig.MethodTOTP, gateconfig.MethodWebAuthn}
	}
	c := &gateconfig.Config{
		ListenAddress:         fmt.Sprintf(":%d", gatePort),
		UpstreamURL:           fmt.Sprintf("http://%s:%d", NamesFor(inst).App, servicePort),
		ExternalURL:           "https://" + inst.Spec.Hostname,
		ProtectedPathPrefixes: append([]string(nil), prof.AgentPathPrefixes...),
		Cookie:                gateconfig.Cookie{HashKeyFile: gateCookieDir + "/" + gateHashKeyKey, BlockKeyFile: gateCookieDir + "/" + gateBlockKeyKey},
		Session:               gateconfig.Session{IdleTimeout: metav1.Duration{Duration: idle}, AbsoluteTimeout: metav1.Duration{Duration: absolute}},
		MFA:                   gateconfig.MFAFor(spec.MFA.Required == nil || *spec.MFA.Required, methods),
	}
	files := map[string]string{}
	for _, f := range gateFiles(spec.SSO) {
		files[f.file] = idpFile(f.file)
	}
	switch sso := spec.SSO; {
	case sso.OIDC != nil:
		c.AllowedGroups = append([]string(nil), sso.OIDC.AllowedGroups...)
		c.OIDC = &gateconfig.OIDC{IssuerURL: sso.OIDC.IssuerURL, ClientID: sso.OIDC.ClientID, ClientSecretFile: files["client-secret"],
			Scopes: append([]string(nil), sso.OIDC.Scopes...)}
	case sso.SAML != nil:
		entityID := sso.SAML.EntityID
		if entityID == "" {
			entityID = "https://" + inst.Spec.Hostname + "/saml"
		}
		c.SAML = &gateconfig.SAML{MetadataURL: sso.SAML.MetadataURL, EntityID: entityID, KeyFile: files["saml-key.pem"], CertificateFile: files["saml-cert.pem"]}
	case sso.LDAP != nil:
		c.LDAP = &gateconfig.LDAP{URL: sso.LDAP.URL, StartTLS: sso.LDAP.StartTLS, CAFile: files["ldap-ca.pem"], BindDN: sso.LDAP.BindDN,
			BindPasswordFile: files["bind-password"], UserSearchBase: sso.LDAP.UserSearchBase, UserFilter: sso.LDAP.UserFilter}
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// GateInputs are what the gate's objects need besides the spec: the keys from Vault and
// the resourceVersions of the policy's Secrets the gate mounts (a new version rolls it,
// since the gate reads its files at start).
type GateInputs struct {
	Secrets        map[string][]byte
	SecretVersions map[string]string
}

// GateSecret holds the rendered configuration (no secret values in it, only file paths)
// and the cookie keys from Vault; never a ConfigMap.
func GateSecret(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, cfg *gateconfig.Config, in GateInputs) (*corev1.Secret, error) {
	rendered, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering the gate configuration: %w", err)
	}
	data := map[string][]byte{gateConfigKey: append(rendered, '\n')}
	for key, vaultKey := range map[string]string{gateHashKeyKey: GateHashKeySecret, gateBlockKeyKey: GateBlockKeySecret} {
		raw, err := base64.RawURLEncoding.DecodeString(string(in.Secrets[vaultKey]))
		if err != nil || len(in.Secrets[vaultKey]) == 0 {
			// The value stays out of the message.
			return nil, fmt.Errorf("the gate key %s in Vault is missing or not URL-safe base64; delete it from the instance's KV secret to have a new one generated", vaultKey)
		}
		data[key] = []byte(base64.StdEncoding.EncodeToString(raw) + "\n")
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(inst, AccessNamesFor(inst).Gate, Labels(inst, prof, opts, ComponentGate)),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}, nil
}

// GateConfigHash changes when anything the gate reads at start changes.
func GateConfigHash(secret *corev1.Secret, in GateInputs) string {
	h := sha256.New()
	keys := make([]string, 0, len(secret.Data))
	for k := range secret.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		writeField(h, k)
		writeField(h, string(secret.Data[k]))
	}
	names := make([]string, 0, len(in.SecretVersions))
	for n := range in.SecretVersions {
		names = append(names, n)
	}
	sort.Strings(names)
	writeField(h, "referenced")
	for _, n := range names {
		writeField(h, n)
		writeField(h, in.SecretVersions[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// GateServiceAccount runs the gate; it never talks to the Kubernetes API.
func GateServiceAccount(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   objectMeta(inst, AccessNamesFor(inst).Gate, Labels(inst, prof, opts, ComponentGate)),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// GateService is what every route of a gated instance leads to.
func GateService(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(inst, AccessNamesFor(inst).Gate, Labels(inst, prof, opts, ComponentGate)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(inst, RoleGate),
			Ports: []corev1.ServicePort{{
				Name: portName, Protocol: corev1.ProtocolTCP, Port: servicePort, TargetPort: intstr.FromString(portName),
			}},
		},
	}
}

// GateDeployment runs `helpdesk-operator gate` with the restricted security context, its
// configuration and cookie keys from GateSecret, and the policy's Secret keys mounted as
// files. configHash (GateConfigHash) rolls it when any of them changes.
func GateDeployment(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, policy *v1alpha1.AccessPolicy, configHash string) *appsv1.Deployment {
	a := AccessNamesFor(inst)
	image := opts.Gate.Image
	if image == "" {
		image = opts.OperatorImage
	}
	secretMode := ptr.To[int32](0o440)
	vols := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: a.Gate, DefaultMode: secretMode, Items: []corev1.KeyToPath{{Key: gateConfigKey, Path: gateConfigKey}},
		}}},
		{Name: "cookie-keys", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: a.Gate, DefaultMode: secretMode,
			Items: []corev1.KeyToPath{{Key: gateHashKeyKey, Path: gateHashKeyKey}, {Key: gateBlockKeyKey, Path: gateBlockKeyKey}},
		}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: "/etc/helpdesk-gate", ReadOnly: true},
		{Name: "cookie-keys", MountPath: gateCookieDir, ReadOnly: true},
	}
	if files := gateFiles(policy.Spec.SSO); len(files) > 0 {
		var sources []corev1.VolumeProjection
		for _, f := range files {
			sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: f.ref.Name},
				Items:                []corev1.KeyToPath{{Key: f.ref.Key, Path: f.file}},
			}})
		}
		vols = append(vols, corev1.Volume{Name: "idp", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: sources, DefaultMode: secretMode,
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "idp", MountPath: gateIDPDir, ReadOnly: true})
	}
	probe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString(portName), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds:    period,
			TimeoutSeconds:   3,
			SuccessThreshold: 1,
			FailureThreshold: failures,
		}
	}
	gate := corev1.Container{
		Name:            "gate",
		Image:           image,
		Command:         []string{"/helpdesk-operator", "gate", "--config=" + gateConfigFile},
		Ports:           []corev1.ContainerPort{{Name: portName, ContainerPort: gatePort, Protocol: corev1.ProtocolTCP}},
		VolumeMounts:    mounts,
		ReadinessProbe:  probe(5, 3),
		LivenessProbe:   probe(20, 3),
		SecurityContext: containerSecurityContext(),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
		},
	}
	replicas := min(appReplicas(inst), 2)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(inst, a.Gate, Labels(inst, prof, opts, ComponentGate)),
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(replicas),
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(inst, RoleGate)},
			RevisionHistoryLimit: ptr.To[int32](3),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromInt32(1)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      PodLabels(inst, prof, opts, ComponentGate, RoleGate),
					Annotations: map[string]string{AnnotationConfigHash: configHash},
				},
				Spec: corev1.PodSpec{
					ServiceAccountName:           a.Gate,
					ImagePullSecrets:             imagePullSecrets(opts),
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              operatorPodSecurityContext(),
					Containers:                   []corev1.Container{gate},
					Volumes:                      vols,
				},
			},
		},
	}
}

// gatePolicy lets the edge reach the gate, and the gate reach the app and its identity
// provider (DNS comes from the instance's DNS policy); everything else stays denied.
func gatePolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, plan AccessPlan) *networkingv1.NetworkPolicy {
	p := networkPolicy(inst, prof, opts, AccessNamesFor(inst).Gate, SelectorLabels(inst, RoleGate),
		networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)
	if opts.IngressController.set() {
		p.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{namespacePeer(opts.IngressController)},
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, gatePort)},
		}}
	}
	p.Spec.Egress = append([]networkingv1.NetworkPolicyEgressRule{{
		To:    []networkingv1.NetworkPolicyPeer{podPeer(SelectorLabels(inst, RoleApp))},
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, prof.Port)},
	}}, plan.GateEgress...)
	return p
}
