package appprofile

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// configMapKey is what Kubernetes accepts as a ConfigMap key.
var configMapKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

func TestHelpyConfigFiles(t *testing.T) {
	p := helpy()
	if len(p.ConfigFiles) != 1 {
		t.Fatalf("config files %+v, want the private uploads initializer", p.ConfigFiles)
	}
	keys, paths := map[string]bool{}, map[string]bool{}
	for _, f := range p.ConfigFiles {
		if !configMapKey.MatchString(f.Key) || f.Key == "." || f.Key == ".." || len(f.Key) > 253 {
			t.Errorf("key %q is not a valid ConfigMap key", f.Key)
		}
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			t.Errorf("path %q must be absolute and clean", f.Path)
		}
		if keys[f.Key] || paths[f.Path] {
			t.Errorf("key %q or path %q appears twice", f.Key, f.Path)
		}
		keys[f.Key], paths[f.Path] = true, true
		for _, w := range p.WritablePaths {
			if strings.HasPrefix(f.Path, w.Path+"/") {
				t.Errorf("%s lies in the writable path %s, whose emptyDir would hide it", f.Path, w.Path)
			}
		}
	}
	f := p.ConfigFiles[0]
	// Rails loads config/initializers/*.rb of the app in WorkingDir at boot.
	if path.Dir(f.Path) != p.WorkingDir+"/config/initializers" || path.Ext(f.Path) != ".rb" {
		t.Errorf("the initializer is at %s, not in %s/config/initializers", f.Path, p.WorkingDir)
	}
	source, err := os.ReadFile("helpy/private_uploads.rb")
	if err != nil {
		t.Fatal(err)
	}
	if f.Content != string(source) || len(f.Content) == 0 {
		t.Error("the profile does not carry helpy/private_uploads.rb as it is in the repository")
	}
	// A ConfigMap holds at most 1 MiB.
	if len(f.Content) > 512*1024 {
		t.Errorf("the initializer has %d bytes", len(f.Content))
	}
}

func TestConfigFilesAreIndependentCopies(t *testing.T) {
	a, _ := For(v1alpha1.AppProfileHelpy)
	a.ConfigFiles[0].Content = "changed"
	b, _ := For(v1alpha1.AppProfileHelpy)
	if b.ConfigFiles[0].Content == "changed" {
		t.Error("a caller's change leaked into the next profile")
	}
}

// TestHelpyPrivateUploadsSyntax checks that the initializer parses. It runs Debian's Ruby,
// not Helpy's 2.5: the file keeps to Ruby 2.5 syntax by hand.
func TestHelpyPrivateUploadsSyntax(t *testing.T) {
	ruby := lookRuby(t)
	cmd := exec.Command(ruby, "-c", writeInitializer(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("ruby -c: %v\n%s", err, out)
	}
}

// TestHelpyPrivateUploadsRack runs the middleware under Rack with fake records and a fake
// session (testdata/helpy_private_uploads_test.rb says what that proves and what not).
func TestHelpyPrivateUploadsRack(t *testing.T) {
	ruby := lookRuby(t)
	if out, err := exec.Command(ruby, "-e", `require "rack"`).CombinedOutput(); err != nil {
		t.Fatalf("Rack is needed to test the private uploads middleware (apt-get install ruby-rack; .ci/run does): %v\n%s", err, out)
	}
	// Read by Go, not only by ruby, so that go test's cache notices a change to it.
	script, err := os.ReadFile("testdata/helpy_private_uploads_test.rb")
	if err != nil {
		t.Fatal(err)
	}
	scriptFile := filepath.Join(t.TempDir(), "helpy_private_uploads_test.rb")
	if err := os.WriteFile(scriptFile, script, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ruby, scriptFile, writeInitializer(t)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("Rack test of the private uploads middleware: %v\n%s", err, out)
	}
}

func lookRuby(t *testing.T) string {
	t.Helper()
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		t.Fatal("ruby is needed to check the private uploads initializer (apt-get install ruby; .ci/run does)")
	}
	return ruby
}

// writeInitializer writes the content the profile ships, so the tests check exactly that.
func writeInitializer(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "helpdesk_private_uploads.rb")
	if err := os.WriteFile(file, []byte(helpy().ConfigFiles[0].Content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
