package review

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

func TestKnowledgeGapsAdapter(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	k := knowledge.New(knowledge.Config{}, e.st, knowledge.WithNow(e.clock.Now))
	g := KnowledgeGaps{Knowledge: k, Store: e.st}
	evil := `=HYPERLINK("http://evil.example","click")`
	for i, id := range []int64{e.ids["escalated"], e.ids["ambiguous"], e.ids["auto"]} {
		subj := "warranty for refurbished phone"
		if i == 2 {
			subj = evil
		}
		if err := e.st.PutKnowledgeGap(ctx, store.KnowledgeGap{MessageID: id, Kind: "no_match", Subject: subj, Category: "REFUND",
			Language: "en", KeyTerms: []string{"warranty", "refurbished"}, At: e.clock.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.RejectArticles(ctx, e.ids["escalated"], []string{"ka01", "ka02"}, "manager1"); err != nil {
		t.Fatal(err)
	}
	since := e.clock.Now().Add(-7 * 24 * time.Hour)
	topics, err := g.GapTopics(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, tp := range topics {
		total += tp.Messages
		for _, ex := range tp.Examples {
			if ex.Subject == "" {
				t.Errorf("example %d has no subject", ex.MessageID)
			}
		}
	}
	if len(topics) == 0 || total < 3 {
		t.Fatalf("topics: %+v", topics)
	}
	rej, err := g.RejectedArticles(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 2 || rej[0].Rejections != 1 || rej[0].MessageIDs[0] != e.ids["escalated"] {
		t.Fatalf("rejected: %+v", rej)
	}
	var buf bytes.Buffer
	if err := g.WriteGapCSV(ctx, &buf, since); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	sawEvil := false
	for _, r := range recs {
		for _, cell := range r {
			if strings.HasPrefix(cell, "=") {
				t.Fatalf("formula cell in CSV: %q", cell)
			}
			if strings.Contains(cell, "HYPERLINK") {
				sawEvil = true
				if !strings.HasPrefix(cell, "'=") {
					t.Fatalf("formula not defused: %q", cell)
				}
			}
		}
	}
	t.Logf("CSV: %d rows, hostile subject present: %v", len(recs), sawEvil)
	// Through the UI.
	e2srv, err := New(Config{}, e.st, Deps{GapReporter: g, ArticleRejecter: g}, nil, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	e.ts.Config.Handler = e2srv
	c := e.client().mustLogin("manager1")
	_, body := c.get("/gaps")
	if !strings.Contains(body, "warranty") || !strings.Contains(body, "ka01") {
		t.Fatal("gap page does not show the report")
	}
}

func TestCasesAuditAdapter(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	for i, a := range []string{"case_upsert", "email_message", "task"} {
		if err := e.st.CasesAppendAudit(ctx, nil, store.CasesAuditEntry{At: e.clock.Now().Add(time.Duration(i) * time.Minute), MessageID: e.ids["escalated"],
			Action: a, SObject: "Case", RecordID: "500000000000001AAA", Fields: json.RawMessage(`{"Type":"REFUND"}`), Result: "committed",
			IntegrationUser: "integration@example.com", Agent: "triage"}); err != nil {
			t.Fatal(err)
		}
	}
	r := CasesAudit{Store: e.st, Now: e.clock.Now}
	got, err := r.Audit(ctx, AuditQuery{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "task" || got[1].Action != "email_message" || got[0].Actor != "triage (integration@example.com)" || !strings.Contains(got[0].Fields, "REFUND") {
		t.Fatalf("audit newest first: %+v", got)
	}
	got, _ = r.Audit(ctx, AuditQuery{MessageID: e.ids["ambiguous"]})
	if len(got) != 0 {
		t.Fatalf("other message: %+v", got)
	}
}

type fakeBudget struct{ b salesforce.Budget }

func (f fakeBudget) Budget() salesforce.Budget { return f.b }

func TestSalesforceBudgetAdapter(t *testing.T) {
	e := newEnv(t, true, func(_ *Config, d *Deps) {
		d.APIUsage = SalesforceBudget{Client: fakeBudget{salesforce.Budget{Used: 120, Max: 15000}}}
	})
	c := e.client().mustLogin("viewer1")
	if _, body := c.get("/"); !strings.Contains(body, "120 of 15000 daily API requests used") {
		t.Fatal("dashboard does not show the budget")
	}
	e2 := newEnv(t, true, func(_ *Config, d *Deps) { d.APIUsage = SalesforceBudget{Client: fakeBudget{}} })
	if _, body := e2.client().mustLogin("viewer1").get("/"); !strings.Contains(body, "has not reported the API usage yet") {
		t.Fatal("unknown budget not explained")
	}
}

func TestOfflineRetrainer(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	if _, err := e.st.AddCorrection(ctx, store.Correction{MessageID: e.ids["escalated"], Subject: "refund please", Body: "I want my money back", Category: "REFUND", Actor: "m"}); err != nil {
		t.Fatal(err)
	}
	var got *classify.Model
	r := OfflineRetrainer{Config: classify.Config{}, Store: e.st, Use: func(m *classify.Model) error { got = m; return nil }}
	if err := r.Retrain(ctx); err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got.Classes) == 0 {
		t.Fatal("new model not handed over")
	}
	if b, ok, err := e.st.ModelBlob(ctx, classify.StoredModelName); err != nil || !ok || len(b) == 0 {
		t.Fatalf("model not stored: %v %v", ok, err)
	}
}
