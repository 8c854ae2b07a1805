package classify

import (
	"testing"

	"github.com/triage-dev/triage/store"
)

func TestSimilarExamplesRanksBySimilarity(t *testing.T) {
	var cfg Config
	cfg.SetDefaults()
	cfg.MaxExamples = 2
	cs := []store.Correction{ // newest first, as the store returns them
		{Subject: "Newsletter", Body: "please unsubscribe me from the newsletter", Category: "NEWSLETTER"},
		{Subject: "Invoice copy", Body: "I need a copy of invoice 4411 for my accountant", Category: "INVOICE"},
		{Subject: "Not a category", Body: "refund refund refund", Category: "NO_SUCH_CATEGORY"},
		{Subject: "Refund status", Body: "when will my refund for the returned kettle arrive", Category: "REFUND"},
		{Subject: "Password", Body: "cannot reset my password", Category: "ACCOUNT"},
	}
	got := SimilarExamples(cfg, cs, "Where is my refund?", "Hello, I returned the kettle two weeks ago and the refund has not arrived.")
	if len(got) != 2 {
		t.Fatalf("got %d examples, want 2", len(got))
	}
	if got[0].Category != "REFUND" {
		t.Errorf("most similar example is %s, want REFUND (a category outside the taxonomy must be dropped)", got[0].Category)
	}
	// With nothing in common, the order falls back to the store's (newest first).
	got = SimilarExamples(cfg, cs, "zzz", "qqq")
	if got[0].Category != "NEWSLETTER" || got[1].Category != "INVOICE" {
		t.Errorf("fallback order: %s, %s", got[0].Category, got[1].Category)
	}
}
