package controllers

import "testing"

func TestVaultAddressPort(t *testing.T) {
	for address, want := range map[string]int32{
		"http://192.0.2.1:8200":             8200,
		"https://vault.vault.svc:8201":      8201,
		"https://vault.example.com":         443,
		"http://vault:80":                   80,
		"http://10.0.0.5":                   8200,
		"https://[2001:db8::1]:8443/v1/sys": 8443,
	} {
		if got, err := addressPort(address); err != nil || got != want {
			t.Errorf("addressPort(%q) = %d, %v; want %d", address, got, err, want)
		}
	}
	for _, bad := range []string{"", "vault:8200", "http://vault:0", "http://vault:x"} {
		if _, err := addressPort(bad); err == nil {
			t.Errorf("addressPort(%q) accepted", bad)
		}
	}
}
