package knowledge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/triage-dev/triage/store"
)

// BM25 column weights: a term in the title counts ten times one in the body,
// one in the summary four times.
var columnWeights = [3]float64{10, 4, 1}

// Weights of a key term found in each field, for the normalised score.
const (
	fieldTitle   = 1.0
	fieldSummary = 0.8
	fieldBody    = 0.5
	// bodyOnlyFactor scales the score of an article matched in its body alone.
	bodyOnlyFactor = 0.7
)

// maxQueryTerms bounds the query: the strongest key terms carry the topic,
// the long tail of an email only adds noise and latency.
const maxQueryTerms = 8

// unknownTermWeight scales a key term the index does not know: it counts
// against the score (a topic the base lacks) but at half weight, since names
// and typos are unknown too.
const unknownTermWeight = 0.5

// idfPower damps IDF in key-term weights: with full IDF a rare incidental
// word (a product name, a weekday) outweighs the topic word an email repeats.
const idfPower = 0.5

// maxMatchTerms bounds the FTS5 query, whose cost grows with every posting list.
const maxMatchTerms = 8

// Knowledge is the article index and the knowledge stage.
type Knowledge struct {
	cfg Config
	st  *store.Store
	sf  Querier
	emb Embedder
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	vectors  map[int64][]float32 // embedding cache, nil until loaded
	vecModel string
}

// Option configures New.
type Option func(*Knowledge)

// WithSalesforce sets the client Sync reads Knowledge articles with.
func WithSalesforce(q Querier) Option { return func(k *Knowledge) { k.sf = q } }

// WithEmbedder turns on hybrid ranking (when cfg.Hybrid.Enabled).
func WithEmbedder(e Embedder) Option { return func(k *Knowledge) { k.emb = e } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(k *Knowledge) { k.log = l } }

// WithNow injects the clock.
func WithNow(now func() time.Time) Option { return func(k *Knowledge) { k.now = now } }

// New returns the knowledge stage over st. cfg gets its defaults applied.
func New(cfg Config, st *store.Store, opts ...Option) *Knowledge {
	cfg.SetDefaults()
	k := &Knowledge{cfg: cfg, st: st, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Config returns the effective configuration.
func (k *Knowledge) Config() Config { return k.cfg }

// Query is what an email asks of the knowledge base.
type Query struct {
	Subject  string
	Body     string // the email's cleaned new text (quotes and signature removed)
	Language string // e.g. en, de_DE; detected when empty
	Category string
	TopK     int // 0: the configured top_k
}

// Match is one suggested article.
type Match struct {
	ArticleID          string  `json:"article_id"`
	KnowledgeArticleID string  `json:"knowledge_article_id,omitempty"`
	ArticleNumber      string  `json:"article_number,omitempty"`
	Title              string  `json:"title"`
	URLName            string  `json:"url_name,omitempty"`
	URL                string  `json:"url,omitempty"`
	Language           string  `json:"language"`
	Source             string  `json:"source"`
	Version            int     `json:"version,omitempty"`
	Score              float64 `json:"score"` // normalised relevance 0..1
	Snippet            string  `json:"snippet,omitempty"`
}

// Result is the knowledge stage's output for a message (stage data "knowledge").
type Result struct {
	Articles  []Match  `json:"articles"`
	Gap       bool     `json:"gap"`
	KeyTerms  []string `json:"key_terms"`
	BestScore float64  `json:"best_score"`
	Language  string   `json:"language,omitempty"`
	Category  string   `json:"category,omitempty"`
}

// qterm is one analysed query term.
type qterm struct {
	term    string
	surface string  // most frequent original word, for people
	tf      float64 // subject counts double
	df      int
	weight  float64 // tf × idf
}

type searched struct {
	matches []Match
	terms   []qterm // of the primary language
	lang    string
}

// detectLanguage picks the query language: the given tag, else a confident
// guess from the text, else the default.
func (k *Knowledge) detectLanguage(tag, text string) string {
	if l := langBase(tag); l != "" {
		return l
	}
	return detect(text, k.cfg.DefaultLanguage)
}

// Search ranks articles for a query, best first. Matches in the query's
// language come first; translations of the same article are collapsed.
func (k *Knowledge) Search(ctx context.Context, q Query) ([]Match, error) {
	r, err := k.search(ctx, q)
	return r.matches, err
}

func (k *Knowledge) search(ctx context.Context, q Query) (searched, error) {
	topK := q.TopK
	if topK <= 0 {
		topK = k.cfg.TopK
	}
	body := q.Body
	if len(body) > 8000 { // the topic is in the first screens of an email
		body = body[:8000]
	}
	lang := k.detectLanguage(q.Language, q.Subject+"\n"+body)
	langs := []string{lang}
	if def := langBase(k.cfg.DefaultLanguage); def != lang {
		langs = append(langs, def)
	}
	limit := topK*2 + 4
	type cand struct {
		a       store.KnowledgeArticle
		cov     float64
		primary bool
		rank    int
		terms   []qterm
	}
	var out searched
	out.lang = lang
	var cands []cand
	n, err := k.stats(ctx)
	if err != nil {
		return out, err
	}
	seenID := map[int64]bool{}
	for i, l := range langs {
		an := newAnalyzer(l)
		terms, err := k.queryTerms(ctx, an, q.Subject, body, n)
		if err != nil {
			return out, err
		}
		if i == 0 {
			out.terms = terms
		}
		match := ftsQuery(terms, n)
		if match == "" {
			continue
		}
		hits, err := k.st.SearchKnowledge(ctx, match, columnWeights, limit)
		if err != nil {
			return out, fmt.Errorf("knowledge: search: %w", err)
		}
		ids := make([]int64, len(hits))
		for j, h := range hits {
			ids[j] = h.ID
		}
		arts, err := k.st.KnowledgeArticles(ctx, ids)
		if err != nil {
			return out, fmt.Errorf("knowledge: search: %w", err)
		}
		for j, h := range hits {
			a, ok := arts[h.ID]
			if !ok || seenID[h.ID] {
				continue // deleted between the two reads, or found by the other language's query
			}
			seenID[h.ID] = true
			cands = append(cands, cand{a: a, cov: coverage(an, a, terms), primary: langBase(a.Language) == lang, rank: j, terms: terms})
		}
	}
	// Primary-language articles that pass the threshold keep their BM25 order
	// and come first; everything else follows by normalised score.
	sort.SliceStable(cands, func(i, j int) bool {
		ci, cj := cands[i], cands[j]
		gi := ci.primary && ci.cov >= k.cfg.Threshold
		gj := cj.primary && cj.cov >= k.cfg.Threshold
		if gi != gj {
			return gi
		}
		if gi {
			return ci.rank < cj.rank
		}
		return ci.cov > cj.cov
	})
	if k.hybridOn() {
		// Reciprocal-rank fusion of the lexical order with embedding similarity.
		ids, err := k.semanticRank(ctx, q.Subject+"\n"+body, limit)
		if err != nil {
			k.log.Warn("hybrid ranking unavailable, using BM25 alone", "err", err)
		} else {
			rrf := map[int64]float64{}
			kk := float64(k.cfg.Hybrid.RRFK)
			have := map[int64]bool{}
			for i, c := range cands {
				rrf[c.a.ID] += 1 / (kk + float64(i+1))
				have[c.a.ID] = true
			}
			var extra []int64
			for i, id := range ids {
				rrf[id] += 1 / (kk + float64(i+1))
				if !have[id] {
					extra = append(extra, id)
				}
			}
			arts, err := k.st.KnowledgeArticles(ctx, extra)
			if err != nil {
				return out, fmt.Errorf("knowledge: search: %w", err)
			}
			an := newAnalyzer(lang)
			for _, id := range extra {
				if a, ok := arts[id]; ok {
					cands = append(cands, cand{a: a, cov: coverage(an, a, out.terms), terms: out.terms, rank: len(cands)})
				}
			}
			sort.SliceStable(cands, func(i, j int) bool { return rrf[cands[i].a.ID] > rrf[cands[j].a.ID] })
		}
	}
	seen := map[string]bool{}
	for _, c := range cands {
		key := c.a.KnowledgeArticleID
		if key == "" {
			key = c.a.Source + "\x00" + c.a.Key
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out.matches = append(out.matches, Match{
			ArticleID: c.a.ArticleID, KnowledgeArticleID: c.a.KnowledgeArticleID, ArticleNumber: c.a.ArticleNumber,
			Title: c.a.Title, URLName: c.a.URLName, URL: c.a.URL, Language: c.a.Language, Source: c.a.Source,
			Version: c.a.Version, Score: round3(c.cov), Snippet: snippet(newAnalyzer(langBase(c.a.Language)), c.a, c.terms),
		})
		if len(out.matches) == topK {
			break
		}
	}
	return out, nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// queryTerms analyses subject and body into weighted terms, strongest first.
func (k *Knowledge) queryTerms(ctx context.Context, an *analyzer, subject, body string, articles int) ([]qterm, error) {
	byTerm := map[string]*qterm{}
	surfaces := map[string]map[string]int{}
	var order []string
	add := func(text string, w float64) {
		words(text, func(word string) {
			t := an.term(word)
			if t == "" {
				return
			}
			qt := byTerm[t]
			if qt == nil {
				qt = &qterm{term: t}
				byTerm[t] = qt
				surfaces[t] = map[string]int{}
				order = append(order, t)
			}
			qt.tf += w
			surfaces[t][word]++
		})
	}
	add(subject, 2)
	add(body, 1)
	if len(order) == 0 {
		return nil, nil
	}
	df, err := k.st.KnowledgeDocFreq(ctx, order)
	if err != nil {
		return nil, fmt.Errorf("knowledge: term statistics: %w", err)
	}
	n := float64(articles)
	terms := make([]qterm, 0, len(order))
	for _, t := range order {
		qt := byTerm[t]
		qt.df = df[t]
		best, bestN := "", 0
		for s, c := range surfaces[t] {
			if c > bestN || (c == bestN && s < best) {
				best, bestN = s, c
			}
		}
		qt.surface = best
		d := float64(max(qt.df, 1))
		idf := math.Log(1 + (max(n, d)-d+0.5)/(d+0.5)) // positive even on an empty index
		// Saturate repetition: an email that says "refund" five times is not five times as much about refunds.
		qt.weight = (1 + math.Log(qt.tf)) * math.Pow(idf, idfPower)
		if qt.df == 0 {
			qt.weight *= unknownTermWeight
		}
		terms = append(terms, *qt)
	}
	sort.SliceStable(terms, func(i, j int) bool { return terms[i].weight > terms[j].weight })
	if len(terms) > maxQueryTerms {
		terms = terms[:maxQueryTerms]
	}
	return terms, nil
}

// stats is the number of indexed articles.
func (k *Knowledge) stats(ctx context.Context) (int, error) {
	n, err := k.st.KnowledgeCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("knowledge: %w", err)
	}
	return n, nil
}

// ftsQuery builds the MATCH expression: any of the strongest key terms the
// index knows. Terms in more than 5% of a large base (and more than 50
// articles) are left out, the rarest one excepted: their BM25 weight is near
// zero while their posting lists make up most of the query's cost; the
// normalised score still counts them. It does not filter on the lang column:
// that posting list holds every article of the language, and the caller
// sorts languages itself.
func ftsQuery(terms []qterm, n int) string {
	var parts []string
	rarest := -1
	for i, t := range terms {
		if t.df == 0 {
			continue
		}
		if rarest < 0 || t.df < terms[rarest].df {
			rarest = i
		}
		if t.df > max(n/20, 50) {
			continue
		}
		parts = append(parts, `"`+strings.ReplaceAll(t.term, `"`, `""`)+`"`)
		if len(parts) == maxMatchTerms {
			break
		}
	}
	if len(parts) == 0 {
		if rarest < 0 {
			return ""
		}
		parts = append(parts, `"`+strings.ReplaceAll(terms[rarest].term, `"`, `""`)+`"`)
	}
	return `{title summary body} : (` + strings.Join(parts, " OR ") + `)`
}

// fieldHas reports which of the wanted terms occur in s. Only words whose
// folded first three letters begin some wanted term are stemmed: stems keep
// the start of their word, so the others cannot match, and skipping them makes
// scoring a long body cheap.
func fieldHas(an *analyzer, s string, want map[string]bool, prefixes map[string]bool) map[string]bool {
	got := map[string]bool{}
	words(s, func(w string) {
		f := fold(w)
		if len(f) > 3 {
			f = f[:3]
		}
		if !prefixes[f] {
			return
		}
		if t := an.term(w); want[t] {
			got[t] = true
		}
	})
	return got
}

func termPrefixes(terms []qterm) (map[string]bool, map[string]bool) {
	want, prefixes := map[string]bool{}, map[string]bool{}
	for _, t := range terms {
		want[t.term] = true
		p := t.term
		if len(p) > 3 {
			p = p[:3]
		}
		prefixes[p] = true
	}
	return want, prefixes
}

// coverage is the normalised relevance: the share of the query's term weight
// the article contains, each term counted by the best field it appears in.
// Unlike raw BM25 it does not grow with the length of the email, so one
// threshold serves one-line and long emails alike.
func coverage(an *analyzer, a store.KnowledgeArticle, terms []qterm) float64 {
	if len(terms) == 0 {
		return 0
	}
	aan := an
	if l := langBase(a.Language); l != an.lang {
		aan = newAnalyzer(l)
	}
	want, prefixes := termPrefixes(terms)
	title, summary := fieldHas(aan, a.Title, want, prefixes), fieldHas(aan, a.Summary, want, prefixes)
	body := a.Body
	if len(body) > 20000 {
		body = body[:20000]
	}
	bodySet := fieldHas(aan, body, want, prefixes)
	var got, total float64
	head := false
	for _, t := range terms {
		total += t.weight
		switch {
		case title[t.term]:
			got += t.weight * fieldTitle
			head = true
		case summary[t.term]:
			got += t.weight * fieldSummary
			head = true
		case bodySet[t.term]:
			got += t.weight * fieldBody
		}
	}
	if total == 0 {
		return 0
	}
	if !head {
		// Title and summary say what an article is about; one that shares no
		// term with them answers the email only by accident of wording.
		got *= bodyOnlyFactor
	}
	return got / total
}

// snippet is the sentence of the article (body, else summary) that holds the
// most query weight, trimmed to about 240 characters.
func snippet(an *analyzer, a store.KnowledgeArticle, terms []qterm) string {
	w := map[string]float64{}
	for _, t := range terms {
		w[t.term] = t.weight
	}
	text := a.Body
	if strings.TrimSpace(text) == "" {
		text = a.Summary
	}
	best, bestScore := "", -1.0
	for _, s := range sentences(text) {
		score := 0.0
		for _, t := range an.terms(s) {
			score += w[t]
		}
		if score > bestScore {
			best, bestScore = s, score
		}
	}
	if bestScore <= 0 && a.Summary != "" {
		best = a.Summary
	}
	return clip(best, 240)
}

func sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' || ((c == '.' || c == '!' || c == '?') && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\n')) {
			if s := strings.TrimSpace(text[start : i+1]); len(s) > 1 {
				out = append(out, s)
			}
			start = i + 1
		}
		if len(out) >= 200 {
			return out
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n], ' ')
	if cut < n/2 {
		cut = n
	}
	for cut > 0 && cut < len(s) && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// Process is the knowledge stage for one message: it suggests the articles
// above the threshold and records a knowledge gap when there are none.
func (k *Knowledge) Process(ctx context.Context, m store.Message, q Query) (Result, error) {
	if q.Subject == "" {
		q.Subject = m.Subject
	}
	r, err := k.search(ctx, q)
	if err != nil {
		return Result{}, err
	}
	res := Result{Articles: []Match{}, Language: r.lang, Category: q.Category, KeyTerms: keyTermList(r.terms, 8)}
	for _, mt := range r.matches {
		res.BestScore = math.Max(res.BestScore, mt.Score)
		if mt.Score >= k.cfg.Threshold {
			res.Articles = append(res.Articles, mt)
		}
	}
	// An email without a single content word (a bare "thanks") asks nothing
	// the knowledge base could answer: not a gap.
	res.Gap = len(res.Articles) == 0 && len(r.terms) > 0
	if res.Gap {
		best := ""
		if len(r.matches) > 0 {
			best = r.matches[0].ArticleID
		}
		err = k.st.PutKnowledgeGap(ctx, store.KnowledgeGap{MessageID: m.ID, Kind: "no_match", Subject: m.Subject,
			Category: q.Category, Language: r.lang, KeyTerms: res.KeyTerms, BestScore: res.BestScore, BestArticle: best, At: k.now()})
	} else {
		// A retried message that matches now is no longer a gap.
		err = k.st.DeleteKnowledgeGap(ctx, m.ID, "no_match")
	}
	if err != nil {
		return Result{}, fmt.Errorf("knowledge: message %d: %w", m.ID, err)
	}
	return res, nil
}

func keyTermList(terms []qterm, n int) []string {
	out := []string{}
	for _, t := range terms {
		if len(out) == n {
			break
		}
		out = append(out, t.surface)
	}
	return out
}

// RecordRejection records that an agent rejected the articles suggested for a
// message: a knowledge-gap signal as strong as no match at all.
func (k *Knowledge) RecordRejection(ctx context.Context, messageID int64, articleIDs []string, by string) error {
	if by == "" {
		return errors.New("knowledge: rejection needs who rejected")
	}
	if err := k.st.PutKnowledgeRejection(ctx, messageID, articleIDs, by); err != nil {
		return fmt.Errorf("knowledge: %w", err)
	}
	g := store.KnowledgeGap{MessageID: messageID, Kind: "rejected", At: k.now()}
	var prev Result
	if ok, err := k.st.StageData(ctx, messageID, "knowledge", &prev); err == nil && ok {
		g.KeyTerms, g.BestScore, g.Language, g.Category = prev.KeyTerms, prev.BestScore, prev.Language, prev.Category
	}
	if m, err := k.st.Message(ctx, messageID); err == nil {
		g.Subject = m.Subject
	}
	if len(articleIDs) > 0 {
		g.BestArticle = articleIDs[0]
	}
	if err := k.st.PutKnowledgeGap(ctx, g); err != nil {
		return fmt.Errorf("knowledge: %w", err)
	}
	return nil
}

// Status summarises the index for `triage status` and the review UI.
type Status struct {
	Articles   int            `json:"articles"`
	Languages  map[string]int `json:"languages"`
	LastSyncAt time.Time      `json:"last_sync_at,omitzero"`
	Cursor     string         `json:"cursor,omitempty"`
	SyncCalls  int            `json:"sync_queries"` // queries the last Salesforce sync ran
}

// Status reports the index size and the Salesforce sync position.
func (k *Knowledge) Status(ctx context.Context) (Status, error) {
	st, err := k.st.KnowledgeStats(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("knowledge: %w", err)
	}
	sync, err := k.st.KnowledgeSyncState(ctx, SourceSalesforce)
	if err != nil {
		return Status{}, fmt.Errorf("knowledge: %w", err)
	}
	return Status{Articles: st.Articles, Languages: st.Languages, LastSyncAt: sync.LastSyncAt, Cursor: sync.Cursor, SyncCalls: sync.APICalls}, nil
}
