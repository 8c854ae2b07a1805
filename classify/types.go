package classify

import (
	"context"
	"slices"
)

// Priorities, sentiments and escalation reasons are fixed enums: the LLM schema
// and validation only accept these values.
var (
	Priorities = []string{"low", "medium", "high", "urgent"}
	Sentiments = []string{"negative", "neutral", "positive"}
	// EscalationReasons is the fixed list of reasons a message goes to a human.
	EscalationReasons = []string{
		ReasonLegalThreat, ReasonChurnRisk, ReasonVIPCustomer, ReasonSafety, ReasonRepeatContact,
		ReasonAngryCustomer, ReasonLowConfidence, ReasonClassifierError, ReasonInjectionSuspected,
		ReasonSensitiveData, ReasonOther,
	}
)

// Escalation reasons.
const (
	ReasonLegalThreat        = "legal_threat"
	ReasonChurnRisk          = "churn_risk"
	ReasonVIPCustomer        = "vip_customer"
	ReasonSafety             = "safety"
	ReasonRepeatContact      = "repeat_contact"
	ReasonAngryCustomer      = "angry_customer"
	ReasonLowConfidence      = "low_confidence"
	ReasonClassifierError    = "classifier_error"
	ReasonInjectionSuspected = "injection_suspected"
	ReasonSensitiveData      = "sensitive_data"
	ReasonOther              = "other"
)

// Level is how far a field's value is trusted (Salesforce Einstein's automation levels).
type Level string

// Automation levels.
const (
	LevelShown     Level = "shown"     // displayed to a human only
	LevelSuggested Level = "suggested" // written as a suggestion an agent confirms
	LevelAutomated Level = "automated" // written and acted on
)

// AccountContext is read-only context the dedupe stage supplies.
type AccountContext struct {
	AccountName    string   `json:"account_name,omitempty"`
	Tier           string   `json:"tier,omitempty"`
	OpenCases      int      `json:"open_cases,omitempty"`
	RecentSubjects []string `json:"recent_subjects,omitempty"`
	// Records are rows of the custom objects the config allows the app to
	// read (subscriptions, devices, contracts…), field name → value.
	Records []ContextRecord `json:"records,omitempty"`
}

// ContextRecord is one related CRM record shown to the LLM as trusted context.
type ContextRecord struct {
	Object string            `json:"object"`
	Fields map[string]string `json:"fields"`
}

// Example is a labelled email (e.g. a manager's correction) used as a few-shot
// example by the LLM and as training data by the offline model.
type Example struct {
	Subject  string `json:"subject"`
	Body     string `json:"body"`
	Category string `json:"category"`
	Priority string `json:"priority,omitempty"`
}

// Input is one email to classify.
type Input struct {
	Subject string
	Body    string // the full text body; NewText is applied by the classifier
	From    string
	Context *AccountContext
	// Thread holds earlier messages of the thread, newest first.
	Thread []string
	// Examples are few-shot examples (from corrections).
	Examples []Example
}

// Flags are facts about the email the agent must know.
type Flags struct {
	// SensitiveData: the email held a payment card number or an SSN; purge it at the source.
	SensitiveData bool `json:"sensitive_data"`
	// InjectionSuspected: the email holds instruction-like text aimed at the model.
	InjectionSuspected bool `json:"injection_suspected"`
}

// Result is the classification of one email. Every string field except Summary
// and Explanation holds an enum value; those two are plain text, never interpreted.
type Result struct {
	Category  string `json:"category"` // a taxonomy name; "" when the classifier failed
	Priority  string `json:"priority"`
	Sentiment string `json:"sentiment"`
	Language  string `json:"language"` // BCP 47, "und" when unknown
	Summary   string `json:"summary"`
	Resolved  bool   `json:"resolved"`
	// Confidence is the calibrated probability that Category is right.
	Confidence float64 `json:"confidence"`
	// FieldConfidence holds a confidence per field (category, priority, sentiment, language, escalate).
	FieldConfidence  map[string]float64 `json:"field_confidence"`
	Escalate         bool               `json:"escalate"`
	EscalationReason string             `json:"escalation_reason,omitempty"`
	Explanation      string             `json:"explanation"`
	Flags            Flags              `json:"flags"`
	InputTokens      int                `json:"input_tokens"`
	Model            string             `json:"model"`
	// Automation is the automation level per field.
	Automation map[string]Level `json:"automation"`
}

// Classifier classifies one email.
type Classifier interface {
	Classify(ctx context.Context, in Input) (Result, error)
}

// applyAutomation sets Automation from FieldConfidence and the thresholds. An
// escalated message never has anything automated except the escalation itself.
func applyAutomation(r *Result, th map[string]Thresholds) {
	r.Automation = make(map[string]Level, len(AutomationFields))
	for _, f := range AutomationFields {
		c, ok := r.FieldConfidence[f]
		t := th[f]
		lvl := LevelShown
		switch {
		case !ok:
		case c >= t.Automate:
			lvl = LevelAutomated
		case c >= t.Suggest:
			lvl = LevelSuggested
		}
		if r.Escalate && f != FieldEscalate && lvl == LevelAutomated {
			lvl = LevelSuggested
		}
		if r.Category == "" && f == FieldCategory {
			lvl = LevelShown
		}
		r.Automation[f] = lvl
	}
}

// escalate records the first (most important) reason; later reasons are kept in the explanation.
func (r *Result) escalate(reason, why string) {
	if !slices.Contains(EscalationReasons, reason) {
		reason = ReasonOther
	}
	if !r.Escalate {
		r.Escalate = true
		r.EscalationReason = reason
	}
	if why != "" {
		if r.Explanation != "" {
			r.Explanation += " "
		}
		r.Explanation += why
	}
}
