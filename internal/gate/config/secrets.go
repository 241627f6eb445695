package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// CookieKeys are the session cookie's keys, read from Cookie.HashKeyFile and BlockKeyFile.
type CookieKeys struct {
	Hash  []byte
	Block []byte
}

// ReadCookieKeys reads and checks the two base64 key files.
func (c Cookie) ReadCookieKeys() (CookieKeys, error) {
	hash, err := readKey("cookie.hashKeyFile", c.HashKeyFile)
	if err != nil {
		return CookieKeys{}, err
	}
	block, err := readKey("cookie.blockKeyFile", c.BlockKeyFile)
	if err != nil {
		return CookieKeys{}, err
	}
	if len(hash) < 32 || len(hash) > 64 {
		return CookieKeys{}, fmt.Errorf("cookie.hashKeyFile: the key must be 32 to 64 bytes, found %d", len(hash))
	}
	if len(block) != 32 {
		return CookieKeys{}, fmt.Errorf("cookie.blockKeyFile: the key must be 32 bytes (AES-256), found %d", len(block))
	}
	return CookieKeys{Hash: hash, Block: block}, nil
}

func readKey(field, file string) ([]byte, error) {
	text, err := ReadSecret(field, file)
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%s: the file must hold the key as standard base64", field)
	}
	return key, nil
}

// ReadSecret reads a mounted secret file, trimming the trailing newline editors and
// kubectl leave. The error names the field and the file, never the content.
func ReadSecret(field, file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	value := strings.TrimSpace(string(data))
	if value == "" {
		return "", fmt.Errorf("%s: %s is empty", field, file)
	}
	return value, nil
}

// TLSConfig trusts the PEM bundle in caFile, or the system roots when caFile is empty.
func TLSConfig(field, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", field, caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// HTTPClient talks to an identity provider, trusting caFile (or the system roots).
func HTTPClient(field, caFile string) (*http.Client, error) {
	tlsConfig, err := TLSConfig(field, caFile)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	return &http.Client{Transport: transport, Timeout: 15 * time.Second}, nil
}
