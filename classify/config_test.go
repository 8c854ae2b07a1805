package classify

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if len(c.Taxonomy) != 12 || c.Taxonomy[11].Name != "OTHER" {
		t.Fatalf("taxonomy = %v", c.CategoryNames())
	}
	if c.TokenBudget != 1500 {
		t.Errorf("token budget %d", c.TokenBudget)
	}
	var l LLMConfig
	l.SetDefaults()
	errs := l.Validate()
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "model:") {
		t.Fatalf("llm defaults without model: %v", errs)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name, yaml, wantPrefix string
	}{
		{"bad redact", "redact: [card, ssn, tattoo]", "redact[2]:"},
		{"bad threshold", "thresholds: {category: {suggest: 0.9, automate: 0.5}}", "thresholds.category:"},
		{"unknown field", "thresholds: {colour: {suggest: 0.1, automate: 0.5}}", "thresholds.colour:"},
		{"dup category", "taxonomy: [{name: A}, {name: a}]", "taxonomy[1].name:"},
		{"bad name", "taxonomy: [{name: 'A B'}, {name: C}]", "taxonomy[0].name:"},
		{"budget", "token_budget: 10", "token_budget:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := yaml.Unmarshal([]byte(tt.yaml), &c); err != nil {
				t.Fatal(err)
			}
			c.SetDefaults()
			errs := c.Validate()
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tt.wantPrefix) {
				t.Fatalf("errs = %v, want one starting %q", errs, tt.wantPrefix)
			}
		})
	}
	var l LLMConfig
	if err := yaml.Unmarshal([]byte("model: m\ntimeout: 5s\nstructured_output: xml\nbase_url: ftp://x"), &l); err != nil {
		t.Fatal(err)
	}
	l.SetDefaults()
	if l.Timeout.Seconds() != 5 {
		t.Errorf("timeout %v", l.Timeout)
	}
	errs := l.Validate()
	if len(errs) != 2 {
		t.Fatalf("errs = %v", errs)
	}
}
