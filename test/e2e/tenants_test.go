//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// A tenant is one instance made from config/samples/helpdeskinstance.yaml in its own
// namespace, backed up by the policy of config/samples/backuppolicy_s3.yaml to its own
// bucket on the host's S3 gateway.
type tenant struct {
	inst   *v1alpha1.HelpdeskInstance
	policy *v1alpha1.BackupPolicy
	bucket string
}

// folder is the instance's folder in its policy's bucket, <prefix><namespace>/<name>/.
func (tn tenant) folder() string {
	return backupFolder(tn.policy, tn.inst.Namespace, tn.inst.Name)
}

func backupFolder(policy *v1alpha1.BackupPolicy, namespace, name string) string {
	return policy.Spec.Destination.S3.Prefix + namespace + "/" + name + "/"
}

// keyName is the instance's transit key in Vault.
func (tn tenant) keyName() string { return vault.KeyName(vaultPrefix, tn.inst.Namespace, tn.inst.Name) }

// The two tenants, A (namespace <base>-prod, instance desk) and B (namespace <base>,
// instance prod-desk): the old <prefix>-<namespace>-<name> scheme gave both the Vault key
// helpdesk-<base>-prod-desk.
type tenantPair struct{ a, b tenant }

var (
	tenantsOnce sync.Once
	tenantsVal  *tenantPair
	tenantsErr  error
)

// startTenants creates both tenants once, without waiting for them.
func startTenants() (*tenantPair, error) {
	tenantsOnce.Do(func() { tenantsVal, tenantsErr = createTenants(context.Background()) })
	return tenantsVal, tenantsErr
}

// tenants returns the two tenants, created but maybe not ready.
func tenants(t *testing.T) tenantPair {
	t.Helper()
	p, err := startTenants()
	if err != nil {
		t.Fatalf("creating the two tenants: %v", err)
	}
	return tenantPair{a: p.a.copy(), b: p.b.copy()}
}

// readyTenants returns the two tenants once their databases and apps are ready.
func readyTenants(t *testing.T) tenantPair {
	t.Helper()
	p := tenants(t)
	for _, tn := range []tenant{p.a, p.b} {
		waitDatabase(t, tn.inst)
		waitCondition(t, tn.inst, v1alpha1.ConditionDatabaseReady, databaseTimeout)
		waitCondition(t, tn.inst, v1alpha1.ConditionAppReady, appTimeout)
	}
	return p
}

func (tn tenant) copy() tenant {
	return tenant{inst: tn.inst.DeepCopy(), policy: tn.policy.DeepCopy(), bucket: tn.bucket}
}

// startSharedInstances starts every instance that several tests share, so that their
// databases come up together.
func startSharedInstances() {
	_, _ = startMinimal()
	_, _ = startTenants()
}

func createTenants(ctx context.Context) (*tenantPair, error) {
	base := "e2e-acme-" + proc.RandomHex(2)
	a, err := createTenant(ctx, base+"-prod", "desk")
	if err != nil {
		return nil, err
	}
	b, err := createTenant(ctx, base, "prod-desk")
	if err != nil {
		return nil, err
	}
	return &tenantPair{a: a, b: b}, nil
}

// createTenant creates the namespace, the bucket, the S3 credentials Secret the sample
// policy names, the policy and the instance.
func createTenant(ctx context.Context, namespace, name string) (tenant, error) {
	if err := createSharedNamespace(ctx, namespace); err != nil {
		return tenant{}, err
	}
	tn := tenant{bucket: "helpdesk-" + namespace}
	s3c, err := s3Client()
	if err != nil {
		return tenant{}, err
	}
	if err := s3c.MakeBucket(ctx, tn.bucket, minio.MakeBucketOptions{}); err != nil {
		return tenant{}, fmt.Errorf("creating bucket %s: %w", tn.bucket, err)
	}
	if tn.policy, err = samplePolicy(namespace, tn.bucket); err != nil {
		return tenant{}, err
	}
	creds := tn.policy.Spec.Destination.S3.Credentials
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: creds.SecretName, Namespace: namespace},
		StringData: map[string]string{creds.AccessKeyIDKey: s3.AccessKey, creds.SecretAccessKeyKey: s3.SecretKey},
	}
	if tn.inst, err = sampleInstance(namespace, name); err != nil {
		return tenant{}, err
	}
	for _, obj := range []client.Object{secret, tn.policy, tn.inst} {
		if err := cluster.Client.Create(ctx, obj); err != nil {
			return tenant{}, fmt.Errorf("creating %T %s/%s: %w", obj, namespace, obj.GetName(), err)
		}
	}
	return tn, nil
}

// readSample reads a file of config/samples strictly into obj.
func readSample(file string, obj any) error {
	data, err := os.ReadFile(filepath.Join(cluster.Root, "config", "samples", file))
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(data, obj)
}

// samplePolicy is config/samples/backuppolicy_s3.yaml pointed at the host's S3 gateway.
func samplePolicy(namespace, bucket string) (*v1alpha1.BackupPolicy, error) {
	p := &v1alpha1.BackupPolicy{}
	if err := readSample("backuppolicy_s3.yaml", p); err != nil {
		return nil, err
	}
	p.Namespace = namespace
	dst := p.Spec.Destination.S3
	dst.Endpoint = "http://" + s3.Endpoint
	dst.AllowInsecureEndpoint = true
	dst.Bucket = bucket
	dst.EgressCIDRs = []string{cluster.ServicesIP + "/32"}
	// The gateway signs for its one region.
	dst.Region = "us-east-1"
	// The tests start every run themselves: a scheduled one in the middle of a test would
	// change the listings it compares. Once a year, on January 1st.
	p.Spec.Schedule = "0 3 1 1 *"
	p.Spec.RestoreDrill.Schedule = "0 4 1 1 *"
	// Every backup prunes all but the newest (and the newest drilled one), so that the
	// shared-destination test sees retention delete.
	p.Spec.Retention = v1alpha1.BackupRetention{KeepLast: 1, MaxAge: p.Spec.Retention.MaxAge}
	return p, nil
}

// sampleInstance is config/samples/helpdeskinstance.yaml as this one-node, two-core
// cluster runs it, with what it lacks left out.
func sampleInstance(namespace, name string) (*v1alpha1.HelpdeskInstance, error) {
	inst := &v1alpha1.HelpdeskInstance{}
	if err := readSample("helpdeskinstance.yaml", inst); err != nil {
		return nil, err
	}
	inst.Namespace, inst.Name = namespace, name
	// A hostname belongs to the first instance asking for it.
	inst.Spec.Hostname = name + "." + namespace + ".e2e.example"
	// The operator's default image: the stand-in (no Helpy image can be built here).
	inst.Spec.App.Image = ""
	// One of each, with small requests: four instances share two cores.
	inst.Spec.App.Replicas = ptr.To[int32](1)
	inst.Spec.App.Resources = smallResources("20m", "64Mi", "256Mi")
	inst.Spec.Database.Instances = 1
	inst.Spec.Database.Resources = smallResources("50m", "256Mi", "1Gi")
	inst.Spec.Database.Storage.Size = ptr.To(resource.MustParse("1Gi"))
	inst.Spec.Attachments.Size = ptr.To(resource.MustParse("1Gi"))
	// The local PostgreSQL image is version 15.
	inst.Spec.Database.PostgresVersion = 15
	// No cert-manager in this cluster.
	inst.Spec.TLS = nil
	// Neither the access gate (no identity provider or edge runs in this cluster) nor
	// retention (its engine is tested on PostgreSQL in internal/retention, its CronJobs on
	// envtest) is this suite's subject.
	inst.Spec.AccessPolicyRef, inst.Spec.RetentionPolicyRef = nil, nil
	return inst, nil
}

func smallResources(cpu, memory, limit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)},
	}
}

// TestTwoTenantsFromTheSamples: two tenants made from the samples, whose names the old
// dashed Vault scheme joined, each get a healthy CloudNativePG cluster of real PostgreSQL
// pods, the operator reports DatabaseReady and AppReady by itself, and each has its own
// transit key: distinct names and distinct key material.
func TestTwoTenantsFromTheSamples(t *testing.T) {
	p := tenants(t)
	oldName := func(tn tenant) string { return vaultPrefix + "-" + tn.inst.Namespace + "-" + tn.inst.Name }
	if oldName(p.a) != oldName(p.b) {
		t.Fatalf("the tenants must be ones the old scheme collided: %s vs %s", oldName(p.a), oldName(p.b))
	}
	p = readyTenants(t)
	ctx := context.Background()
	for _, tn := range []tenant{p.a, p.b} {
		db := waitDatabase(t, tn.inst)
		pod := primaryPod(t, db)
		if pod.Spec.Containers[0].Image != cluster.Images.Postgres {
			t.Errorf("%s runs %q, want the PostgreSQL 15 image %q", pod.Name, pod.Spec.Containers[0].Image, cluster.Images.Postgres)
		}
		got := &v1alpha1.HelpdeskInstance{}
		if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(tn.inst), got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Encryption == nil || got.Status.Encryption.KeyName != tn.keyName() {
			t.Errorf("instance %s/%s reports key %+v, want %s", tn.inst.Namespace, tn.inst.Name, got.Status.Encryption, tn.keyName())
		}
		key, err := vaultAdmin.Logical().ReadWithContext(ctx, "transit/keys/"+tn.keyName())
		if err != nil || key == nil {
			t.Fatalf("transit key %s: %v (missing: %t)", tn.keyName(), err, key == nil)
		}
		if key.Data["exportable"] != false || key.Data["type"] != "aes256-gcm96" {
			t.Errorf("transit key %s: exportable %v, type %v; want a non-exportable aes256-gcm96 key", tn.keyName(), key.Data["exportable"], key.Data["type"])
		}
		t.Logf("%s/%s: database %s (pod %s), key %s", tn.inst.Namespace, tn.inst.Name, db.Name, pod.Name, tn.keyName())
	}
	if p.a.keyName() == p.b.keyName() {
		t.Fatalf("both tenants use key %s", p.a.keyName())
	}
	// Distinct material, not just distinct names: what A's key encrypts, B's cannot decrypt.
	sealed, err := vaultAdmin.Logical().WriteWithContext(ctx, "transit/encrypt/"+p.a.keyName(), map[string]any{"plaintext": "ZTJlLXRlbmFudC1h"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = vaultAdmin.Logical().WriteWithContext(ctx, "transit/decrypt/"+p.b.keyName(), map[string]any{"ciphertext": sealed.Data["ciphertext"]})
	if err == nil {
		t.Fatalf("key %s decrypted what key %s encrypted: the tenants share key material", p.b.keyName(), p.a.keyName())
	}
	t.Logf("B's key refuses A's ciphertext: %s", strings.Join(strings.Fields(err.Error()), " "))
}
