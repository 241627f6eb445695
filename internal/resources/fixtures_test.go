package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// testOptions are complete operator options, as the controller would fill them.
func testOptions() Options {
	o := DefaultOptions()
	o.Images = map[v1alpha1.AppProfile]string{v1alpha1.AppProfileHelpy: "registry.example.com/helpy:26aff0e"}
	o.Vault.Peer = PeerSelector{
		NamespaceSelector: namespaceNamed("vault"),
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "vault"}},
	}
	o.APIServer = CIDREndpoint{CIDRs: []string{"172.18.0.2/32"}, Port: 6443}
	o.CertManager = true
	o.IngressBodySize = "25m"
	o.OperatorImage = "ghcr.io/privatedesk/helpdesk-operator:v0.3.0"
	return o
}

func helpyProfile(t testing.TB) appprofile.Profile {
	t.Helper()
	p, err := appprofile.For(v1alpha1.AppProfileHelpy)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// minimalInstance is what a user writes with only the required field, as the API
// server defaults it.
func minimalInstance() *v1alpha1.HelpdeskInstance {
	return &v1alpha1.HelpdeskInstance{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "HelpdeskInstance"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "support", Namespace: "tenant-a", UID: types.UID("0b3f8a6e-1111-4c1e-9d5e-000000000001"),
		},
		Spec: v1alpha1.HelpdeskInstanceSpec{
			Hostname: "support.tenant-a.example.com",
			App:      v1alpha1.AppSpec{Profile: v1alpha1.AppProfileHelpy, Replicas: ptr.To[int32](1)},
			Database: v1alpha1.DatabaseSpec{
				Instances: 1, PostgresVersion: 16,
				Storage: v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("10Gi"))},
			},
			Attachments:    v1alpha1.AttachmentsSpec{Size: ptr.To(resource.MustParse("5Gi"))},
			Encryption:     v1alpha1.EncryptionSpec{SecretDelivery: v1alpha1.SecretDeliverySecret},
			DeletionPolicy: v1alpha1.DeletionPolicyRetain,
		},
	}
}

// haInstance uses every knob: three database instances, three replicas, TLS with an
// issuer, SMTP and extra egress.
func haInstance() *v1alpha1.HelpdeskInstance {
	inst := minimalInstance()
	inst.Name = "helpdesk"
	inst.Namespace = "tenant-b"
	inst.UID = "0b3f8a6e-2222-4c1e-9d5e-000000000002"
	inst.Spec.Hostname = "help.tenant-b.example.com"
	inst.Spec.App.Image = "registry.example.com/helpy:2.8.0"
	inst.Spec.App.ImagePullPolicy = corev1.PullIfNotPresent
	inst.Spec.App.Replicas = ptr.To[int32](3)
	inst.Spec.App.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
	}
	inst.Spec.Ingress.ClassName = ptr.To("nginx")
	inst.Spec.TLS = &v1alpha1.TLSSpec{
		SecretName: "help-tls",
		Issuer:     &v1alpha1.CertManagerIssuerReference{Name: "letsencrypt", Kind: "ClusterIssuer"},
	}
	inst.Spec.Database = v1alpha1.DatabaseSpec{
		Instances: 3, PostgresVersion: 17,
		Storage: v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("50Gi")), StorageClassName: ptr.To("fast-ssd")},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")},
		},
	}
	inst.Spec.Attachments = v1alpha1.AttachmentsSpec{Size: ptr.To(resource.MustParse("20Gi")), StorageClassName: ptr.To("shared-nfs")}
	inst.Spec.Network = v1alpha1.NetworkSpec{
		SMTP: &v1alpha1.SMTPEgress{CIDR: "192.0.2.25/32", Port: 587},
		AdditionalEgress: []v1alpha1.EgressRule{
			{CIDR: "198.51.100.0/24", Ports: []int32{443}},
			{CIDR: "203.0.113.7/32", Ports: []int32{443, 8443}},
		},
	}
	return inst
}

// vaultAgentInstance gets its secrets from the Vault Agent injector.
func vaultAgentInstance() *v1alpha1.HelpdeskInstance {
	inst := minimalInstance()
	inst.Name = "desk"
	inst.Namespace = "tenant-c"
	inst.UID = "0b3f8a6e-3333-4c1e-9d5e-000000000003"
	inst.Spec.Hostname = "desk.tenant-c.example.com"
	inst.Spec.TLS = &v1alpha1.TLSSpec{SecretName: "desk-tls", Issuer: &v1alpha1.CertManagerIssuerReference{Name: "tenant-ca", Kind: "Issuer"}}
	inst.Spec.Encryption.SecretDelivery = v1alpha1.SecretDeliveryVaultAgent
	return inst
}

// testSecrets stand in for the values the controller reads from Vault.
func testSecrets() map[string][]byte {
	return map[string][]byte{
		"SECRET_KEY_BASE": []byte("test-secret-key-base-value"),
		"ADMIN_PASSWORD":  []byte("test-admin-password-value"),
	}
}

// buildAll returns every child of inst in a fixed order, without the nil ones.
func buildAll(t testing.TB, inst *v1alpha1.HelpdeskInstance, opts Options) []runtime.Object {
	t.Helper()
	prof := helpyProfile(t)
	hash := ConfigHash(prof, ConfigInputs{AppSecrets: testSecrets()})
	var objs []runtime.Object
	for _, sa := range ServiceAccounts(inst, prof, opts, "") {
		objs = append(objs, sa)
	}
	objs = append(objs, Cluster(inst, prof, opts))
	if s := AppSecret(inst, prof, opts, testSecrets()); s != nil {
		objs = append(objs, s)
	}
	objs = append(objs,
		AttachmentsPVC(inst, prof, opts),
		MigrationJob(inst, prof, opts),
		Deployment(inst, prof, opts, hash),
		Service(inst, prof, opts),
	)
	for _, obj := range Exposure(inst, prof, opts, PlanAccess(inst, nil, prof, opts)) {
		objs = append(objs, obj)
	}
	if pdb := PodDisruptionBudget(inst, prof, opts); pdb != nil {
		objs = append(objs, pdb)
	}
	for _, p := range NetworkPolicies(inst, prof, opts, AccessPlan{}) {
		objs = append(objs, p)
	}
	return objs
}
