package knowledge

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.Sources.Files.Path = "kb/"
	c.SetDefaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if !c.IsEnabled() || c.TopK != DefaultTopK || c.Sources.Salesforce.Object != DefaultObject ||
		len(c.Sources.Salesforce.BodyFields) != 1 || c.Threshold != DefaultThreshold {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	var off Config
	off.SetDefaults()
	if off.IsEnabled() {
		t.Fatal("no source configured must mean disabled")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		prefix string
	}{
		{"object", func(c *Config) { c.Sources.Salesforce.Enabled = true; c.Sources.Salesforce.Object = "Knowledge kav;" }, "sources.salesforce.object:"},
		{"body field", func(c *Config) {
			c.Sources.Salesforce.Enabled = true
			c.Sources.Salesforce.BodyFields = []string{"Body__c", "x'y"}
		}, "sources.salesforce.body_fields[1]:"},
		{"language", func(c *Config) {
			c.Sources.Salesforce.Enabled = true
			c.Sources.Salesforce.Languages = []string{"english!"}
		}, "sources.salesforce.languages[0]:"},
		{"top_k", func(c *Config) { c.TopK = 50 }, "top_k:"},
		{"threshold", func(c *Config) { c.Threshold = 1.5 }, "threshold:"},
		{"interval", func(c *Config) { c.SyncInterval = time.Second }, "sync_interval:"},
		{"cluster", func(c *Config) { c.GapClusterThreshold = -1 }, "gap_cluster_threshold:"},
		{"default language", func(c *Config) { c.DefaultLanguage = "english" }, "default_language:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.SetDefaults()
			tt.mutate(&c)
			errs := c.Validate()
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tt.prefix) {
				t.Fatalf("want one error starting %q, got %v", tt.prefix, errs)
			}
		})
	}
}
