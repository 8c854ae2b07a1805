package classify

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Category is one entry of the taxonomy.
type Category struct {
	// Name is the value the classifier outputs (an enum value in the LLM schema).
	Name string `yaml:"name"`
	// Description tells the LLM what belongs here.
	Description string `yaml:"description"`
	// SalesforceValue is the Case picklist value written for this category
	// (defaults to Name).
	SalesforceValue string `yaml:"salesforce_value"`
}

// Thresholds are the automation levels of one field: below Suggest a value is
// only shown; from Suggest it is written as a suggestion an agent confirms;
// from Automate it is written and acted on.
type Thresholds struct {
	Suggest  float64 `yaml:"suggest"`
	Automate float64 `yaml:"automate"`
}

// Fields that have automation thresholds.
const (
	FieldCategory  = "category"
	FieldPriority  = "priority"
	FieldSentiment = "sentiment"
	FieldLanguage  = "language"
	FieldEscalate  = "escalate"
)

// AutomationFields lists the fields with thresholds, in display order.
var AutomationFields = []string{FieldCategory, FieldPriority, FieldSentiment, FieldLanguage, FieldEscalate}

// Config is the `classify` section of the config file.
type Config struct {
	// Taxonomy is the list of categories. Default: the 11 Bitext categories plus OTHER.
	Taxonomy []Category `yaml:"taxonomy"`
	// TokenBudget caps the input tokens of the email text (subject + new text). Default 1500.
	TokenBudget int `yaml:"token_budget"`
	// Redact lists the PII categories replaced by placeholders before text leaves
	// the process: card, ssn, iban, phone, secret, apikey, dob. Default: all.
	// An explicit empty list ([]) is kept as "redact nothing".
	Redact []string `yaml:"redact"`
	// RedactSalesforce applies the same redaction to text written to Salesforce. Default true.
	RedactSalesforce *bool `yaml:"redact_salesforce"`
	// Thresholds per field (category, priority, sentiment, language, escalate).
	// Defaults are conservative: category/priority suggest 0.60, automate 0.90;
	// sentiment suggest 0.50, automate 0.85; language suggest 0.50, automate 0.80;
	// escalate suggest 0.50, automate 0.95.
	Thresholds map[string]Thresholds `yaml:"thresholds"`
	// EscalateBelow: a category confidence under this escalates with reason
	// low_confidence. Default 0.35.
	EscalateBelow float64 `yaml:"escalate_below"`
	// ModelPath is the offline model file written by `triage train`. Empty: the
	// model is trained at start-up from the embedded data.
	ModelPath string `yaml:"model_path"`
	// VIPTiers are account tiers (case-insensitive) that escalate as vip_customer
	// when the email is negative or urgent. Default: platinum, enterprise, vip, strategic.
	VIPTiers []string `yaml:"vip_tiers"`
	// RepeatContactCases: this many open cases for the contact escalates as
	// repeat_contact. Default 3.
	RepeatContactCases int `yaml:"repeat_contact_cases"`
	// MaxExamples caps few-shot examples sent to the LLM. Default 6.
	MaxExamples int `yaml:"max_examples"`
}

// DefaultTaxonomy is the Bitext taxonomy (names exactly as in the data set) plus OTHER.
func DefaultTaxonomy() []Category {
	return []Category{
		{Name: "ACCOUNT", Description: "Creating, deleting, editing, switching accounts; password recovery; registration problems."},
		{Name: "CANCELLATION_FEE", Description: "Questions about fees for cancelling or terminating a contract or order."},
		{Name: "CONTACT", Description: "Wants to reach customer service or a human agent; asks for phone numbers or opening hours."},
		{Name: "DELIVERY", Description: "Delivery options and delivery periods: how and when goods arrive."},
		{Name: "FEEDBACK", Description: "Complaints about the service and reviews or feedback."},
		{Name: "INVOICE", Description: "Checking or obtaining invoices and bills."},
		{Name: "NEWSLETTER", Description: "Subscribing to or unsubscribing from the newsletter."},
		{Name: "ORDER", Description: "Placing, changing, cancelling or tracking an order."},
		{Name: "PAYMENT", Description: "Payment methods and problems making a payment."},
		{Name: "REFUND", Description: "Refund policy, getting a refund, tracking a refund."},
		{Name: "SHIPPING_ADDRESS", Description: "Setting up or changing the shipping address."},
		{Name: "OTHER", Description: "Anything that fits none of the other categories."},
	}
}

// AllRedactions are the PII categories the Redactor knows.
var AllRedactions = []string{"card", "ssn", "iban", "phone", "secret", "apikey", "dob"}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if len(c.Taxonomy) == 0 {
		c.Taxonomy = DefaultTaxonomy()
	}
	for i := range c.Taxonomy {
		if c.Taxonomy[i].SalesforceValue == "" {
			c.Taxonomy[i].SalesforceValue = c.Taxonomy[i].Name
		}
	}
	if c.TokenBudget == 0 {
		c.TokenBudget = 1500
	}
	if c.Redact == nil {
		c.Redact = slices.Clone(AllRedactions)
	}
	if c.RedactSalesforce == nil {
		t := true
		c.RedactSalesforce = &t
	}
	def := map[string]Thresholds{
		FieldCategory:  {Suggest: 0.60, Automate: 0.90},
		FieldPriority:  {Suggest: 0.60, Automate: 0.90},
		FieldSentiment: {Suggest: 0.50, Automate: 0.85},
		FieldLanguage:  {Suggest: 0.50, Automate: 0.80},
		FieldEscalate:  {Suggest: 0.50, Automate: 0.95},
	}
	if c.Thresholds == nil {
		c.Thresholds = map[string]Thresholds{}
	}
	for k, v := range def {
		if _, ok := c.Thresholds[k]; !ok {
			c.Thresholds[k] = v
		}
	}
	if c.EscalateBelow == 0 {
		c.EscalateBelow = 0.35
	}
	if c.VIPTiers == nil {
		c.VIPTiers = []string{"platinum", "enterprise", "vip", "strategic"}
	}
	if c.RepeatContactCases == 0 {
		c.RepeatContactCases = 3
	}
	if c.MaxExamples == 0 {
		c.MaxExamples = 6
	}
}

// Validate reports every problem with the section; messages start with the key path.
func (c *Config) Validate() []error {
	var errs []error
	if len(c.Taxonomy) < 2 {
		errs = append(errs, errors.New("taxonomy: needs at least two categories"))
	}
	seen := map[string]bool{}
	for i, cat := range c.Taxonomy {
		switch {
		case strings.TrimSpace(cat.Name) == "":
			errs = append(errs, fmt.Errorf("taxonomy[%d].name: must not be empty", i))
		case !validEnumName(cat.Name):
			errs = append(errs, fmt.Errorf("taxonomy[%d].name: %q must use only letters, digits, '_' and '-'", i, cat.Name))
		case seen[strings.ToUpper(cat.Name)]:
			errs = append(errs, fmt.Errorf("taxonomy[%d].name: duplicate %q", i, cat.Name))
		}
		seen[strings.ToUpper(cat.Name)] = true
	}
	if c.TokenBudget < 50 || c.TokenBudget > 100000 {
		errs = append(errs, fmt.Errorf("token_budget: %d out of range 50..100000", c.TokenBudget))
	}
	for i, r := range c.Redact {
		if !slices.Contains(AllRedactions, r) {
			errs = append(errs, fmt.Errorf("redact[%d]: %q must be one of %s", i, r, strings.Join(AllRedactions, ", ")))
		}
	}
	for k, t := range c.Thresholds {
		if !slices.Contains(AutomationFields, k) {
			errs = append(errs, fmt.Errorf("thresholds.%s: unknown field (want one of %s)", k, strings.Join(AutomationFields, ", ")))
			continue
		}
		if t.Suggest < 0 || t.Suggest > 1 || t.Automate < 0 || t.Automate > 1 {
			errs = append(errs, fmt.Errorf("thresholds.%s: suggest and automate must be in [0,1]", k))
		} else if t.Suggest > t.Automate {
			errs = append(errs, fmt.Errorf("thresholds.%s: suggest %.2f must not exceed automate %.2f", k, t.Suggest, t.Automate))
		}
	}
	if c.EscalateBelow < 0 || c.EscalateBelow > 1 {
		errs = append(errs, errors.New("escalate_below: must be in [0,1]"))
	}
	if c.RepeatContactCases < 0 {
		errs = append(errs, errors.New("repeat_contact_cases: must not be negative"))
	}
	if c.MaxExamples < 0 {
		errs = append(errs, errors.New("max_examples: must not be negative"))
	}
	return errs
}

func validEnumName(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return s != ""
}

// CategoryNames returns the taxonomy's names in order.
func (c *Config) CategoryNames() []string {
	out := make([]string, len(c.Taxonomy))
	for i, t := range c.Taxonomy {
		out[i] = t.Name
	}
	return out
}

// SalesforceValue maps a category name to its Salesforce picklist value ("" if unknown).
func (c *Config) SalesforceValue(category string) string {
	for _, t := range c.Taxonomy {
		if t.Name == category {
			return t.SalesforceValue
		}
	}
	return ""
}

// Structured output modes of LLMConfig.StructuredOutput.
const (
	StructuredAuto       = "auto"
	StructuredJSONSchema = "json_schema"
	StructuredJSONObject = "json_object"
)

// LLMConfig is the `llm` section; a nil *LLMConfig means the offline classifier.
type LLMConfig struct {
	// BaseURL of an OpenAI-compatible API, e.g. https://api.openai.com/v1 or
	// http://localhost:11434/v1 (Ollama). Default https://api.openai.com/v1.
	BaseURL string `yaml:"base_url"`
	// APIKey: use a ${ENV} reference. May be empty for local servers.
	APIKey string `yaml:"api_key"`
	// APIType: openai (default) or azure.
	APIType string `yaml:"api_type"`
	// APIVersion for Azure OpenAI (default 2024-10-21 when api_type is azure).
	APIVersion string `yaml:"api_version"`
	// Model name (deployment name on Azure). Required.
	Model string `yaml:"model"`
	// Timeout of one request. Default 60s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConcurrency of in-flight requests. Default 4.
	MaxConcurrency int `yaml:"max_concurrency"`
	// RequestsPerMinute limits the request rate. Default 60; 0 after defaults is impossible, -1 disables.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// StructuredOutput: auto (json_schema, falling back to json_object when the
	// endpoint rejects it), json_schema or json_object. Default auto.
	StructuredOutput string `yaml:"structured_output"`
	// Logprobs asks for token logprobs to derive the category confidence. Default true.
	Logprobs *bool `yaml:"logprobs"`
	// MaxRetries on 429/5xx/network errors. Default 4.
	MaxRetries int `yaml:"max_retries"`
	// MaxOutputTokens caps the answer. Default 600.
	MaxOutputTokens int `yaml:"max_output_tokens"`
	// EmbeddingsModel is optional; the knowledge package may use it.
	EmbeddingsModel string `yaml:"embeddings_model"`
}

// SetDefaults fills unset fields.
func (c *LLMConfig) SetDefaults() {
	if c.BaseURL == "" {
		c.BaseURL = "https://api.openai.com/v1"
	}
	if c.APIType == "" {
		c.APIType = "openai"
	}
	if c.APIType == "azure" && c.APIVersion == "" {
		c.APIVersion = "2024-10-21"
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = 4
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = 60
	}
	if c.StructuredOutput == "" {
		c.StructuredOutput = StructuredAuto
	}
	if c.Logprobs == nil {
		t := true
		c.Logprobs = &t
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 4
	}
	if c.MaxOutputTokens == 0 {
		c.MaxOutputTokens = 600
	}
}

// Validate reports every problem with the section; messages start with the key path.
func (c *LLMConfig) Validate() []error {
	var errs []error
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base_url: %q must be an http(s) URL", c.BaseURL))
	}
	if c.APIType != "openai" && c.APIType != "azure" {
		errs = append(errs, fmt.Errorf("api_type: %q must be one of openai, azure", c.APIType))
	}
	if strings.TrimSpace(c.Model) == "" {
		errs = append(errs, errors.New("model: must not be empty"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if c.MaxConcurrency < 1 {
		errs = append(errs, errors.New("max_concurrency: must be at least 1"))
	}
	if c.RequestsPerMinute < -1 || c.RequestsPerMinute == 0 {
		errs = append(errs, errors.New("requests_per_minute: must be positive (or -1 for no limit)"))
	}
	switch c.StructuredOutput {
	case StructuredAuto, StructuredJSONSchema, StructuredJSONObject:
	default:
		errs = append(errs, fmt.Errorf("structured_output: %q must be one of auto, json_schema, json_object", c.StructuredOutput))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, errors.New("max_retries: must not be negative"))
	}
	if c.MaxOutputTokens < 0 {
		errs = append(errs, errors.New("max_output_tokens: must not be negative"))
	}
	return errs
}
