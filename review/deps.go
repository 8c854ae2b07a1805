package review

import (
	"context"
	"io"
	"time"
)

// Deps are the parts of the UI that belong to other packages. The pipeline
// wires real implementations; every field may be nil, and the UI then shows
// the feature as unavailable instead of failing.
type Deps struct {
	// Corrector applies a manager's correction to the message and to Salesforce.
	Corrector Corrector
	// ContactPicker links the contact a manager chose for an ambiguous match.
	ContactPicker ContactPicker
	// ArticleRejecter records rejected article suggestions (a knowledge-gap signal).
	ArticleRejecter ArticleRejecter
	// CaseActions closes and reopens the message's case.
	CaseActions CaseActions
	// GapReporter provides the knowledge-gap report.
	GapReporter GapReporter
	// AuditReader reads the Salesforce write audit trail (package cases).
	AuditReader AuditReader
	// APIUsage reports the Salesforce API allocation.
	APIUsage APIUsage
	// Retrainer retrains the offline classifier from manager labels.
	Retrainer Retrainer
	// Categories is the configured taxonomy offered in the correction form
	// (default: classify.DefaultTaxonomy names).
	Categories []string
	// SalesforceURL returns the Lightning URL of a case record ("" when unknown).
	SalesforceURL func(caseID string) string
}

// Correction is a manager's verdict on a message's classification. All
// fields are the new values (the form is pre-filled with the current ones).
type Correction struct {
	MessageID        int64  `json:"message_id"`
	Category         string `json:"category"`
	Priority         string `json:"priority"`
	Escalate         bool   `json:"escalate"`
	EscalationReason string `json:"escalation_reason,omitempty"`
	Note             string `json:"note,omitempty"`
	// Actor is the signed-in user's name, for the audit trail.
	Actor string `json:"actor"`
}

// Corrector writes a correction to the message's case through the pipeline
// (field map, audit trail) and stores it as a labelled example.
type Corrector interface {
	Correct(ctx context.Context, c Correction) error
}

// ContactPicker links a message (and its case) to the contact a manager chose.
type ContactPicker interface {
	PickContact(ctx context.Context, messageID int64, contactID, actor string) error
}

// ArticleRejecter records that a manager rejected a message's suggested articles.
type ArticleRejecter interface {
	RejectArticles(ctx context.Context, messageID int64, articleIDs []string, actor string) error
}

// CaseActions changes the status of a message's case in Salesforce.
type CaseActions interface {
	CloseCase(ctx context.Context, messageID int64, reason, actor string) error
	ReopenCase(ctx context.Context, messageID int64, actor string) error
}

// GapTopic is one row of the knowledge-gap report: similar emails the
// knowledge base could not answer.
type GapTopic struct {
	Topic          string         `json:"topic"` // representative subject or key terms
	Messages       int            `json:"messages"`
	Growth         float64        `json:"growth"` // change against the previous period, e.g. 0.5 = +50%
	KeyTerms       []string       `json:"key_terms,omitempty"`
	Categories     map[string]int `json:"categories,omitempty"`
	Examples       []GapExample   `json:"examples,omitempty"`
	ClosestArticle string         `json:"closest_article,omitempty"`
	ClosestScore   float64        `json:"closest_score"`
}

// GapExample is one email of a gap topic.
type GapExample struct {
	MessageID int64  `json:"message_id"`
	Subject   string `json:"subject"`
}

// RejectedArticle is an article agents rejected as a suggestion.
type RejectedArticle struct {
	ArticleID  string    `json:"article_id"`
	Title      string    `json:"title"`
	Rejections int       `json:"rejections"`
	LastAt     time.Time `json:"last_at"`
	MessageIDs []int64   `json:"message_ids,omitempty"`
}

// GapReporter is the knowledge package's gap report.
type GapReporter interface {
	GapTopics(ctx context.Context, since time.Time) ([]GapTopic, error)
	RejectedArticles(ctx context.Context, since time.Time) ([]RejectedArticle, error)
	// WriteGapCSV writes the report as CSV (the same as `triage report gaps --format csv`).
	WriteGapCSV(ctx context.Context, w io.Writer, since time.Time) error
}

// AuditQuery selects Salesforce audit entries, newest first.
type AuditQuery struct {
	Since     time.Time
	MessageID int64
	Limit     int
}

// AuditEntry is one Salesforce write from the cases audit trail.
type AuditEntry struct {
	At        time.Time `json:"at"`
	MessageID int64     `json:"message_id,omitempty"`
	Actor     string    `json:"actor"`  // agent identity or UI user
	Action    string    `json:"action"` // e.g. case_upsert, correction
	Object    string    `json:"object,omitempty"`
	RecordID  string    `json:"record_id,omitempty"`
	Fields    string    `json:"fields,omitempty"` // PII-redacted field=value list
	Result    string    `json:"result"`
	DryRun    bool      `json:"dry_run,omitempty"`
}

// AuditReader reads the Salesforce audit trail.
type AuditReader interface {
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// APIUsage reports the org's daily API requests used and allowed (from the
// Sforce-Limit-Info header or /limits).
type APIUsage interface {
	APIUsage(ctx context.Context) (used, max int64, err error)
}

// Retrainer retrains the offline classifier from the labels in the store.
type Retrainer interface {
	Retrain(ctx context.Context) error
}
