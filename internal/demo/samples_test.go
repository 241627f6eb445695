package demo

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func samples(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := readSamples(filepath.Join("..", "..", "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("config/samples has no %s %s", kind, name)
	return nil
}

// TestAdaptSamplesChangesOnlyWhatPointsElsewhere: the S3 policy is pointed at the local
// gateway and the database at the local PostgreSQL's major version; every other object
// and field is applied as the samples have it.
func TestAdaptSamplesChangesOnlyWhatPointsElsewhere(t *testing.T) {
	objs := samples(t)
	if len(objs) < 6 {
		t.Fatalf("read %d sample objects, want every file of kustomization.yaml", len(objs))
	}
	before := make([]*unstructured.Unstructured, len(objs))
	for i, obj := range objs {
		before[i] = obj.DeepCopy()
	}
	local := localTargets{S3Endpoint: "http://127.0.0.2:9000", S3Address: "127.0.0.2", S3Region: "us-east-1", PostgresMajor: 15}
	var notes []string
	for _, obj := range objs {
		notes = append(notes, adaptSample(obj, local)...)
	}
	changed := map[string]bool{}
	for i, obj := range objs {
		if !reflect.DeepEqual(obj.Object, before[i].Object) {
			changed[obj.GetKind()+"/"+obj.GetName()] = true
		}
	}
	if want := map[string]bool{"BackupPolicy/acme-backup": true, "HelpdeskInstance/acme-support": true}; !reflect.DeepEqual(changed, want) {
		t.Errorf("changed %v, want only %v", changed, want)
	}
	backup := find(t, objs, "BackupPolicy", "acme-backup")
	s3, _, _ := unstructured.NestedMap(backup.Object, "spec", "destination", "s3")
	if s3["endpoint"] != local.S3Endpoint || s3["allowInsecureEndpoint"] != true || s3["region"] != "us-east-1" ||
		!reflect.DeepEqual(s3["egressCIDRs"], []any{"127.0.0.2/32"}) {
		t.Errorf("S3 destination %v", s3)
	}
	if s3["bucket"] != "acme-helpdesk-backups" || s3["prefix"] != "helpdesk/" {
		t.Errorf("bucket or prefix changed: %v", s3)
	}
	inst := find(t, objs, "HelpdeskInstance", "acme-support")
	if v, _, _ := unstructured.NestedFieldNoCopy(inst.Object, "spec", "database", "postgresVersion"); v != int64(15) {
		t.Errorf("postgresVersion %v (%T), want 15", v, v)
	}
	if len(notes) != 5 || !strings.Contains(strings.Join(notes, "\n"), "spec.database.postgresVersion 16 → 15") {
		t.Errorf("notes:\n%s", strings.Join(notes, "\n"))
	}
}

func TestReferencedSecretsAndDataPath(t *testing.T) {
	objs := samples(t)
	var refs []string
	for _, obj := range objs {
		for _, r := range referencedSecrets(obj) {
			refs = append(refs, r.name+":"+strings.Join(r.keys, ","))
		}
	}
	slices.Sort(refs)
	if want := []string{"acme-support-captcha:secret-key", "acme-support-oidc:client-secret"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("referenced secrets %v, want %v", refs, want)
	}
	d, err := chooseDataPath(objs)
	if err != nil {
		t.Fatal(err)
	}
	if d.instance != "acme-support" || d.backupPolicy != "acme-backup" || d.retentionPolicy != "acme-retention" ||
		d.backupSA != "acme-support-backup" || d.restoreSA != "acme-support-restore" {
		t.Errorf("data path %+v", d)
	}
	rules, err := retentionRules(find(t, objs, "RetentionPolicy", "acme-retention"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 5 || rules[0] != "--rule=ClosedTickets:Anonymize:17520h" {
		t.Errorf("retention rules %v", rules)
	}
}
