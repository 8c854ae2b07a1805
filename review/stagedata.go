package review

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// The dedupe, knowledge and cases stages' results are read tolerantly: those
// packages own their JSON, so the UI looks for the field names they use (and
// a few spellings), shows what it recognises and keeps the rest visible as
// raw data instead of failing on a change.

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
	Raw         string             `json:"-"`
}

type contactCandidate struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
	Account string `json:"account,omitempty"`
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
	Raw       string        `json:"-"`
}

type caseView struct {
	CaseID     string `json:"case_id,omitempty"`
	CaseNumber string `json:"case_number,omitempty"`
	Status     string `json:"status,omitempty"`
	Action     string `json:"action,omitempty"` // created, updated, closed…
	DryRun     bool   `json:"dry_run,omitempty"`
	URL        string `json:"url,omitempty"`
	Raw        string `json:"-"`
}

type obj map[string]any

func (o obj) str(keys ...string) string {
	for _, k := range keys {
		switch v := o[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return fmt.Sprint(v)
		}
	}
	return ""
}

func (o obj) num(keys ...string) float64 {
	for _, k := range keys {
		if v, ok := o[k].(float64); ok {
			return v
		}
	}
	return 0
}

func (o obj) boolean(keys ...string) bool {
	for _, k := range keys {
		if v, ok := o[k].(bool); ok {
			return v
		}
	}
	return false
}

func (o obj) obj(keys ...string) obj {
	for _, k := range keys {
		if v, ok := o[k].(map[string]any); ok {
			return v
		}
	}
	return nil
}

func (o obj) list(keys ...string) []obj {
	for _, k := range keys {
		if v, ok := o[k].([]any); ok {
			var out []obj
			for _, e := range v {
				if m, ok := e.(map[string]any); ok {
					out = append(out, m)
				} else if s, ok := e.(string); ok {
					out = append(out, obj{"id": s})
				}
			}
			return out
		}
	}
	return nil
}

func (o obj) strings(keys ...string) []string {
	for _, k := range keys {
		if v, ok := o[k].([]any); ok {
			var out []string
			for _, e := range v {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return nil
}

func pretty(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func decodeContact(raw json.RawMessage) *contactView {
	var o obj
	if json.Unmarshal(raw, &o) != nil {
		return &contactView{Raw: string(raw)}
	}
	v := &contactView{Raw: pretty(raw)}
	c := o.obj("contact", "Contact")
	if c == nil {
		c = o
	}
	v.ContactID = c.str("contact_id", "id", "ContactId", "Id", "contactId")
	v.ContactName = c.str("contact_name", "name", "Name")
	v.AccountID = c.str("account_id", "AccountId", "accountId")
	v.AccountName = c.str("account_name", "account", "AccountName")
	v.Match = o.str("match", "match_kind", "method", "how", "resolution")
	if v.Match == "" {
		v.Match = c.str("match", "match_kind", "method", "how", "source")
	}
	v.Why = o.str("why", "explanation", "reason", "detail", "contact_reason")
	if v.Why == "" {
		v.Why = c.str("why", "explanation", "reason")
	}
	v.Ambiguous = o.boolean("ambiguous", "ambiguous_contact") || c.boolean("ambiguous")
	for _, f := range o.strings("flags") {
		if f == "ambiguous_contact" {
			v.Ambiguous = true
		}
	}
	if fl := o.obj("flags"); fl != nil && fl.boolean("ambiguous_contact", "ambiguous") {
		v.Ambiguous = true
	}
	for _, cand := range append(o.list("candidates", "contact_candidates", "Candidates"), c.list("candidates")...) {
		v.Candidates = append(v.Candidates, contactCandidate{
			ID:      cand.str("id", "contact_id", "Id", "ContactId"),
			Name:    cand.str("name", "Name", "contact_name"),
			Email:   cand.str("email", "Email"),
			Account: cand.str("account", "account_name", "AccountName"),
		})
	}
	v.CaseID = o.str("case_id", "CaseId", "existing_case_id")
	return v
}

func decodeKnowledge(raw json.RawMessage) *knowledgeView {
	var o obj
	if json.Unmarshal(raw, &o) != nil {
		return &knowledgeView{Raw: string(raw)}
	}
	v := &knowledgeView{Raw: pretty(raw)}
	for _, a := range o.list("articles", "suggestions", "results", "Articles") {
		if inner := a.obj("article", "Article"); inner != nil {
			for k, val := range inner {
				if _, ok := a[k]; !ok {
					a[k] = val
				}
			}
		}
		v.Articles = append(v.Articles, articleView{
			ID:      a.str("article_id", "id", "ID", "knowledge_article_id", "key"),
			Title:   a.str("title", "Title"),
			URL:     httpURL(a.str("url", "URL")),
			Score:   a.num("score", "Score", "relevance"),
			Snippet: a.str("snippet", "Snippet", "summary"),
		})
	}
	v.Gap = o.boolean("gap", "knowledge_gap", "is_gap")
	v.BestScore = o.num("best_score", "top_score")
	if v.BestScore == 0 && len(v.Articles) > 0 {
		v.BestScore = v.Articles[0].Score
	}
	return v
}

func decodeCase(raw json.RawMessage) *caseView {
	var o obj
	if json.Unmarshal(raw, &o) != nil {
		return &caseView{Raw: string(raw)}
	}
	v := &caseView{Raw: pretty(raw)}
	c := o.obj("case", "Case")
	if c == nil {
		c = o
	}
	v.CaseID = c.str("case_id", "CaseId", "id", "Id", "caseId")
	v.CaseNumber = c.str("case_number", "CaseNumber")
	v.Status = c.str("status", "Status")
	v.Action = o.str("action", "effect", "kind", "operation")
	v.DryRun = o.boolean("dry_run", "dryRun", "shadow")
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
