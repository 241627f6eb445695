package resources

import (
	"strings"
	"testing"
)

func TestConfigHash(t *testing.T) {
	prof := helpyProfile(t)
	base := ConfigInputs{
		AppSecrets: map[string][]byte{"SECRET_KEY_BASE": []byte("kb1"), "ADMIN_PASSWORD": []byte("pw1")},
		Settings:   map[string]string{"a": "1", "b": "2"},
	}
	h0 := ConfigHash(prof, base)
	cases := []struct {
		desc   string
		mutate func(*ConfigInputs)
		change bool
	}{
		{"nothing", func(*ConfigInputs) {}, false},
		{"secret key base rotated", func(in *ConfigInputs) { in.AppSecrets["SECRET_KEY_BASE"] = []byte("kb2") }, true},
		{"secret key base removed", func(in *ConfigInputs) { delete(in.AppSecrets, "SECRET_KEY_BASE") }, true},
		{"admin password changed (the app never reads it)", func(in *ConfigInputs) { in.AppSecrets["ADMIN_PASSWORD"] = []byte("pw2") }, false},
		{"unknown secret key added", func(in *ConfigInputs) { in.AppSecrets["OTHER"] = []byte("x") }, false},
		{"database credentials rewritten", func(in *ConfigInputs) { in.DatabaseSecretVersion = "42" }, true},
		{"setting changed", func(in *ConfigInputs) { in.Settings["a"] = "3" }, true},
		{"setting added", func(in *ConfigInputs) { in.Settings["c"] = "" }, true},
		{"setting removed", func(in *ConfigInputs) { delete(in.Settings, "b") }, true},
		{"boundary between key and value moved", func(in *ConfigInputs) { in.Settings = map[string]string{"a1": "", "b": "2"} }, true},
		{"value moved from settings into a key", func(in *ConfigInputs) { in.Settings = map[string]string{"a": "1b", "": "2"} }, true},
	}
	for _, c := range cases {
		in := ConfigInputs{AppSecrets: map[string][]byte{}, Settings: map[string]string{}}
		for k, v := range base.AppSecrets {
			in.AppSecrets[k] = v
		}
		for k, v := range base.Settings {
			in.Settings[k] = v
		}
		c.mutate(&in)
		if got := ConfigHash(prof, in) != h0; got != c.change {
			t.Errorf("%s: hash changed = %v, want %v", c.desc, got, c.change)
		}
	}
}

func TestConfigHashDeterministicAndOpaque(t *testing.T) {
	prof := helpyProfile(t)
	in := ConfigInputs{AppSecrets: testSecrets(), Settings: map[string]string{"x": "1", "y": "2", "z": "3"}}
	first := ConfigHash(prof, in)
	for i := 0; i < 50; i++ { // map iteration order varies between runs
		if got := ConfigHash(prof, in); got != first {
			t.Fatalf("hash differs between calls: %s vs %s", first, got)
		}
	}
	if len(first) != 64 {
		t.Errorf("hash %q is not a hex SHA-256", first)
	}
	for _, v := range testSecrets() {
		if strings.Contains(first, string(v)) {
			t.Error("the hash contains a secret value")
		}
	}
}
