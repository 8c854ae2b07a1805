package knowledge

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
)

const demoSeed = "../salesforce/sfsim/seed/demo/knowledge.json"

// seedQuerier serves the demo seed's published latest versions, standing in for
// Salesforce where a test is about retrieval, not the sync protocol.
type seedQuerier struct {
	recs    []map[string]any
	queries []string
}

func loadSeed(t testing.TB) *seedQuerier {
	t.Helper()
	b, err := os.ReadFile(demoSeed)
	if err != nil {
		t.Fatal(err)
	}
	var seed struct {
		Kav []map[string]any `json:"Knowledge__kav"`
	}
	if err := json.Unmarshal(b, &seed); err != nil {
		t.Fatal(err)
	}
	return &seedQuerier{recs: seed.Kav}
}

func (s *seedQuerier) QueryEach(ctx context.Context, soql string, fn func(json.RawMessage) error) error {
	s.queries = append(s.queries, soql)
	for _, r := range s.recs {
		if r["PublishStatus"] != "Online" || r["IsLatestVersion"] != true {
			continue
		}
		b, _ := json.Marshal(r)
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func demoKnowledge(t testing.TB) *Knowledge {
	t.Helper()
	st := openStore(t)
	var cfg Config
	cfg.Sources.Salesforce.Enabled = true
	k := New(cfg, st, WithSalesforce(loadSeed(t)), WithNow(fixedNow))
	if _, err := k.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

func readRows(t testing.TB, path string) []EvalRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, "offtopic.jsonl") {
		var rows []EvalRow
		dec := json.NewDecoder(f)
		for dec.More() {
			var r EvalRow
			if err := dec.Decode(&r); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r)
		}
		return rows
	}
	rows, err := ReadEvalRows(f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestEvalDemo measures retrieval on the documented query set. The floors sit
// just under the measured values (see testdata/README.md) so a regression fails.
func TestEvalDemo(t *testing.T) {
	k := demoKnowledge(t)
	rows := readRows(t, "testdata/queries.jsonl")
	if len(rows) < 60 {
		t.Fatalf("query set has %d rows, want ≥ 60", len(rows))
	}
	rep, err := Evaluate(context.Background(), k, rows, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("n=%d recall@1=%.3f recall@5=%.3f mrr=%.3f", rep.N, rep.RecallAt1, rep.RecallAt5, rep.MRR)
	for _, m := range rep.Misses {
		ms, _ := k.Search(context.Background(), Query{Subject: m.Query, Language: m.Language, TopK: 3})
		var got []string
		for _, x := range ms {
			got = append(got, x.URLName)
		}
		t.Logf("miss: %q want %s got %v", m.Query, m.Article, got)
	}
	if rep.RecallAt5 < 0.97 || rep.MRR < 0.93 || rep.RecallAt1 < 0.90 {
		t.Errorf("quality regressed: %+v", rep)
	}
}

// TestThreshold checks the default threshold separates the labelled queries'
// correct matches from the off-topic queries' best matches.
func TestThreshold(t *testing.T) {
	k := demoKnowledge(t)
	ctx := context.Background()
	var on, off []float64
	for _, r := range readRows(t, "testdata/queries.jsonl") {
		ms, err := k.Search(ctx, Query{Subject: r.Query, Language: r.Language, TopK: 5})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if matchesRef(m, r.Article) {
				on = append(on, m.Score)
				break
			}
		}
	}
	for _, r := range readRows(t, "testdata/offtopic.jsonl") {
		ms, err := k.Search(ctx, Query{Subject: r.Query, Language: r.Language, TopK: 1})
		if err != nil {
			t.Fatal(err)
		}
		best := 0.0
		if len(ms) > 0 {
			best = ms[0].Score
		}
		t.Logf("off-topic %.3f %q → %v", best, r.Query, ms)
		off = append(off, best)
	}
	sort.Float64s(on)
	sort.Float64s(off)
	th := DefaultThreshold
	var onBelow, offAbove int
	for _, s := range on {
		if s < th {
			onBelow++
		}
	}
	for _, s := range off {
		if s >= th {
			offAbove++
		}
	}
	t.Logf("on-topic scores: min %.3f p10 %.3f median %.3f; off-topic: max %.3f median %.3f",
		on[0], on[len(on)/10], on[len(on)/2], off[len(off)-1], off[len(off)/2])
	t.Logf("threshold %.2f: %d/%d on-topic below (false gaps), %d/%d off-topic above (missed gaps)", th, onBelow, len(on), offAbove, len(off))
	for _, cand := range []float64{0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5} {
		a, b := 0, 0
		for _, s := range on {
			if s < cand {
				a++
			}
		}
		for _, s := range off {
			if s >= cand {
				b++
			}
		}
		t.Logf("  at %.2f: false gaps %d, missed gaps %d", cand, a, b)
	}
	if float64(onBelow) > 0.09*float64(len(on)) || float64(offAbove) > 0.17*float64(len(off)) {
		t.Errorf("threshold %.2f separates badly", th)
	}
}
