package review

import (
	"regexp"
	"sync"

	"github.com/microcosm-cc/bluemonday"
)

// emailPolicy is bluemonday's UGC policy without images: email HTML is
// hostile, and a remote image is a tracking pixel that tells the sender the
// mail was read (and from where). Links keep their href but open in a new
// tab without referrer or opener.
var emailPolicy = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardAttributes()
	p.AllowStandardURLs()
	p.AllowElements("article", "aside", "figure", "section", "summary", "details",
		"h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "br", "div", "hr", "p", "span", "wbr",
		"abbr", "acronym", "cite", "code", "dfn", "em", "figcaption", "mark", "s", "samp", "strong",
		"sub", "sup", "var", "b", "i", "pre", "small", "strike", "tt", "u", "rp", "rt", "ruby")
	p.AllowAttrs("cite").OnElements("blockquote", "q")
	p.AllowElements("blockquote", "q")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("dir").Matching(bluemonday.Direction).OnElements("bdi", "bdo")
	p.AllowAttrs("datetime").Matching(bluemonday.ISO8601).OnElements("time", "del", "ins")
	p.AllowElements("del", "ins")
	p.AllowLists()
	p.AllowTables()
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowURLSchemes("http", "https", "mailto")
	// Drop, rather than flatten into text, the content of elements that are
	// code or styling, never prose.
	p.SkipElementsContent("script", "style", "title", "head", "noscript", "template", "object", "iframe", "svg", "math")
	return p
})

// sanitizeEmailHTML returns markup safe to embed in a page.
func sanitizeEmailHTML(s string) string {
	if s == "" {
		return ""
	}
	return emailPolicy().Sanitize(s)
}

var controlChars = regexp.MustCompile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

// cleanText removes control and bidi-override characters, which can make a
// subject or file name display as something else (e.g. "invoice\u202Efdp.exe").
func cleanText(s string) string {
	return controlChars.ReplaceAllString(s, "\ufffd")
}
