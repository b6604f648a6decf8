package node

import (
	"strings"
	"testing"
)

// A node refuses an API reachable from other machines unless it has both
// TLS and tokens, or the config says insecure_api; loopback is always fine.
func TestInsecurePublicAPIRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"loopback, plain", func(c *Config) { c.APIAddr = "127.0.0.1:8080" }, true},
		{"localhost, plain", func(c *Config) { c.APIAddr = "localhost:8080" }, true},
		{"all interfaces, plain", func(c *Config) { c.APIAddr = "0.0.0.0:8080" }, false},
		{"empty host, plain", func(c *Config) { c.APIAddr = ":8080" }, false},
		{"public, TLS only", func(c *Config) {
			c.APIAddr, c.TLS = "0.0.0.0:8080", TLSConfig{CertFile: "a.crt", KeyFile: "a.key"}
		}, false},
		{"public, tokens only", func(c *Config) { c.APIAddr, c.Auth.Tokens = "0.0.0.0:8080", true }, false},
		{"public, TLS and tokens", func(c *Config) {
			c.APIAddr, c.TLS, c.Auth.Tokens = "0.0.0.0:8080", TLSConfig{CertFile: "a.crt", KeyFile: "a.key"}, true
		}, true},
		{"public, insecure_api", func(c *Config) { c.APIAddr, c.InsecureAPI = "0.0.0.0:8080", true }, true},
		{"public gRPC, plain", func(c *Config) { c.GRPCAddr = "0.0.0.0:9090" }, false},
		{"public metrics without tokens", func(c *Config) { c.MetricsAddr = "0.0.0.0:9100" }, false},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "a.crt" }, false},
		{"client auth without TLS", func(c *Config) { c.TLS.ClientAuth = "require" }, false},
		{"unknown client scope", func(c *Config) {
			c.TLS = TLSConfig{CertFile: "a.crt", KeyFile: "a.key", ClientScopes: []string{"root"}}
		}, false},
	} {
		cfg := DefaultConfig(t.TempDir())
		c.mod(&cfg)
		err := cfg.Check()
		if (err == nil) != c.ok {
			t.Errorf("%s: Check() = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && strings.Contains(c.name, "plain") && !strings.Contains(err.Error(), "insecure_api") {
			t.Errorf("%s: the refusal does not say how to accept it: %v", c.name, err)
		}
	}
}
