package integration

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/internal/testsupport/binaries"
)

// TestKubectlExplainDocumentsEveryField asks the real API server, through kubectl explain,
// for every field of every spec, and checks each one comes with a description.
func TestKubectlExplainDocumentsEveryField(t *testing.T) {
	for _, crd := range ourCRDs(t) {
		schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		resource := crd.Spec.Names.Singular
		t.Run(resource, func(t *testing.T) {
			for _, path := range undocumentedFields(schema.Properties["spec"], "spec") {
				t.Errorf("%s.%s has no description: document it on the Go field", resource, path)
			}
			// The API server publishes a new CRD's OpenAPI a moment after installing it.
			out := eventuallyKubectl(t, 30*time.Second, "explain", resource+".spec", "--recursive")
			for name := range schema.Properties["spec"].Properties {
				if !strings.Contains(out, name) {
					t.Errorf("kubectl explain %s.spec does not list %s:\n%s", resource, name, out)
				}
			}
			for name, field := range schema.Properties["spec"].Properties {
				explained := kubectl(t, "explain", resource+".spec."+name)
				firstLine := strings.SplitN(strings.TrimSpace(field.Description), "\n", 2)[0]
				if !strings.Contains(strings.Join(strings.Fields(explained), " "), strings.Join(strings.Fields(firstLine), " ")) {
					t.Errorf("kubectl explain %s.spec.%s does not show its description %q:\n%s", resource, name, firstLine, explained)
				}
			}
		})
	}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runKubectl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eventuallyKubectl(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := runKubectl(args...)
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func runKubectl(args ...string) (string, error) {
	user, err := testEnv.AddUser(envtest.User{Name: "reader", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	kubectl, err := user.Kubectl()
	if err != nil {
		return "", err
	}
	stdout, stderr, err := kubectl.Run(args...)
	out, _ := io.ReadAll(stdout)
	if err != nil {
		errOut, _ := io.ReadAll(stderr)
		return "", fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, errOut)
	}
	return string(out), nil
}

// undocumentedFields lists the paths below schema that lack a description. Fields of
// Kubernetes' own types (resources, durations) come documented from upstream.
func undocumentedFields(schema apiextensionsv1.JSONSchemaProps, path string) []string {
	var missing []string
	for name, prop := range schema.Properties {
		fieldPath := path + "." + name
		if strings.TrimSpace(prop.Description) == "" {
			missing = append(missing, fieldPath)
		}
		missing = append(missing, undocumentedFields(prop, fieldPath)...)
		if prop.Items != nil && prop.Items.Schema != nil {
			missing = append(missing, undocumentedFields(*prop.Items.Schema, fieldPath+"[]")...)
		}
	}
	return missing
}

func ourCRDs(t *testing.T) []apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	root, err := binaries.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) != 5 {
		t.Fatalf("want the 5 CRDs in config/crd/bases, found %v (%v)", files, err)
	}
	var crds []apiextensionsv1.CustomResourceDefinition
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		crds = append(crds, crd)
	}
	return crds
}
