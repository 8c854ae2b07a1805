package dedupe

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsValid(t *testing.T) {
	var c Config
	c.SetDefaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if !*c.Address.CaseInsensitiveLocal || !*c.Address.StripPlusTags || c.Address.GmailDotFolding {
		t.Errorf("address defaults: %+v", c.Address)
	}
	if c.Loop.MaxMessages != 15 || c.Loop.Window.Seconds() != 60 {
		t.Errorf("loop defaults: %+v", c.Loop)
	}
	if c.Prefetch.Lookahead != 200 || c.Prefetch.TTL != 2*time.Minute {
		t.Errorf("prefetch defaults: %+v", c.Prefetch)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		prefix string
	}{
		{"token without key", func(c *Config) { c.Thread.TokenFormat = "[ref]" }, "thread.token_format:"},
		{"bare token", func(c *Config) { c.Thread.TokenFormat = "{key}" }, "thread.token_format:"},
		{"behaviour", func(c *Config) { c.Reopen.Behaviour = "maybe" }, "reopen.behaviour:"},
		{"loop max", func(c *Config) { c.Loop.MaxMessages = -1 }, "loop.max_messages:"},
		{"field injection", func(c *Config) { c.AlternateEmailFields = []string{"Email FROM User--"} }, "alternate_email_fields[0]:"},
		{"sensitive tier", func(c *Config) {
			c.Context.TierField = "SSN__c"
			c.Context.SensitiveFields = []string{"ssn__c"}
		}, "context.tier_field:"},
		{"writable without fields", func(c *Config) { c.AlternateEmailWritable = true }, "alternate_email_writable:"},
		{"own address", func(c *Config) { c.OwnAddresses = []string{"support"} }, "own_addresses[0]:"},
		{"lookahead", func(c *Config) { c.Prefetch.Lookahead = 5000 }, "prefetch.lookahead:"},
		{"prefetch ttl", func(c *Config) { c.Prefetch.TTL = -time.Second }, "prefetch.ttl:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.SetDefaults()
			tt.mutate(&c)
			errs := c.Validate()
			if len(errs) != 1 {
				t.Fatalf("want 1 error, got %v", errs)
			}
			if !strings.HasPrefix(errs[0].Error(), tt.prefix) {
				t.Errorf("error %q does not start with %q", errs[0], tt.prefix)
			}
		})
	}
}
