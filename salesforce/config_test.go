package salesforce

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.LoginURL != DefaultLoginURL || c.APIVersion != DefaultAPIVersion || c.Timeout != DefaultTimeout {
		t.Errorf("defaults = %+v", c)
	}
	if strings.Join(c.Auth.Scopes, " ") != "api refresh_token offline_access" {
		t.Errorf("scopes = %v", c.Auth.Scopes)
	}
	if c.Governor.NonCriticalShare != 0.80 || c.Governor.CriticalShare != 0.95 {
		t.Errorf("governor = %+v", c.Governor)
	}
}

func TestConfigYAML(t *testing.T) {
	src := `
login_url: https://test.salesforce.com/
api_version: "v61.0"
timeout: 45s
auth:
  flow: jwt
  client_id: 3MVG9
  username: integration@example.com
  private_key_file: /etc/triage/sf.key
governor:
  non_critical_share: 0.7
`
	var c Config
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("valid config rejected: %v", errs)
	}
	if c.LoginURL != "https://test.salesforce.com" || c.APIVersion != "61.0" || c.Timeout != 45*time.Second || c.Governor.NonCriticalShare != 0.7 || c.Governor.CriticalShare != 0.95 {
		t.Errorf("parsed = %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := Config{Auth: AuthConfig{Flow: FlowClientCredentials, ClientID: "id", ClientSecret: "s"}}
		c.SetDefaults()
		return c
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   []string // key-path prefixes expected, in order
	}{
		{"valid client credentials", func(*Config) {}, nil},
		{"valid refresh token without secret", func(c *Config) {
			c.Auth = AuthConfig{Flow: FlowRefreshToken, ClientID: "id", RefreshToken: "rt"}
		}, nil},
		{"emulator on loopback", func(c *Config) { c.LoginURL = "http://127.0.0.1:8443" }, nil},
		{"localhost", func(c *Config) { c.LoginURL = "http://localhost:1234" }, nil},
		{"ipv6 loopback", func(c *Config) { c.LoginURL = "http://[::1]:1234" }, nil},
		{"plain http elsewhere", func(c *Config) { c.LoginURL = "http://login.salesforce.com" }, []string{"login_url:"}},
		{"ftp", func(c *Config) { c.LoginURL = "ftp://x" }, []string{"login_url:"}},
		{"relative", func(c *Config) { c.LoginURL = "login.salesforce.com" }, []string{"login_url:"}},
		{"userinfo", func(c *Config) { c.LoginURL = "https://u:p@login.salesforce.com" }, []string{"login_url:"}},
		{"bad version", func(c *Config) { c.APIVersion = "62" }, []string{"api_version:"}},
		{"no flow", func(c *Config) { c.Auth.Flow = "" }, []string{"auth.flow:"}},
		{"unknown flow", func(c *Config) { c.Auth.Flow = "password" }, []string{"auth.flow:"}},
		{"no client id", func(c *Config) { c.Auth.ClientID = "" }, []string{"auth.client_id:"}},
		{"cc without secret", func(c *Config) { c.Auth.ClientSecret = "" }, []string{"auth.client_secret:"}},
		{"jwt without user and key", func(c *Config) { c.Auth.Flow = FlowJWT }, []string{"auth.username:", "auth.private_key_file:"}},
		{"jwt bad audience", func(c *Config) {
			c.Auth = AuthConfig{Flow: FlowJWT, ClientID: "id", Username: "u", PrivateKeyFile: "k", Audience: "http://evil.example.com"}
		}, []string{"auth.audience:"}},
		{"refresh without token", func(c *Config) { c.Auth.Flow = FlowRefreshToken }, []string{"auth.refresh_token:"}},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, []string{"timeout:"}},
		{"share above 1", func(c *Config) { c.Governor.CriticalShare = 1.5 }, []string{"governor.critical_share:"}},
		{"shares inverted", func(c *Config) { c.Governor.NonCriticalShare = 0.96 }, []string{"governor.non_critical_share:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			errs := c.Validate()
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %v, want prefixes %v", errs, tc.want)
			}
			for i, p := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), p) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i], p)
				}
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := New(context.Background(), Config{LoginURL: "http://example.com", Auth: AuthConfig{Flow: "x"}})
	if err == nil || !strings.Contains(err.Error(), "login_url:") || !strings.Contains(err.Error(), "auth.flow:") {
		t.Errorf("err = %v", err)
	}
}

func TestSecretsRedactedWhenPrinted(t *testing.T) {
	c := Config{Auth: AuthConfig{Flow: FlowRefreshToken, ClientID: "id", ClientSecret: "topsecret", RefreshToken: "5Aep861rt"}}
	logger, buf := logBuffer()
	logger.Info("cfg", "auth", c.Auth)
	for _, out := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprint(c.Auth), buf.String()} {
		if strings.Contains(out, "topsecret") || strings.Contains(out, "5Aep861rt") {
			t.Errorf("secret printed: %s", out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("no redaction marker: %s", out)
		}
	}
}
