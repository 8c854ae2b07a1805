package classify

import (
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/triage-dev/triage/store"
)

// SimilarExamples picks the few-shot examples for one email: the managers'
// corrections most similar to it (cosine over word counts of subject and new
// text), newest first among equals, at most cfg.MaxExamples. Similar
// corrections teach the LLM more than recent ones about unrelated mail.
func SimilarExamples(cfg Config, cs []store.Correction, subject, body string) []Example {
	q := wordVector(subject + " " + NewText(body))
	type scored struct {
		c     store.Correction
		score float64
		order int
	}
	ss := make([]scored, len(cs))
	for i, c := range cs {
		ss[i] = scored{c: c, score: cosine(q, wordVector(c.Subject+" "+c.Body)), order: i}
	}
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].score > ss[j].score })
	ranked := make([]store.Correction, len(ss))
	for i, s := range ss {
		ranked[i] = s.c
	}
	return ExamplesFromCorrections(cfg, ranked)
}

// wordVector counts the lower-cased words of three letters or more.
func wordVector(s string) map[string]float64 {
	v := map[string]float64{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(w)) >= 3 {
			v[w]++
		}
	}
	return v
}

func cosine(a, b map[string]float64) float64 {
	var dot, na, nb float64
	for w, x := range a {
		dot += x * b[w]
		na += x * x
	}
	for _, y := range b {
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
