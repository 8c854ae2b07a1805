package knowledge

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/triage-dev/triage/store"
)

// Report is the knowledge-gap report for one period, compared with the one before.
type Report struct {
	Since        time.Time `json:"since"`
	Until        time.Time `json:"until"`
	Gaps         int       `json:"gaps"`          // gap emails this period
	PreviousGaps int       `json:"previous_gaps"` // in the period of equal length before
	Topics       []Topic   `json:"topics"`
}

// Topic is a cluster of similar gap emails: one article to write.
type Topic struct {
	Rank       int            `json:"rank"`
	Label      string         `json:"label"`   // the cluster's strongest terms
	Subject    string         `json:"subject"` // representative email subject
	Count      int            `json:"count"`
	Previous   int            `json:"previous"`
	Growth     float64        `json:"growth"` // (count - previous) / max(previous, 1)
	Rejected   int            `json:"rejected"`
	MessageIDs []int64        `json:"message_ids"` // examples, up to 5
	Categories map[string]int `json:"categories"`
	Languages  map[string]int `json:"languages"`
	KeyTerms   []string       `json:"key_terms"`
	Closest    *Match         `json:"closest_article,omitempty"`
}

type gapDoc struct {
	g       store.KnowledgeGap
	current bool
	vec     map[string]float64
	surface map[string]string
}

// GapReport clusters the gaps recorded since `since` (and in the period of the
// same length before it, for growth) into topics, most frequent first.
func (k *Knowledge) GapReport(ctx context.Context, since time.Time) (Report, error) {
	until := k.now()
	if !since.Before(until) {
		return Report{}, fmt.Errorf("knowledge: gap report: since %s is not in the past", since.Format(time.RFC3339))
	}
	prevSince := since.Add(-until.Sub(since))
	gaps, err := k.st.KnowledgeGaps(ctx, prevSince)
	if err != nil {
		return Report{}, fmt.Errorf("knowledge: gap report: %w", err)
	}
	rep := Report{Since: since, Until: until, Topics: []Topic{}}
	// One document per message: a rejected suggestion and a no-match for the
	// same email are one gap.
	byMsg := map[int64]*gapDoc{}
	var docs []*gapDoc
	rejected := map[int64]bool{}
	for _, g := range gaps {
		if g.At.After(until) {
			continue
		}
		if g.Kind == "rejected" {
			rejected[g.MessageID] = true
		}
		if d := byMsg[g.MessageID]; d != nil {
			continue
		}
		d := &gapDoc{g: g, current: !g.At.Before(since)}
		byMsg[g.MessageID] = d
		docs = append(docs, d)
		if d.current {
			rep.Gaps++
		} else {
			rep.PreviousGaps++
		}
	}
	// TF-IDF over subject + key terms, analysed in each gap's language.
	df := map[string]int{}
	for _, d := range docs {
		an := newAnalyzer(orDefault(langBase(d.g.Language), "en"))
		d.vec, d.surface = map[string]float64{}, map[string]string{}
		add := func(text string, w float64) {
			words(text, func(word string) {
				if t := an.term(word); t != "" {
					d.vec[t] += w
					if _, ok := d.surface[t]; !ok {
						d.surface[t] = word
					}
				}
			})
		}
		add(d.g.Subject, 1)
		add(strings.Join(d.g.KeyTerms, " "), 1)
		for t := range d.vec {
			df[t]++
		}
	}
	n := float64(len(docs))
	for _, d := range docs {
		for t, tf := range d.vec {
			d.vec[t] = (1 + math.Log(tf)) * math.Log(1+n/float64(df[t]))
		}
		normVec(d.vec)
	}
	// Greedy centroid clustering in time order: each email joins the most
	// similar topic when the cosine passes the threshold, else starts one.
	type cluster struct {
		docs     []*gapDoc
		centroid map[string]float64
	}
	var clusters []*cluster
	for _, d := range docs {
		var best *cluster
		bestSim := k.cfg.GapClusterThreshold
		for _, c := range clusters {
			if s := cosine(d.vec, c.centroid); s >= bestSim {
				best, bestSim = c, s
			}
		}
		if best == nil {
			best = &cluster{centroid: map[string]float64{}}
			clusters = append(clusters, best)
		}
		best.docs = append(best.docs, d)
		for t, w := range d.vec {
			best.centroid[t] += w
		}
		normVec(best.centroid)
	}
	for _, c := range clusters {
		tp := Topic{Categories: map[string]int{}, Languages: map[string]int{}, MessageIDs: []int64{}}
		surface := map[string]string{}
		var rep0 *gapDoc
		repSim := -1.0
		for _, d := range c.docs {
			for t, s := range d.surface {
				if _, ok := surface[t]; !ok {
					surface[t] = s
				}
			}
			if !d.current {
				tp.Previous++
				continue
			}
			tp.Count++
			if rejected[d.g.MessageID] {
				tp.Rejected++
			}
			if d.g.Category != "" {
				tp.Categories[d.g.Category]++
			}
			if d.g.Language != "" {
				tp.Languages[d.g.Language]++
			}
			if len(tp.MessageIDs) < 5 {
				tp.MessageIDs = append(tp.MessageIDs, d.g.MessageID)
			}
			if s := cosine(d.vec, c.centroid); s > repSim && d.g.Subject != "" {
				rep0, repSim = d, s
			}
		}
		if tp.Count == 0 {
			continue // a topic of the previous period only: nothing to act on now
		}
		if rep0 != nil {
			tp.Subject = rep0.g.Subject
		}
		tp.Growth = round3(float64(tp.Count-tp.Previous) / math.Max(float64(tp.Previous), 1))
		type tw struct {
			t string
			w float64
		}
		var terms []tw
		for t, w := range c.centroid {
			terms = append(terms, tw{t, w})
		}
		sort.Slice(terms, func(i, j int) bool {
			if terms[i].w != terms[j].w {
				return terms[i].w > terms[j].w
			}
			return terms[i].t < terms[j].t
		})
		for _, t := range terms[:min(6, len(terms))] {
			tp.KeyTerms = append(tp.KeyTerms, surface[t.t])
		}
		tp.Label = strings.Join(tp.KeyTerms[:min(3, len(tp.KeyTerms))], " ")
		lang := ""
		for l, n := range tp.Languages {
			if n > tp.Languages[lang] || (n == tp.Languages[lang] && l < lang) {
				lang = l
			}
		}
		ms, err := k.Search(ctx, Query{Subject: tp.Subject, Body: strings.Join(tp.KeyTerms, " "), Language: lang, TopK: 1})
		if err != nil {
			return Report{}, err
		}
		if len(ms) > 0 {
			m := ms[0]
			m.Snippet = ""
			tp.Closest = &m
		}
		rep.Topics = append(rep.Topics, tp)
	}
	sort.SliceStable(rep.Topics, func(i, j int) bool {
		a, b := rep.Topics[i], rep.Topics[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Growth != b.Growth {
			return a.Growth > b.Growth
		}
		return a.Label < b.Label
	})
	for i := range rep.Topics {
		rep.Topics[i].Rank = i + 1
	}
	return rep, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func normVec(v map[string]float64) {
	var s float64
	for _, w := range v {
		s += w * w
	}
	if s == 0 {
		return
	}
	n := math.Sqrt(s)
	for t := range v {
		v[t] /= n
	}
}

func cosine(a, b map[string]float64) float64 {
	if len(a) > len(b) {
		a, b = b, a
	}
	var dot float64
	for t, w := range a {
		dot += w * b[t]
	}
	return dot
}

func mixString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}

func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, " ")
}

func closestString(m *Match) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%.2f)", m.Title, m.Score)
}

// WriteTable renders the report for a terminal.
func (r Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "Knowledge gaps %s – %s: %d emails (previous period: %d), %d topics\n\n",
		r.Since.Format("2006-01-02 15:04"), r.Until.Format("2006-01-02 15:04"), r.Gaps, r.PreviousGaps, len(r.Topics))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTOPIC\tEMAILS\tPREV\tGROWTH\tSUBJECT\tCATEGORIES\tEXAMPLES\tCLOSEST ARTICLE")
	for _, t := range r.Topics {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%+.0f%%\t%s\t%s\t%s\t%s\n", t.Rank, t.Label, t.Count, t.Previous, t.Growth*100,
			clip(t.Subject, 50), mixString(t.Categories), idList(t.MessageIDs), clip(closestString(t.Closest), 50))
	}
	return tw.Flush()
}

// WriteCSV renders the report as CSV with a header row.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"rank", "topic", "emails", "previous", "growth", "rejected", "subject", "categories", "languages",
		"key_terms", "example_message_ids", "closest_article_id", "closest_article_title", "closest_article_score"})
	for _, t := range r.Topics {
		cid, ctitle, cscore := "", "", ""
		if t.Closest != nil {
			cid, ctitle, cscore = t.Closest.ArticleID, t.Closest.Title, strconv.FormatFloat(t.Closest.Score, 'f', 3, 64)
		}
		_ = cw.Write([]string{strconv.Itoa(t.Rank), t.Label, strconv.Itoa(t.Count), strconv.Itoa(t.Previous),
			strconv.FormatFloat(t.Growth, 'f', 3, 64), strconv.Itoa(t.Rejected), t.Subject, mixString(t.Categories),
			mixString(t.Languages), strings.Join(t.KeyTerms, " "), idList(t.MessageIDs), cid, ctitle, cscore})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON renders the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
