package cases

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestConfigDefaultsValid(t *testing.T) {
	var c Config
	c.SetDefaults()
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if c.FieldMap.ExternalID != "Triage_Key__c" || c.FieldMap.PriorityValues["urgent"] != "High" || c.Status.Escalated != "Escalated" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestConfigValidateKeyPaths(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"bad field", "field_map:\n  category: 'Type bad'\n", []string{"field_map.category:"}},
		{"priority key", "field_map:\n  priority_values:\n    critical: High\n", []string{"field_map.priority_values.critical:"}},
		{"escalation nothing", "escalation:\n  set_is_escalated: false\n  set_status: false\n", []string{"escalation:"}},
		{"custom object", "custom_objects:\n  - object: Device__c\n    read_fields: ['Serial Number']\n  - object: device__c\n    write_fields: [X__c]\n", []string{"custom_objects[0].read_fields[0]:", "custom_objects[1].object:"}},
		{"batch", "backfill:\n  batch_size: 100\n  max_nodes: 600\n", []string{"backfill.batch_size:", "backfill.max_nodes:"}},
		{"alerts", "alerts:\n  url: 'ftp://x'\n", []string{"alerts.url:"}},
		{"secret", "webhook:\n  secret: short\n", []string{"webhook.secret:"}},
		{"poll", "changes:\n  poll_interval: 10ms\n", []string{"changes.poll_interval:"}},
		{"truncate", "truncate:\n  subject: 1000\n", []string{"truncate.subject:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := yaml.Unmarshal([]byte(tt.doc), &c); err != nil {
				t.Fatal(err)
			}
			c.SetDefaults()
			errs := c.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tt.want))
			}
			for _, w := range tt.want {
				found := false
				for _, e := range errs {
					if strings.HasPrefix(e.Error(), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error starting with %q in %v", w, errs)
				}
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	c := Config{Webhook: WebhookConfig{Secret: "s3cr3t-value-0123456789"}, Alerts: AlertConfig{URL: "https://hooks.slack.com/services/T000/B000/XXXXSECRET"}}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "XXXXSECRET") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "webhook", c.Webhook, "alerts", c.Alerts)
	if strings.Contains(b.String(), "s3cr3t") || strings.Contains(b.String(), "XXXXSECRET") || !strings.Contains(b.String(), "hooks.slack.com") {
		t.Fatalf("log: %s", b.String())
	}
}
