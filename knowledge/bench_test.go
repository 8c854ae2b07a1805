package knowledge

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/store"
)

// sfID builds a well-formed 18-character Salesforce id (the case-safe suffix included).
func sfID(prefix string, seq int) string {
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	d := make([]byte, 9)
	for i := 8; i >= 0; i-- {
		d[i] = b62[seq%62]
		seq /= 62
	}
	id := prefix + "Bn0" + string(d)
	var suf [3]byte
	for c := 0; c < 3; c++ {
		m := 0
		for i := 0; i < 5; i++ {
			if ch := id[c*5+i]; ch >= 'A' && ch <= 'Z' {
				m |= 1 << i
			}
		}
		suf[c] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[m]
	}
	return id + string(suf[:])
}

// generatedArticles makes n Knowledge__kav records whose words follow a Zipf
// law over the demo knowledge base's vocabulary plus synthetic product terms,
// so posting lists have realistic lengths.
func generatedArticles(t testing.TB, n int) []map[string]any {
	t.Helper()
	seed := loadSeed(t)
	vocabSet := map[string]bool{}
	for _, r := range seed.recs {
		if r["Language"] != "en_US" {
			continue
		}
		words(StripHTML(fmt.Sprint(r["Title"], " ", r["Summary"], " ", r["Body__c"])), func(w string) { vocabSet[w] = true })
	}
	vocab := make([]string, 0, len(vocabSet)+5000)
	for w := range vocabSet {
		vocab = append(vocab, w)
	}
	sort.Strings(vocab)
	for i := range 5000 {
		vocab = append(vocab, fmt.Sprintf("widget%dx", i))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(vocab), func(i, j int) { vocab[i], vocab[j] = vocab[j], vocab[i] })
	z := rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1))
	text := func(nw int) string {
		var b strings.Builder
		for i := range nw {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocab[z.Uint64()])
		}
		return b.String()
	}
	stamp := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	out := make([]map[string]any, n)
	for i := range n {
		ts := stamp.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000+0000")
		out[i] = map[string]any{
			"Id": sfID("ka0", i+1), "KnowledgeArticleId": sfID("kA0", i+1), "Title": text(6), "UrlName": fmt.Sprintf("generated-%d", i),
			"Summary": text(16), "Body__c": "<p>" + text(120) + "</p><p>" + text(80) + "</p>", "ArticleNumber": fmt.Sprintf("%09d", 500000+i),
			"PublishStatus": "Online", "Language": "en_US", "IsLatestVersion": true, "VersionNumber": 1.0, "IsVisibleInPkb": true,
			"CreatedDate": ts, "LastModifiedDate": ts, "SystemModstamp": ts, "LastPublishedDate": ts,
		}
	}
	return out
}

var (
	bigOnce sync.Once
	bigK    *Knowledge
	bigErr  error
)

func bigIndex(b *testing.B) *Knowledge {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knowledge-bench")
		if err != nil {
			bigErr = err
			return
		}
		st, err := store.Open(context.Background(), store.Config{Path: dir + "/bench.db"})
		if err != nil {
			bigErr = err
			return
		}
		var cfg Config
		cfg.Sources.Salesforce.Enabled = true
		recs := append(generatedArticles(b, 10000), loadSeed(b).recs...)
		bigK = New(cfg, st, WithSalesforce(&seedQuerier{recs: recs}))
		_, bigErr = bigK.Sync(context.Background())
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigK
}

// BenchmarkSearch10k measures Search over 10,000 generated articles plus the
// demo base, with the documented query set; it reports p50 and p99 latency.
func BenchmarkSearch10k(b *testing.B) {
	k := bigIndex(b)
	rows := readRows(b, "testdata/queries.jsonl")
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rows[i%len(rows)]
		if r.Language == "" {
			r.Language = "en" // the pipeline passes classify's language; detection is measured apart
		}
		start := time.Now()
		if _, err := k.Search(ctx, Query{Subject: r.Query, Body: r.Query, Language: r.Language}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkSync10k measures a full sync of 10,000 articles from the emulator
// over HTTP, then an incremental sync with no change; it reports the API
// calls each used (page size 2,000, the Salesforce default).
func BenchmarkSync10k(b *testing.B) {
	ctx := context.Background()
	o := startOrg(b, "", 0)
	recs := map[string]map[string]any{}
	for _, r := range generatedArticles(b, 10000) {
		recs[r["Id"].(string)] = r
	}
	// Replace the empty org's data file with the generated one and reload it.
	data, _ := json.Marshal(map[string]any{"records": map[string]any{"Knowledge__kav": recs}, "deleted": map[string]any{}, "seq": map[string]any{}})
	if err := os.WriteFile(o.dataFile, data, 0o600); err != nil {
		b.Fatal(err)
	}
	o.restart("")
	var fullCalls, incCalls int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := openStore(b)
		var cfg Config
		cfg.Sources.Salesforce.Enabled = true
		k := New(cfg, st, WithSalesforce(o.client(b)))
		before := o.org().Stats().APICalls
		b.StartTimer()
		s, err := k.Sync(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if s.Inserted != 10000 {
			b.Fatalf("synced %+v", s)
		}
		fullCalls = o.org().Stats().APICalls - before
		before = o.org().Stats().APICalls
		if _, err := k.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		incCalls = o.org().Stats().APICalls - before
		b.StartTimer()
	}
	b.ReportMetric(float64(fullCalls), "api-calls-full")
	b.ReportMetric(float64(incCalls), "api-calls-incremental")
}
