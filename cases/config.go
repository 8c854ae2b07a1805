package cases

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Config is the `cases` section of the config file.
type Config struct {
	// FieldMap says which Case field receives each piece of AI metadata.
	FieldMap FieldMap `yaml:"field_map"`
	// Status names the org's Case Status picklist values the app uses.
	Status StatusValues `yaml:"status"`
	// Escalation says how an escalation is written.
	Escalation EscalationConfig `yaml:"escalation"`
	// AutoAssign sets the Sforce-Auto-Assign header on the app's writes:
	// true sends TRUE (the org's active assignment rules route the case),
	// false sends FALSE (cases stay with the integration user or the Owner
	// the org defaults). Unset sends nothing: the salesforce section's
	// auto_assign, else Salesforce's own default, applies.
	AutoAssign *bool `yaml:"auto_assign"`
	// DryRun (shadow mode) records the writes the app would make and sends none.
	DryRun bool `yaml:"dry_run"`
	// AgentName is the app's identity in the audit trail and on Tasks. Default "triage".
	AgentName string `yaml:"agent_name"`
	// Close holds the rules for closing a case from a customer's reply.
	Close CloseConfig `yaml:"close"`
	// CustomObjects lists the only custom objects/fields the app may read or write.
	CustomObjects []CustomObject `yaml:"custom_objects"`
	// Truncate caps text written to Salesforce (characters). Defaults are the
	// standard fields' limits.
	Truncate TruncateConfig `yaml:"truncate"`
	// Redact applies the classifier's PII redaction to text written to
	// Salesforce and to the audit trail. Default true.
	Redact *bool `yaml:"redact"`
	// Changes controls polling Cases the app touched for human changes.
	Changes ChangesConfig `yaml:"changes"`
	// Webhook authenticates Salesforce outbound messages / Flow HTTP callouts.
	Webhook WebhookConfig `yaml:"webhook"`
	// Alerts posts dead letters and loop-breaker trips to a Slack-compatible webhook.
	Alerts AlertConfig `yaml:"alerts"`
	// Backfill controls `/composite/graph` batching of a mailbox's history.
	Backfill BackfillConfig `yaml:"backfill"`
	// Attachments says which files of an email are uploaded to its case.
	Attachments AttachmentConfig `yaml:"attachments"`
}

// FieldMap maps intents to Case field API names. An empty value means "not written".
type FieldMap struct {
	Confidence       string `yaml:"confidence"`        // default AI_Confidence__c
	Category         string `yaml:"category"`          // default AI_Category__c (or Type)
	Priority         string `yaml:"priority"`          // default Priority
	Sentiment        string `yaml:"sentiment"`         // default AI_Sentiment__c
	Language         string `yaml:"language"`          // default AI_Language__c
	Summary          string `yaml:"summary"`           // default AI_Summary__c
	EscalationReason string `yaml:"escalation_reason"` // default AI_Escalation_Reason__c
	Explanation      string `yaml:"explanation"`       // default AI_Explanation__c
	// AIPriority receives the classifier's own priority word (low..urgent). Default AI_Priority__c.
	AIPriority string `yaml:"ai_priority"`
	// ConfidencePercent writes confidence as 0–100 (a Percent field) instead of
	// 0–1 (a Number field). Default true: the shipped AI_Confidence__c is a Percent.
	ConfidencePercent *bool `yaml:"confidence_percent"`
	// ExternalID is the Case external-ID field holding the thread key. Default Triage_Key__c.
	ExternalID string `yaml:"external_id"`
	// PriorityValues maps low/medium/high/urgent to the org's Priority picklist
	// values. Default Low, Medium, High, High.
	PriorityValues map[string]string `yaml:"priority_values"`
	// CategoryValues maps classifier categories to picklist values of the
	// category field when it differs from classify.taxonomy[].salesforce_value.
	CategoryValues map[string]string `yaml:"category_values"`
}

// StatusValues are the org's Case Status picklist values for the app's states.
type StatusValues struct {
	New     string `yaml:"new"`     // default New
	Working string `yaml:"working"` // default Working
	// WaitingOnCustomer: a reply on a case in this status moves it to Working.
	// Default "" (the standard picklist has no such value; set it if the org does).
	WaitingOnCustomer string `yaml:"waiting_on_customer"`
	Escalated         string `yaml:"escalated"` // default Escalated
	Closed            string `yaml:"closed"`    // default Closed
}

// EscalationConfig says how an escalation is written.
type EscalationConfig struct {
	// SetIsEscalated sets Case.IsEscalated = true. Default true.
	SetIsEscalated *bool `yaml:"set_is_escalated"`
	// SetStatus sets Status = status.escalated. Default true.
	SetStatus *bool `yaml:"set_status"`
	// AutoAssign sends Sforce-Auto-Assign: TRUE on escalations even when
	// auto_assign is off. Default false.
	AutoAssign bool `yaml:"auto_assign"`
}

// CloseConfig holds the rules for closing a case from a reply.
type CloseConfig struct {
	// Enabled allows closing at all. Default true.
	Enabled *bool `yaml:"enabled"`
	// MinConfidence is the classifier confidence needed that the reply says
	// "resolved". Default 0: use the classify automate threshold of the category field.
	MinConfidence float64 `yaml:"min_confidence"`
	// Reason is written to the escalation-reason/explanation trail and the Task. Default "customer_confirmed_resolved".
	Reason string `yaml:"reason"`
}

// CustomObject is one custom object the app may read into the classifier's
// context and write; nothing outside these lists is selected or written.
type CustomObject struct {
	Object string `yaml:"object"`
	// Match says which record of the message the object's rows belong to:
	// contact, account or case. Default account.
	Match string `yaml:"match"`
	// MatchField is the object's field holding that record's id, e.g.
	// Account__c (Id when Object is the matched object itself). Default Account__c/Contact__c/Case__c.
	MatchField  string   `yaml:"match_field"`
	ReadFields  []string `yaml:"read_fields"`
	WriteFields []string `yaml:"write_fields"`
	// Limit caps the rows read per message. Default 5.
	Limit int `yaml:"limit"`
}

// TruncateConfig caps text written to Salesforce, in characters.
type TruncateConfig struct {
	Subject     int `yaml:"subject"`          // Case.Subject, default 255
	Description int `yaml:"description"`      // Case.Description, default 32000
	TextBody    int `yaml:"text_body"`        // EmailMessage.TextBody, default 131072
	HTMLBody    int `yaml:"html_body"`        // EmailMessage.HtmlBody, default 131072
	Headers     int `yaml:"headers"`          // EmailMessage.Headers, default 32000
	Address     int `yaml:"address"`          // To/Cc addresses, default 4000
	EmailSubj   int `yaml:"email_subject"`    // EmailMessage.Subject, default 3000
	Summary     int `yaml:"summary"`          // summary/explanation fields, default 32768
	Short       int `yaml:"short"`            // short text AI fields, default 255
	TaskBody    int `yaml:"task_description"` // Task.Description, default 32000
}

// ChangesConfig controls polling for human changes to the app's cases.
type ChangesConfig struct {
	// PollInterval between polls by SystemModstamp; 0 disables. Default 5m.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// WebhookConfig authenticates inbound Salesforce callouts.
type WebhookConfig struct {
	// Secret is the shared secret (use ${ENV}); empty disables the endpoint.
	Secret string `yaml:"secret"`
}

// AlertConfig is the dead-letter alert webhook.
type AlertConfig struct {
	// URL of a Slack-compatible incoming webhook; empty disables alerts.
	URL string `yaml:"url"`
	// MinInterval between two posts; alerts in between are counted and
	// summarised in the next post. Default 1m.
	MinInterval time.Duration `yaml:"min_interval"`
}

// BackfillConfig controls batching of backfills into /composite/graph.
type BackfillConfig struct {
	// BatchSize is the number of emails (graphs) per request. Default 50.
	BatchSize int `yaml:"batch_size"`
	// MaxNodes per request (Salesforce allows 500). Default 500.
	MaxNodes int `yaml:"max_nodes"`
}

func boolp(b bool) *bool { return &b }

func defi0(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

// IsRedact reports whether text written to Salesforce is PII-redacted.
func (c *Config) IsRedact() bool { return c.Redact == nil || *c.Redact }

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	fm := &c.FieldMap
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&fm.Confidence, "AI_Confidence__c")
	def(&fm.Category, "AI_Category__c")
	def(&fm.Priority, "Priority")
	def(&fm.Sentiment, "AI_Sentiment__c")
	def(&fm.Language, "AI_Language__c")
	def(&fm.Summary, "AI_Summary__c")
	def(&fm.EscalationReason, "AI_Escalation_Reason__c")
	def(&fm.Explanation, "AI_Explanation__c")
	def(&fm.AIPriority, "AI_Priority__c")
	def(&fm.ExternalID, "Triage_Key__c")
	if fm.ConfidencePercent == nil {
		fm.ConfidencePercent = boolp(true)
	}
	if fm.PriorityValues == nil {
		fm.PriorityValues = map[string]string{}
	}
	for k, v := range map[string]string{"low": "Low", "medium": "Medium", "high": "High", "urgent": "High"} {
		if _, ok := fm.PriorityValues[k]; !ok {
			fm.PriorityValues[k] = v
		}
	}
	def(&c.Status.New, "New")
	def(&c.Status.Working, "Working")
	def(&c.Status.Escalated, "Escalated")
	def(&c.Status.Closed, "Closed")
	if c.Escalation.SetIsEscalated == nil {
		c.Escalation.SetIsEscalated = boolp(true)
	}
	if c.Escalation.SetStatus == nil {
		c.Escalation.SetStatus = boolp(true)
	}
	for i := range c.CustomObjects {
		o := &c.CustomObjects[i]
		def(&o.Match, "account")
		def(&o.MatchField, strings.ToUpper(o.Match[:1])+o.Match[1:]+"__c")
		defi0(&o.Limit, 5)
	}
	def(&c.AgentName, "triage")
	if c.Close.Enabled == nil {
		c.Close.Enabled = boolp(true)
	}
	def(&c.Close.Reason, "customer_confirmed_resolved")
	t := &c.Truncate
	defi := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defi(&t.Subject, 255)
	defi(&t.Description, 32000)
	defi(&t.TextBody, 131072)
	defi(&t.HTMLBody, 131072)
	defi(&t.Headers, 32000)
	defi(&t.Address, 4000)
	defi(&t.EmailSubj, 3000)
	defi(&t.Summary, 32768)
	defi(&t.Short, 255)
	defi(&t.TaskBody, 32000)
	if c.Redact == nil {
		c.Redact = boolp(true)
	}
	if c.Changes.PollInterval == 0 {
		c.Changes.PollInterval = 5 * time.Minute
	}
	if c.Alerts.MinInterval == 0 {
		c.Alerts.MinInterval = time.Minute
	}
	defi(&c.Backfill.BatchSize, 50)
	defi(&c.Backfill.MaxNodes, 500)
	c.Attachments.SetDefaults()
}

var apiName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Validate reports every problem with the section; messages start with the key path.
func (c *Config) Validate() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, f := range c.FieldMap.intents() {
		if f.field != "" && !apiName.MatchString(f.field) {
			add("field_map.%s: %q is not a valid field API name", f.intent, f.field)
		}
	}
	if c.FieldMap.ExternalID == "" {
		add("field_map.external_id: must be set (cases are upserted by it)")
	}
	for _, k := range []string{"low", "medium", "high", "urgent"} {
		if c.FieldMap.Priority != "" && strings.TrimSpace(c.FieldMap.PriorityValues[k]) == "" {
			add("field_map.priority_values.%s: must not be empty", k)
		}
	}
	for k := range c.FieldMap.PriorityValues {
		if !slices.Contains([]string{"low", "medium", "high", "urgent"}, k) {
			add("field_map.priority_values.%s: unknown priority (want low, medium, high, urgent)", k)
		}
	}
	for _, s := range []struct{ key, v string }{{"new", c.Status.New}, {"working", c.Status.Working}, {"escalated", c.Status.Escalated}, {"closed", c.Status.Closed}} {
		if strings.TrimSpace(s.v) == "" {
			add("status.%s: must not be empty", s.key)
		}
	}
	if c.Escalation.SetIsEscalated != nil && c.Escalation.SetStatus != nil && !*c.Escalation.SetIsEscalated && !*c.Escalation.SetStatus {
		add("escalation: set_is_escalated and set_status are both false; an escalation would write nothing")
	}
	if strings.TrimSpace(c.AgentName) == "" {
		add("agent_name: must not be empty")
	}
	if c.Close.MinConfidence < 0 || c.Close.MinConfidence > 1 {
		add("close.min_confidence: %v must be in [0,1]", c.Close.MinConfidence)
	}
	seen := map[string]int{}
	for i, o := range c.CustomObjects {
		p := fmt.Sprintf("custom_objects[%d]", i)
		if !apiName.MatchString(o.Object) {
			add("%s.object: %q is not a valid object API name", p, o.Object)
		} else if j, dup := seen[strings.ToLower(o.Object)]; dup {
			add("%s.object: %q is already listed at custom_objects[%d]", p, o.Object, j)
		} else {
			seen[strings.ToLower(o.Object)] = i
		}
		if !slices.Contains([]string{"contact", "account", "case"}, o.Match) {
			add("%s.match: %q must be one of contact, account, case", p, o.Match)
		}
		if o.MatchField != "" && !apiName.MatchString(o.MatchField) {
			add("%s.match_field: %q is not a valid field API name", p, o.MatchField)
		}
		if o.Limit < 1 || o.Limit > 200 {
			add("%s.limit: %d out of range 1..200", p, o.Limit)
		}
		if len(o.ReadFields) == 0 && len(o.WriteFields) == 0 {
			add("%s: lists no read_fields or write_fields", p)
		}
		for j, f := range o.ReadFields {
			if !apiName.MatchString(f) {
				add("%s.read_fields[%d]: %q is not a valid field API name", p, j, f)
			}
		}
		for j, f := range o.WriteFields {
			if !apiName.MatchString(f) {
				add("%s.write_fields[%d]: %q is not a valid field API name", p, j, f)
			}
		}
	}
	for _, t := range []struct {
		key    string
		v, max int
	}{
		{"subject", c.Truncate.Subject, 255}, {"description", c.Truncate.Description, 32000},
		{"text_body", c.Truncate.TextBody, 131072}, {"html_body", c.Truncate.HTMLBody, 131072},
		{"headers", c.Truncate.Headers, 32000}, {"address", c.Truncate.Address, 4000},
		{"email_subject", c.Truncate.EmailSubj, 3000}, {"summary", c.Truncate.Summary, 131072},
		{"short", c.Truncate.Short, 255}, {"task_description", c.Truncate.TaskBody, 32000},
	} {
		if t.v < 1 || t.v > t.max {
			add("truncate.%s: %d out of range 1..%d", t.key, t.v, t.max)
		}
	}
	if c.Changes.PollInterval < 0 || (c.Changes.PollInterval > 0 && c.Changes.PollInterval < time.Second) {
		add("changes.poll_interval: %s must be 0 (off) or at least 1s", c.Changes.PollInterval)
	}
	if s := c.Webhook.Secret; s != "" && len(s) < 16 {
		add("webhook.secret: must be at least 16 characters")
	}
	if c.Alerts.URL != "" {
		u, err := url.Parse(c.Alerts.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("alerts.url: must be an http(s) URL")
		}
	}
	if c.Alerts.MinInterval < 0 {
		add("alerts.min_interval: must not be negative")
	}
	if c.Backfill.MaxNodes < 5 || c.Backfill.MaxNodes > 500 {
		add("backfill.max_nodes: %d out of range 5..500", c.Backfill.MaxNodes)
	}
	if c.Backfill.BatchSize < 1 || c.Backfill.BatchSize > 75 {
		// Salesforce allows at most 75 graphs per /composite/graph request.
		add("backfill.batch_size: %d out of range 1..75", c.Backfill.BatchSize)
	}
	for _, e := range c.Attachments.Validate() {
		add("attachments.%w", e)
	}
	return errs
}

type intentField struct{ intent, field string }

func (m *FieldMap) intents() []intentField {
	return []intentField{
		{"confidence", m.Confidence}, {"category", m.Category}, {"priority", m.Priority},
		{"sentiment", m.Sentiment}, {"language", m.Language}, {"summary", m.Summary},
		{"escalation_reason", m.EscalationReason}, {"explanation", m.Explanation},
		{"ai_priority", m.AIPriority}, {"external_id", m.ExternalID},
	}
}

// String redacts the secret so a printed config never shows it.
func (w WebhookConfig) String() string {
	if w.Secret == "" {
		return "{secret: unset}"
	}
	return "{secret: [redacted]}"
}

// LogValue redacts the secret in slog output.
func (w WebhookConfig) LogValue() slog.Value { return slog.StringValue(w.String()) }

// String redacts the webhook URL (Slack-style URLs carry their token in the path).
func (a AlertConfig) String() string {
	u := "unset"
	if a.URL != "" {
		u = "[redacted]"
		if p, err := url.Parse(a.URL); err == nil {
			u = p.Scheme + "://" + p.Host + "/[redacted]"
		}
	}
	return fmt.Sprintf("{url: %s, min_interval: %s}", u, a.MinInterval)
}

// LogValue redacts the URL in slog output.
func (a AlertConfig) LogValue() slog.Value { return slog.StringValue(a.String()) }
