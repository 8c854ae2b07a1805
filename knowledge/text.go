package knowledge

import (
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// StripHTML returns the visible text of an HTML fragment: tags removed,
// entities decoded, script/style dropped, block elements turned into line breaks.
func StripHTML(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return collapseSpace(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			tt := z.Token().Type
			switch tag {
			case "script", "style", "head", "title":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section", "article", "blockquote", "pre", "hr":
				b.WriteByte('\n')
			case "td", "th":
				b.WriteByte(' ')
			}
		}
	}
}

// collapseSpace trims each line, squeezes runs of blanks and blank lines.
func collapseSpace(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

// words splits text into lower-case words of letters and digits. Pure numbers
// and the parts of reference codes (NW-100517, INV-2026-10-4471, RMA-55120:
// a word joined to digits by a dash, slash or underscore) are dropped: they
// identify a record, never a topic.
func words(s string, fn func(w string)) {
	start := -1
	digitsOnly := true
	prevJoined := false // the previous token ended in -, / or _ before this one
	flush := func(end int) {
		if start >= 0 {
			joinedNext := end+1 < len(s) && strings.IndexByte("-/_", s[end]) >= 0 && s[end+1] >= '0' && s[end+1] <= '9'
			if !digitsOnly && !joinedNext && !prevJoined {
				fn(strings.ToLower(s[start:end]))
			}
			prevJoined = digitsOnly && end < len(s) && strings.IndexByte("-/_", s[end]) >= 0
			start = -1
		}
	}
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start, digitsOnly = i, true
			}
			if !unicode.IsDigit(r) {
				digitsOnly = false
			}
			continue
		}
		flush(i)
	}
	flush(len(s))
}

// fold removes diacritics (é→e, ü→u) and expands ß, after stemming, so that a
// customer who types "Rueckerstattung" or "remboursement" without accents still matches.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	s = strings.ReplaceAll(s, "ß", "ss")
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return s
	}
	return out
}

// analyzer turns text of one language into index terms.
type analyzer struct {
	lang  string
	stop  map[string]bool
	stem  func(string) string
	cache map[string]string // word → term ("" for a stop word); per-call, not shared
}

func newAnalyzer(lang string) *analyzer {
	a := &analyzer{lang: lang, stop: stopWords(lang), stem: stemmer(lang)}
	return a
}

// term maps one lower-case word to its index term, "" when it is dropped.
func (a *analyzer) term(w string) string {
	if a.stop[w] || a.stop[fold(w)] {
		return ""
	}
	if len([]rune(w)) < 2 {
		return ""
	}
	t := fold(a.stem(w))
	if len(t) < 2 {
		return ""
	}
	return t
}

// terms analyses text into terms in order.
func (a *analyzer) terms(s string) []string {
	var out []string
	words(s, func(w string) {
		if t := a.term(w); t != "" {
			out = append(out, t)
		}
	})
	return out
}

// indexText is the space-separated terms the FTS5 column receives.
func (a *analyzer) indexText(s string) string { return strings.Join(a.terms(s), " ") }
