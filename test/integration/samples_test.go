package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// TestSamplesAreAccepted applies every object in config/samples to the real API server.
func TestSamplesAreAccepted(t *testing.T) {
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	namespace := createNamespace(t, "samples")
	kinds := map[string]bool{}
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		for _, obj := range readObjects(t, file) {
			kinds[obj.GetKind()] = true
			obj.SetNamespace(namespace)
			t.Run(filepath.Base(file)+"/"+obj.GetName(), func(t *testing.T) {
				if err := k8sClient.Create(context.Background(), obj); err != nil {
					t.Errorf("the API server refused sample %s %s from %s: %v", obj.GetKind(), obj.GetName(), file, err)
				}
			})
		}
	}
	for _, kind := range []string{"HelpdeskInstance", "AccessPolicy", "RetentionPolicy", "BackupPolicy"} {
		if !kinds[kind] {
			t.Errorf("config/samples has no %s", kind)
		}
	}
}

func readObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objects []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objects
			}
			t.Fatalf("%s: %v", file, err)
		}
		if len(obj.Object) > 0 {
			objects = append(objects, obj)
		}
	}
}
