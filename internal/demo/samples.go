package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
)

// fieldManager is who the demo applies the samples as.
const fieldManager = "helpdesk-demo"

// localTargets are the local servers a sample must point at instead of its examples.
type localTargets struct {
	// S3Endpoint is versitygw's URL, S3Address its IP address, S3Region the region it signs with.
	S3Endpoint, S3Address, S3Region string
	// PostgresMajor is the local PostgreSQL's major version, which the drill restores into.
	PostgresMajor int64
}

// readSamples reads the objects of config/samples in the order kustomization.yaml lists
// its files.
func readSamples(dir string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("reading %s/kustomization.yaml: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, file := range k.Resources {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := decoder.Decode(&obj.Object); err != nil {
				f.Close()
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("reading %s: %w", file, err)
			}
			if len(obj.Object) > 0 {
				objs = append(objs, obj)
			}
		}
	}
	return objs, nil
}

// adaptSample changes what must point at this machine instead of the sample's example
// servers, and says what it changed. Everything else stays as the sample has it.
func adaptSample(obj *unstructured.Unstructured, local localTargets) []string {
	var notes []string
	set := func(value any, path ...string) {
		old, found, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
		_ = unstructured.SetNestedField(obj.Object, value, path...)
		was := "unset"
		if found {
			was = fmt.Sprint(old)
		}
		notes = append(notes, fmt.Sprintf("%s/%s: %s %s → %v", obj.GetKind(), obj.GetName(), strings.Join(path, "."), was, value))
	}
	switch obj.GetKind() {
	case "HelpdeskInstance":
		// Decoded YAML holds numbers as float64.
		if v, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "database", "postgresVersion"); found && fmt.Sprint(v) != fmt.Sprint(local.PostgresMajor) {
			set(local.PostgresMajor, "spec", "database", "postgresVersion")
		}
	case "BackupPolicy":
		if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "destination", "s3"); found {
			set(local.S3Endpoint, "spec", "destination", "s3", "endpoint")
			set(true, "spec", "destination", "s3", "allowInsecureEndpoint")
			set(local.S3Region, "spec", "destination", "s3", "region")
			set([]any{local.S3Address + "/32"}, "spec", "destination", "s3", "egressCIDRs")
		}
	}
	return notes
}

// secretRef is a key of a Secret a sample references.
type secretRef struct {
	name string
	keys []string
}

// referencedSecrets lists the Secrets obj names: every {name, key} under a field ending
// in SecretRef or secretKeyRef, and a BackupPolicy's S3 credentials.
func referencedSecrets(obj *unstructured.Unstructured) []secretRef {
	var refs []secretRef
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			name, _ := v["name"].(string)
			k, _ := v["key"].(string)
			if (strings.HasSuffix(key, "SecretRef") || key == "secretKeyRef") && name != "" && k != "" {
				refs = append(refs, secretRef{name: name, keys: []string{k}})
			}
			for child, value := range v {
				walk(child, value)
			}
		case []any:
			for _, item := range v {
				walk(key, item)
			}
		}
	}
	walk("", obj.Object["spec"])
	return refs
}

// applySamples creates the tenant namespace, the Secrets and claim the samples reference,
// and applies config/samples/ there (adapted to this machine where it must be).
func (s *session) applySamples(ctx context.Context) error {
	dir := filepath.Join(s.o.Root, "config", "samples")
	objs, err := readSamples(dir)
	if err != nil {
		return err
	}
	local := localTargets{S3Endpoint: "http://" + s.s3.Endpoint, S3Address: s3Address, S3Region: "us-east-1", PostgresMajor: postgresMajor()}
	if s.data, err = chooseDataPath(objs); err != nil {
		return err
	}
	ns := s.o.Namespace
	if err := s.kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	s.p.section("config/samples/ applied into namespace %s (server-side apply, field manager %s)", ns, fieldManager)
	var notes, created []string
	for _, obj := range objs {
		notes = append(notes, adaptSample(obj, local)...)
		for _, ref := range referencedSecrets(obj) {
			if err := s.createSecret(ctx, ref.name, demoValues(ref.keys)); err != nil {
				return err
			}
			created = append(created, fmt.Sprintf("Secret/%s (%s: a random demo value)", ref.name, strings.Join(ref.keys, ", ")))
		}
		if obj.GetKind() == "BackupPolicy" {
			extra, err := s.backupPrerequisites(ctx, obj)
			if err != nil {
				return err
			}
			created = append(created, extra...)
		}
	}
	for _, obj := range objs {
		obj.SetNamespace(ns)
		if err := s.kube.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		s.p.line("%s/%s", obj.GetKind(), obj.GetName())
	}
	s.p.line("changed for this machine (the rest is as the samples have it):")
	for _, n := range notes {
		s.p.line("  %s", n)
	}
	s.p.line("created first, as the samples ask:")
	for _, c := range created {
		s.p.line("  %s", c)
	}
	return nil
}

// backupPrerequisites creates what a BackupPolicy's destination needs: the S3
// credentials Secret (versitygw's keys) and the bucket, or the claim.
func (s *session) backupPrerequisites(ctx context.Context, obj *unstructured.Unstructured) ([]string, error) {
	if claim, found, _ := unstructured.NestedString(obj.Object, "spec", "destination", "persistentVolumeClaim", "claimName"); found {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.o.Namespace, Name: claim},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		if err := s.kube.Create(ctx, pvc); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		return []string{fmt.Sprintf("PersistentVolumeClaim/%s (stays Pending: nothing provisions volumes here)", claim)}, nil
	}
	creds, found, _ := unstructured.NestedStringMap(obj.Object, "spec", "destination", "s3", "credentials")
	if !found {
		return nil, nil
	}
	if err := s.createSecret(ctx, creds["secretName"], map[string]string{
		creds["accessKeyIDKey"]:     s.s3.AccessKey,
		creds["secretAccessKeyKey"]: s.s3.SecretKey,
	}); err != nil {
		return nil, err
	}
	bucket, _, _ := unstructured.NestedString(obj.Object, "spec", "destination", "s3", "bucket")
	if err := s.makeBucket(ctx, bucket); err != nil {
		return nil, err
	}
	return []string{
		fmt.Sprintf("Secret/%s (%s, %s: versitygw's keys)", creds["secretName"], creds["accessKeyIDKey"], creds["secretAccessKeyKey"]),
		fmt.Sprintf("bucket %s in versitygw", bucket),
	}, nil
}

func (s *session) createSecret(ctx context.Context, name string, data map[string]string) error {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.o.Namespace, Name: name}, StringData: data}
	if err := s.kube.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Secret %s: %w", name, err)
	}
	return nil
}

func demoValues(keys []string) map[string]string {
	values := map[string]string{}
	for _, k := range keys {
		values[k] = "demo-" + proc.RandomHex(12)
	}
	return values
}

// objectMeta is the name and namespace of obj, for the operator's naming functions.
func objectMeta(obj interface {
	GetName() string
	GetNamespace() string
}) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: obj.GetName()}
}
