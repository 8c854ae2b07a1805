package review

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if c.Addr != DefaultAddr || c.SessionLifetime != DefaultSessionLifetime || c.LoginRateLimit.Attempts != DefaultLoginAttempts ||
		c.RetrainInterval != DefaultRetrainInterval || !c.IsEnabled() || c.OIDC.Enabled() || c.TLS.Enabled() {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestConfigYAML(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, []byte("x"), 0o600)
	os.WriteFile(key, []byte("x"), 0o600)
	src := `
addr: 0.0.0.0:8443
tls: {cert_file: ` + cert + `, key_file: ` + key + `}
session_lifetime: 2h
login_rate_limit: {attempts: 3, window: 1m}
retrain_interval: -1s
oidc:
  issuer: https://id.example.com
  client_id: triage
  client_secret: s3cret
  redirect_url: https://triage.example.com/auth/oidc/callback
  roles: {support-leads: manager, ops: admin}
`
	var c Config
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("valid config rejected: %v", errs)
	}
	if c.SessionLifetime != 2*time.Hour || c.LoginRateLimit.Attempts != 3 || c.RetrainEnabled() ||
		c.OIDC.TokenURL != "https://id.example.com/token" || c.OIDC.Roles["ops"] != RoleAdmin || !c.TLS.Enabled() {
		t.Fatalf("decoded wrong: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"bad addr", func(c *Config) { c.Addr = "nohost" }, "addr: "},
		{"empty host", func(c *Config) { c.Addr = ":8080" }, "addr: \":8080\" listens on every interface"},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "/nonexistent" }, "tls.key_file: must be set"},
		{"missing cert file", func(c *Config) { c.TLS = TLSConfig{CertFile: "/nonexistent/c", KeyFile: "/nonexistent/k"} }, "tls.cert_file: "},
		{"short session", func(c *Config) { c.SessionLifetime = time.Second }, "session_lifetime: "},
		{"zero attempts", func(c *Config) { c.LoginRateLimit.Attempts = -1 }, "login_rate_limit.attempts: "},
		{"short window", func(c *Config) { c.LoginRateLimit.Window = time.Millisecond }, "login_rate_limit.window: "},
		{"short retrain", func(c *Config) { c.RetrainInterval = time.Second }, "retrain_interval: "},
		{"oidc no client", func(c *Config) {
			c.OIDC = OIDCConfig{Issuer: "https://id.example.com", RedirectURL: "https://x/auth/oidc/callback", DefaultRole: RoleViewer}
		}, "oidc.client_id: must be set"},
		{"oidc http", func(c *Config) {
			c.OIDC = OIDCConfig{Issuer: "http://id.example.com", ClientID: "a", RedirectURL: "https://x/auth/oidc/callback", DefaultRole: RoleViewer}
		}, "oidc.issuer: \"http://id.example.com\" must use https"},
		{"oidc bad role", func(c *Config) {
			c.OIDC = OIDCConfig{Issuer: "https://id", ClientID: "a", RedirectURL: "https://x/auth/oidc/callback", Roles: map[string]Role{"g": "boss"}}
		}, "oidc.roles.g: \"boss\" is not one of"},
		{"oidc no roles", func(c *Config) {
			c.OIDC = OIDCConfig{Issuer: "https://id", ClientID: "a", RedirectURL: "https://x/auth/oidc/callback"}
		}, "oidc.roles: map at least one"},
		{"oidc redirect path", func(c *Config) {
			c.OIDC = OIDCConfig{Issuer: "https://id", ClientID: "a", RedirectURL: "https://x/cb", DefaultRole: RoleViewer}
		}, "oidc.redirect_url: path must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			tt.mod(&c)
			c.SetDefaults()
			errs := c.Validate()
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			joined := strings.Join(all, "\n")
			if !strings.Contains(joined, tt.want) {
				t.Fatalf("want error containing %q, got:\n%s", tt.want, joined)
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:80": true, "localhost:1": true, "[::1]:8080": true, "0.0.0.0:80": false, "10.0.0.1:80": false, "example.com:80": false,
	} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("isLoopbackAddr(%q) = %v", addr, got)
		}
	}
}

func TestRoleIncludes(t *testing.T) {
	if !RoleAdmin.Includes(RoleManager) || RoleViewer.Includes(RoleManager) || Role("x").Includes(RoleViewer) || RoleAdmin.Includes("x") {
		t.Fatal("role order wrong")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s", 2 * time.Minute: "2m"} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
