package resources

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

// TestVaultAgentEnvFileQuotesValues renders the injector template the way consul-template
// does (its replaceAll is strings.ReplaceAll with the input last) with hostile values, then
// has bash source the file: every value must come out exactly, and none may run code.
func TestVaultAgentEnvFileQuotesValues(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to source the env file: %v", err)
	}
	inst := vaultAgentInstance()
	opts := testOptions()
	text := vaultAgentAnnotations(inst, opts, []string{"SECRET_KEY_BASE"})[annotationVaultPrefix+"agent-inject-template-"+vaultEnvFile]
	canary := filepath.Join(t.TempDir(), "canary")
	hostile := []string{
		"plain-URL-safe_value",
		"it's",
		"'; touch " + canary + "; echo '",
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"a\\'b\"c $HOME ${PATH} \\\\",
		"line one\nline two",
	}
	for _, value := range hostile {
		tmpl, err := template.New("env").Funcs(template.FuncMap{
			"secret": func(string) map[string]any {
				return map[string]any{"Data": map[string]any{"data": map[string]any{"SECRET_KEY_BASE": value}}}
			},
			"replaceAll": func(from, to, s string) string { return strings.ReplaceAll(s, from, to) },
		}).Parse(text)
		if err != nil {
			t.Fatalf("template: %v", err)
		}
		var rendered strings.Builder
		if err := tmpl.Execute(&rendered, nil); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "app-env")
		if err := os.WriteFile(file, []byte(rendered.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bash, "-c", `. "$0" && printf %s "$SECRET_KEY_BASE"`, file).Output()
		if err != nil {
			t.Fatalf("sourcing the env file for %q: %v\n%s", value, err, rendered.String())
		}
		if string(out) != value {
			t.Errorf("value %q came out as %q", value, out)
		}
		if _, err := os.Stat(canary); err == nil {
			t.Fatalf("value %q ran a command when the env file was sourced", value)
		}
	}
}
