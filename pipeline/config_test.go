package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseConfigExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(b, lookup(map[string]string{"IMAP_PASSWORD": "s3cret: #not yaml"}))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if got := cfg.Mailboxes[0].Password; got != "s3cret: #not yaml" {
		t.Errorf("password expanded to %q", got)
	}
	if cfg.Store.Path != "/var/lib/triage/triage.db" {
		t.Errorf("store.path = %q", cfg.Store.Path)
	}
	if cfg.Pipeline.RetrySchedule[0] != 200*time.Millisecond {
		t.Errorf("default retry schedule not applied: %v", cfg.Pipeline.RetrySchedule)
	}
}

func TestParseConfigProblems(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		env  map[string]string
		want []string // every one must appear
	}{
		{
			name: "unset env var names its key",
			doc:  "mailboxes:\n  - name: a\n    address: 127.0.0.1:143\n    tls: none\n    username: u\n    password: ${NOPE}\n",
			want: []string{"mailboxes[0].password: environment variable NOPE is not set"},
		},
		{
			name: "unknown key is an error",
			doc:  "store:\n  paht: x.db\n",
			want: []string{"paht"},
		},
		{
			name: "every problem at once",
			doc:  "log:\n  level: loud\n  format: xml\npipeline:\n  workers:\n    cases: -1\n    dedupe: 1000\n",
			want: []string{"log.level:", "log.format:", "pipeline.workers.dedupe: 1000", "pipeline.workers.cases: -1"},
		},
		{
			name: "duplicate mailbox names",
			doc:  "mailboxes:\n  - {name: a, address: '127.0.0.1:143', tls: none, username: u, password: p}\n  - {name: a, address: '127.0.0.1:143', tls: none, username: u, password: p}\n",
			want: []string{`mailboxes[1].name: "a" is already used by mailboxes[0]`},
		},
		{
			name: "not yaml",
			doc:  "store: [unclosed\n",
			want: []string{"yaml:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc), lookup(tt.env))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want ConfigError, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestREADMEConfigIsValid keeps the README honest: every YAML block in it,
// put together, is a config file that parses (no unknown keys) and validates.
func TestREADMEConfigIsValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	for _, part := range strings.Split(string(b), "```yaml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		doc.WriteString(block + "\n")
	}
	// The README elides long lists; give them values.
	y := strings.NewReplacer("[...]", "[example]", ", …]", "]", "/etc/triage/sf.key", filepath.Join(t.TempDir(), "sf.key")).Replace(doc.String())
	env := map[string]string{}
	for _, m := range envRef.FindAllStringSubmatch(y, -1) {
		env[m[1]] = "0123456789abcdef0123456789"
	}
	env["SLACK_WEBHOOK_URL"] = "https://hooks.example.com/x"
	if _, err := ParseConfig([]byte(y), lookup(env)); err != nil {
		t.Fatalf("the README's config does not load:\n%v", err)
	}
}
