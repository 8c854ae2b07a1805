package review

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/knowledge"
)

// The dedupe, knowledge and cases stages' results are decoded into those
// packages' Result types and flattened into small views for the templates;
// the raw JSON stays visible, and a result that does not decode is shown raw
// instead of failing the page.

// contactView is the dedupe stage's contact match.
type contactView struct {
	ContactID   string             `json:"contact_id,omitempty"`
	ContactName string             `json:"contact_name,omitempty"`
	AccountID   string             `json:"account_id,omitempty"`
	AccountName string             `json:"account_name,omitempty"`
	Match       string             `json:"match,omitempty"` // how it was found: email, alternate_email, domain, created…
	Why         string             `json:"why,omitempty"`
	Ambiguous   bool               `json:"ambiguous"`
	Candidates  []contactCandidate `json:"candidates,omitempty"`
	CaseID      string             `json:"case_id,omitempty"`
	Tier        string             `json:"tier,omitempty"`
	OpenCases   int                `json:"open_cases,omitempty"`
	NewContact  string             `json:"new_contact,omitempty"` // to be created by the cases stage
	IsReply     bool               `json:"is_reply,omitempty"`
	// ThreadMatchedBy says how the email was joined to an existing case.
	ThreadMatchedBy string `json:"thread_matched_by,omitempty"`
	Skip            bool   `json:"skip,omitempty"`
	Raw             string `json:"-"`
}

type contactCandidate struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
	Account string `json:"account,omitempty"`
	Why     string `json:"why,omitempty"`
}

// articleView is one suggested article of the knowledge stage.
type articleView struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	URL     string  `json:"url,omitempty"`
	Score   float64 `json:"score"`
	Snippet string  `json:"snippet,omitempty"`
}

type knowledgeView struct {
	Articles  []articleView `json:"articles"`
	Gap       bool          `json:"gap"`
	BestScore float64       `json:"best_score"`
	KeyTerms  []string      `json:"key_terms,omitempty"`
	Raw       string        `json:"-"`
}

type caseView struct {
	CaseID      string `json:"case_id,omitempty"`
	Action      string `json:"action,omitempty"` // created, updated, closed…
	DryRun      bool   `json:"dry_run,omitempty"`
	Escalated   bool   `json:"escalated,omitempty"`
	Closed      bool   `json:"closed,omitempty"`
	CloseReason string `json:"close_reason,omitempty"`
	CloseDenied string `json:"close_denied,omitempty"`
	Reopened    bool   `json:"reopened,omitempty"`
	APICalls    int    `json:"api_calls"`
	Detail      string `json:"detail,omitempty"`
	URL         string `json:"url,omitempty"`
	Raw         string `json:"-"`
}

func pretty(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// decodeContact reads the dedupe stage's result; data it cannot decode is shown raw.
func decodeContact(raw json.RawMessage) *contactView {
	v := &contactView{Raw: pretty(raw)}
	var r dedupe.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		v.Why = "unreadable dedupe result: " + err.Error()
		return v
	}
	v.ContactID, v.AccountID, v.Match, v.CaseID = r.ContactID, r.AccountID, r.ContactSource, r.CaseID
	v.Ambiguous, v.Why = r.AmbiguousContact, r.AmbiguousWhy
	if v.Why == "" {
		v.Why = r.Detail
	}
	if r.AccountContext != nil {
		v.AccountName, v.Tier, v.OpenCases = r.AccountContext.AccountName, r.AccountContext.Tier, r.AccountContext.OpenCases
	}
	if r.CreateContact != nil {
		v.NewContact = strings.TrimSpace(r.CreateContact.FirstName+" "+r.CreateContact.LastName) + " <" + r.CreateContact.Email + ">"
	}
	v.ContactName = r.SenderName
	v.IsReply, v.ThreadMatchedBy, v.Skip = r.IsReply, r.MatchedBy, r.Skip
	for _, c := range r.Candidates {
		v.Candidates = append(v.Candidates, contactCandidate{ID: c.ContactID, Name: c.Name, Email: c.Email, Account: c.AccountID, Why: c.Why})
	}
	return v
}

func decodeKnowledge(raw json.RawMessage) *knowledgeView {
	v := &knowledgeView{Raw: pretty(raw)}
	var r knowledge.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return v
	}
	for _, a := range r.Articles {
		v.Articles = append(v.Articles, articleView{ID: a.ArticleID, Title: a.Title, URL: httpURL(a.URL), Score: a.Score, Snippet: a.Snippet})
	}
	v.Gap, v.BestScore, v.KeyTerms = r.Gap, r.BestScore, r.KeyTerms
	return v
}

func decodeCase(raw json.RawMessage) *caseView {
	v := &caseView{Raw: pretty(raw)}
	var r cases.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return v
	}
	v.CaseID, v.Action, v.DryRun, v.Detail, v.APICalls = r.CaseID, r.Action, r.DryRun, r.Detail, r.APICalls
	v.Escalated, v.Closed, v.CloseReason, v.CloseDenied, v.Reopened = r.Escalated, r.Closed, r.CloseReason, r.CloseDenied, r.Reopened
	return v
}

// sortedKeys returns a map's keys in order (stable output for templates).
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// httpURL keeps only absolute http(s) links (an article URL comes from data, not from us).
func httpURL(u string) string {
	l := strings.ToLower(strings.TrimSpace(u))
	if strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
		return strings.TrimSpace(u)
	}
	return ""
}
