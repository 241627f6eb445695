package resources

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the builders' output")

// TestGolden compares every child of three representative instances with a reviewed
// YAML file. Run `go test ./internal/resources -update` after an intended change and
// review the diff.
func TestGolden(t *testing.T) {
	cases := map[string]func() Options{
		"minimal": testOptions,
		"ha": func() Options {
			o := testOptions()
			o.AttachmentsAccessMode = "ReadWriteMany"
			o.ImagePullSecrets = []string{"registry-credentials"}
			return o
		},
		"vaultagent": testOptions,
	}
	instances := map[string]func() *v1alpha1.HelpdeskInstance{
		"minimal":    minimalInstance,
		"ha":         haInstance,
		"vaultagent": vaultAgentInstance,
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			compareGolden(t, name+".yaml", buildAll(t, instances[name](), opts()))
		})
	}
}

// compareGolden compares objs, as a YAML stream, with testdata/file, or rewrites the file
// under -update.
func compareGolden(t *testing.T, file string, objs []runtime.Object) {
	t.Helper()
	var buf bytes.Buffer
	for i, obj := range objs {
		out, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(out)
	}
	compareGoldenBytes(t, file, buf.Bytes())
}

// compareGoldenBytes compares content with testdata/file, or rewrites the file under -update.
func compareGoldenBytes(t *testing.T, file string, content []byte) {
	t.Helper()
	var buf bytes.Buffer
	buf.Write(content)
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("%s differs from the builders' output; run with -update and review the diff\n%s", path, lineDiff(string(want), buf.String()))
	}
}

// lineDiff shows the first differing line, enough to find the change.
func lineDiff(want, got string) string {
	w, g := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return ""
}
