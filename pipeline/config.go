// Package pipeline wires triage's stages together: it loads the config file,
// opens the store, starts the mailbox syncers and runs one worker pool per
// stage from the durable message states in SQLite.
package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/review"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// Config is the whole config file. Every section is documented in README.md.
type Config struct {
	Store     store.Config           `yaml:"store"`
	Log       LogConfig              `yaml:"log"`
	Pipeline  RunConfig              `yaml:"pipeline"`
	Mailboxes []ingest.MailboxConfig `yaml:"mailboxes"`
	// Salesforce is nil when no org is configured: the pipeline then runs
	// offline (dedupe from local state only, no case writes).
	Salesforce *salesforce.Config `yaml:"salesforce"`
	// LLM is nil when no endpoint is configured: the offline classifier serves.
	LLM       *classify.LLMConfig `yaml:"llm"`
	Classify  classify.Config     `yaml:"classify"`
	Dedupe    dedupe.Config       `yaml:"dedupe"`
	Knowledge knowledge.Config    `yaml:"knowledge"`
	Cases     cases.Config        `yaml:"cases"`
	Review    review.Config       `yaml:"review"`
}

// LogConfig is the `log` section.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// SetDefaults fills unset fields.
func (c *LogConfig) SetDefaults() {
	if c.Level == "" {
		c.Level = "info"
	}
	if c.Format == "" {
		c.Format = "text"
	}
}

// Validate reports every problem with the section.
func (c *LogConfig) Validate() []error {
	var errs []error
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); err != nil {
		errs = append(errs, fmt.Errorf("level: %q is not one of debug, info, warn, error", c.Level))
	}
	if c.Format != "text" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("format: %q is not one of text, json", c.Format))
	}
	return errs
}

// NewLogger builds the logger the config asks for, writing to w.
func (c LogConfig) NewLogger(w io.Writer) *slog.Logger {
	c.SetDefaults()
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: l}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// SetDefaults fills unset fields of every section.
func (c *Config) SetDefaults() {
	c.Store.SetDefaults()
	c.Log.SetDefaults()
	c.Pipeline.SetDefaults()
	for i := range c.Mailboxes {
		c.Mailboxes[i].SetDefaults()
	}
	if c.Salesforce != nil {
		c.Salesforce.SetDefaults()
	}
	if c.LLM != nil {
		c.LLM.SetDefaults()
	}
	c.Classify.SetDefaults()
	c.Dedupe.SetDefaults()
	c.Knowledge.SetDefaults()
	c.Cases.SetDefaults()
	c.Review.SetDefaults()
}

// validator is what every config section offers.
type validator interface{ Validate() []error }

// Validate reports every problem in the file at once, each prefixed with its key path.
func (c *Config) Validate() error {
	var errs []error
	add := func(prefix string, v validator) {
		for _, e := range v.Validate() {
			errs = append(errs, fmt.Errorf("%s.%w", prefix, e))
		}
	}
	add("store", &c.Store)
	add("log", &c.Log)
	add("pipeline", &c.Pipeline)
	if c.Salesforce != nil {
		add("salesforce", c.Salesforce)
	}
	if c.LLM != nil {
		add("llm", c.LLM)
	}
	add("classify", &c.Classify)
	add("dedupe", &c.Dedupe)
	add("knowledge", &c.Knowledge)
	add("cases", &c.Cases)
	add("review", &c.Review)
	names := map[string]int{}
	for i := range c.Mailboxes {
		add(fmt.Sprintf("mailboxes[%d]", i), &c.Mailboxes[i])
		if n := c.Mailboxes[i].Name; n != "" {
			if j, dup := names[n]; dup {
				errs = append(errs, fmt.Errorf("mailboxes[%d].name: %q is already used by mailboxes[%d]", i, n, j))
			}
			names[n] = i
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ConfigError{Problems: errs}
}

// ConfigError lists every problem found in a config file.
type ConfigError struct {
	File     string
	Problems []error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	fmt.Fprintf(&b, "%d problem(s) in config", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Permanent: a bad config does not fix itself.
func (e *ConfigError) Permanent() bool { return true }

// LoadConfig reads, expands, decodes, defaults and validates a config file.
// ${VAR} references in values are replaced from the environment.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(b, os.LookupEnv)
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.File = path
	}
	return cfg, err
}

// ParseConfig decodes a config document, expanding ${VAR} from lookup.
func ParseConfig(b []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, &ConfigError{Problems: []error{fmt.Errorf("yaml: %w", err)}}
	}
	var problems []error
	expandNode(&root, "", lookup, &problems)
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	// Re-encode the expanded tree so decoding can reject unknown keys: a typo in
	// a key must be an error, not a silently ignored setting.
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return nil, &ConfigError{Problems: []error{fmt.Errorf("yaml: %w", err)}}
	}
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				problems = append(problems, errors.New(m))
			}
			return nil, &ConfigError{Problems: problems}
		}
		return nil, &ConfigError{Problems: []error{fmt.Errorf("yaml: %w", err)}}
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandNode replaces ${VAR} in scalar values (never in keys) and reports
// unset variables with the key path where they were used.
func expandNode(n *yaml.Node, path string, lookup func(string) (string, bool), problems *[]error) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			expandNode(c, path, lookup, problems)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			expandNode(n.Content[i+1], p, lookup, problems)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, fmt.Sprintf("%s[%d]", path, i), lookup, problems)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := lookup(name)
			if !ok {
				*problems = append(*problems, fmt.Errorf("%s: environment variable %s is not set", path, name))
			}
			return v
		})
		// An expanded value is data, never YAML syntax: drop the tag so it is
		// resolved again (a port stays a number) and let the encoder quote it.
		n.Tag = ""
	}
}
