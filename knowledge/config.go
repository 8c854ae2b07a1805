package knowledge

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Defaults of the knowledge section. DefaultThreshold was tuned on
// testdata/queries.jsonl against testdata/offtopic.jsonl (see testdata/README.md).
const (
	DefaultObject              = "Knowledge__kav"
	DefaultTopK                = 3
	DefaultThreshold           = 0.35
	DefaultSyncInterval        = 15 * time.Minute
	DefaultGapClusterThreshold = 0.30
	DefaultEmbeddingModel      = "text-embedding-3-small"
)

// DefaultBodyFields is the rich-text field the demo org (and the emulator's seed) uses.
// Salesforce Knowledge has no standard body field: each org creates its own.
var DefaultBodyFields = []string{"Body__c"}

// Config is the `knowledge:` section of the triage configuration.
type Config struct {
	// Enabled turns the stage on. When false the stage passes messages through.
	// Defaults to true when any source is configured.
	Enabled *bool   `yaml:"enabled"`
	Sources Sources `yaml:"sources"`
	// SyncInterval is how often `triage run` re-syncs the Salesforce source.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// TopK is how many articles are suggested per email (1..20, default 3).
	TopK int `yaml:"top_k"`
	// Threshold is the normalised relevance (0..1) below which an email is a
	// knowledge gap.
	Threshold float64 `yaml:"threshold"`
	// Hybrid fuses embedding similarity with BM25 when an embedder is available.
	Hybrid Hybrid `yaml:"hybrid"`
	// GapClusterThreshold is the TF-IDF cosine above which two gap emails join the same topic.
	GapClusterThreshold float64 `yaml:"gap_cluster_threshold"`
	// DefaultLanguage is used for articles and emails whose language is unknown (default en).
	DefaultLanguage string `yaml:"default_language"`
}

// Sources lists where articles come from.
type Sources struct {
	Salesforce SalesforceSource `yaml:"salesforce"`
	Files      FilesSource      `yaml:"files"`
}

// SalesforceSource syncs published Knowledge article versions.
type SalesforceSource struct {
	Enabled bool `yaml:"enabled"`
	// Object is the article version object (default Knowledge__kav).
	Object string `yaml:"object"`
	// BodyFields are the rich-text fields concatenated into the article body (default [Body__c]).
	BodyFields []string `yaml:"body_fields"`
	// Languages restricts the sync to these Knowledge languages (e.g. en_US, de); empty means all.
	Languages []string `yaml:"languages"`
	// ArticleURL is a template for the link shown to agents; {UrlName}, {Id},
	// {KnowledgeArticleId} and {ArticleNumber} are replaced. Empty: no URL.
	ArticleURL string `yaml:"article_url"`
}

// FilesSource imports a folder of Markdown/HTML files or a JSONL file.
type FilesSource struct {
	Path string `yaml:"path"`
}

// Hybrid configures embedding-based re-ranking.
type Hybrid struct {
	Enabled bool `yaml:"enabled"`
	// Model is the embedding model asked of the `llm` endpoint.
	Model string `yaml:"model"`
	// RRFK is the reciprocal-rank-fusion constant (default 60).
	RRFK int `yaml:"rrf_k"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Enabled == nil {
		on := c.Sources.Salesforce.Enabled || c.Sources.Files.Path != ""
		c.Enabled = &on
	}
	if c.Sources.Salesforce.Object == "" {
		c.Sources.Salesforce.Object = DefaultObject
	}
	if len(c.Sources.Salesforce.BodyFields) == 0 {
		c.Sources.Salesforce.BodyFields = append([]string(nil), DefaultBodyFields...)
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.TopK == 0 {
		c.TopK = DefaultTopK
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.GapClusterThreshold == 0 {
		c.GapClusterThreshold = DefaultGapClusterThreshold
	}
	if c.Hybrid.Model == "" {
		c.Hybrid.Model = DefaultEmbeddingModel
	}
	if c.Hybrid.RRFK == 0 {
		c.Hybrid.RRFK = 60
	}
	if c.DefaultLanguage == "" {
		c.DefaultLanguage = "en"
	}
}

// IsEnabled reports whether the stage runs.
func (c *Config) IsEnabled() bool { return c.Enabled != nil && *c.Enabled }

var apiName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Validate reports every problem with the section; messages start with the key path.
func (c *Config) Validate() []error {
	var errs []error
	sf := c.Sources.Salesforce
	if sf.Enabled {
		if !apiName.MatchString(sf.Object) {
			errs = append(errs, fmt.Errorf("sources.salesforce.object: %q is not a Salesforce API name", sf.Object))
		}
		for i, f := range sf.BodyFields {
			if !apiName.MatchString(f) {
				errs = append(errs, fmt.Errorf("sources.salesforce.body_fields[%d]: %q is not a Salesforce API name", i, f))
			}
		}
		for i, l := range sf.Languages {
			if !regexp.MustCompile(`^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,4})?$`).MatchString(l) {
				errs = append(errs, fmt.Errorf("sources.salesforce.languages[%d]: %q is not a language code like en_US or de", i, l))
			}
		}
		if u := sf.ArticleURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			errs = append(errs, fmt.Errorf("sources.salesforce.article_url: must be an http(s) URL template"))
		}
	}
	if c.SyncInterval < 0 {
		errs = append(errs, fmt.Errorf("sync_interval: must not be negative"))
	} else if c.SyncInterval > 0 && c.SyncInterval < 10*time.Second {
		errs = append(errs, fmt.Errorf("sync_interval: %s is too short (minimum 10s)", c.SyncInterval))
	}
	if c.TopK < 1 || c.TopK > 20 {
		errs = append(errs, fmt.Errorf("top_k: %d must be between 1 and 20", c.TopK))
	}
	if c.Threshold < 0 || c.Threshold > 1 {
		errs = append(errs, fmt.Errorf("threshold: %g must be between 0 and 1", c.Threshold))
	}
	if c.GapClusterThreshold <= 0 || c.GapClusterThreshold > 1 {
		errs = append(errs, fmt.Errorf("gap_cluster_threshold: %g must be in (0, 1]", c.GapClusterThreshold))
	}
	if c.Hybrid.Enabled && strings.TrimSpace(c.Hybrid.Model) == "" {
		errs = append(errs, fmt.Errorf("hybrid.model: must be set when hybrid.enabled"))
	}
	if c.Hybrid.RRFK < 1 {
		errs = append(errs, fmt.Errorf("hybrid.rrf_k: must be at least 1"))
	}
	if langBase(c.DefaultLanguage) == "" {
		errs = append(errs, fmt.Errorf("default_language: %q is not a language code", c.DefaultLanguage))
	}
	return errs
}
