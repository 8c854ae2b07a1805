package demo

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"path"
	"strings"
	"testing"
	"time"

	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
)

// malformed is the one file that is broken on purpose (its multipart boundary
// never occurs): the pipeline must dead-letter it, not crash.
const malformed = "45-pedido-reposicion-malformed.eml"

type parsed struct {
	subject, from, messageID string
	date                     time.Time
	topType                  string
	plain, html              []string
	attachments              []string // file names
	headers                  mail.Header
}

func parse(raw []byte) (*parsed, error) {
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("create reader: %w", err)
	}
	defer mr.Close()
	p := &parsed{headers: mr.Header}
	if p.subject, err = mr.Header.Subject(); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	from, err := mr.Header.AddressList("From")
	if err != nil || len(from) != 1 {
		return nil, fmt.Errorf("from: %v (%d addresses)", err, len(from))
	}
	p.from = from[0].Address
	if p.date, err = mr.Header.Date(); err != nil {
		return nil, fmt.Errorf("date: %w", err)
	}
	if p.messageID, err = mr.Header.MessageID(); err != nil {
		return nil, fmt.Errorf("message-id: %w", err)
	}
	p.topType, _, _ = mr.Header.ContentType()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("next part: %w", err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			return nil, fmt.Errorf("read part: %w", err)
		}
		switch h := part.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			text := strings.ReplaceAll(string(body), "\r\n", "\n")
			switch ct {
			case "text/plain":
				p.plain = append(p.plain, text)
			case "text/html":
				p.html = append(p.html, text)
			}
		case *mail.AttachmentHeader:
			name, err := h.Filename()
			if err != nil {
				return nil, fmt.Errorf("attachment filename: %w", err)
			}
			p.attachments = append(p.attachments, name)
		}
	}
	return p, nil
}

func TestMailParses(t *testing.T) {
	mails, err := Mail()
	if err != nil {
		t.Fatal(err)
	}
	exps, err := Expected()
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != len(mails) {
		t.Fatalf("expected.jsonl has %d entries, Mail() %d deliveries", len(exps), len(mails))
	}
	for i, m := range mails {
		exp := exps[i]
		t.Run(m.Name+"/"+m.Mailbox, func(t *testing.T) {
			if exp.File != m.Name || exp.Mailbox != m.Mailbox {
				t.Fatalf("expected.jsonl entry %d is %s/%s, Mail() gives %s/%s", i+1, exp.File, exp.Mailbox, m.Name, m.Mailbox)
			}
			if bytes.Contains(bytes.ReplaceAll(m.Raw, []byte("\r\n"), nil), []byte("\n")) ||
				bytes.Contains(bytes.ReplaceAll(m.Raw, []byte("\r\n"), nil), []byte("\r")) {
				t.Errorf("bare LF or CR: demo mail must use CRLF line endings throughout")
			}
			if len(m.Raw) > 32<<10 {
				t.Errorf("%d bytes: keep demo mail small", len(m.Raw))
			}
			p, err := parse(m.Raw)
			if m.Name == malformed {
				if exp.Expect != ExpectDead {
					t.Errorf("malformed email expects %q, want %q", exp.Expect, ExpectDead)
				}
				if err == nil {
					t.Fatalf("the deliberately malformed email parsed cleanly; it no longer tests dead-lettering")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.subject != exp.Subject {
				t.Errorf("subject %q, expected.jsonl says %q", p.subject, exp.Subject)
			}
			if !strings.EqualFold(p.from, exp.From) {
				t.Errorf("from %q, expected.jsonl says %q", p.from, exp.From)
			}
			if p.messageID != exp.MessageID {
				t.Errorf("Message-ID %q, expected.jsonl says %q", p.messageID, exp.MessageID)
			}
			lo := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
			hi := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
			if p.date.Before(lo) || !p.date.Before(hi) {
				t.Errorf("date %v outside the demo week %v..%v", p.date, lo, hi)
			}
			// The labelled body must be what a parser finds in the email:
			// verbatim in a text/plain part, or paragraph by paragraph
			// (HTML-escaped) in an HTML-only one.
			switch {
			case exp.Body == "":
			case len(p.plain) > 0:
				if !containsAny(p.plain, exp.Body) {
					t.Errorf("no text/plain part contains the expected body %.60q…", exp.Body)
				}
			case len(p.html) > 0:
				for _, para := range strings.Split(exp.Body, "\n") {
					if para != "" && !containsAny(p.html, html.EscapeString(para)) {
						t.Errorf("HTML body lacks %q", para)
					}
				}
			default:
				t.Errorf("no text part")
			}
		})
	}
}

func containsAny(texts []string, s string) bool {
	for _, t := range texts {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

func TestManifestAndFilesAgree(t *testing.T) {
	mails, err := Mail()
	if err != nil {
		t.Fatal(err)
	}
	files, err := mailFS.ReadDir("mail")
	if err != nil {
		t.Fatal(err)
	}
	var emls []string
	for _, f := range files {
		if path.Ext(f.Name()) == ".eml" {
			emls = append(emls, f.Name())
		}
	}
	if len(emls) < 48 {
		t.Errorf("%d demo emails, want at least 48", len(emls))
	}
	perFile := map[string][]string{}
	for _, m := range mails {
		perFile[m.Name] = append(perFile[m.Name], m.Mailbox)
		if Address(m.Mailbox) == "" {
			t.Errorf("%s: unknown mailbox %q", m.Name, m.Mailbox)
		}
	}
	for _, f := range emls {
		if len(perFile[f]) == 0 {
			t.Errorf("%s is not delivered anywhere", f)
		}
		if !strings.HasPrefix(f, fmt.Sprintf("%02d-", indexOf(emls, f)+1)) {
			t.Errorf("%s: files must be numbered NN- in order without gaps", f)
		}
	}
	var dups int
	for f, mbs := range perFile {
		if len(mbs) > 1 {
			dups++
			if len(mbs) != 2 || mbs[0] == mbs[1] {
				t.Errorf("%s delivered to %v, want support and billing once each", f, mbs)
			}
		}
	}
	if dups != 1 {
		t.Errorf("%d files delivered to two mailboxes, want exactly the one duplicate", dups)
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestParseManifest(t *testing.T) {
	exists := map[string]bool{"01-a.eml": true, "02-b.eml": true}
	tests := []struct {
		name, in string
		want     map[string][]string
		wantErr  string
	}{
		{"empty", "", map[string][]string{}, ""},
		{"comments and blanks", "# x\n\n  01-a.eml   billing \n", map[string][]string{"01-a.eml": {"billing"}}, ""},
		{"both mailboxes", "01-a.eml support\n01-a.eml billing\n", map[string][]string{"01-a.eml": {"support", "billing"}}, ""},
		{"missing file", "03-c.eml support\n", nil, "no such file"},
		{"bad mailbox", "01-a.eml sales\n", nil, "unknown mailbox"},
		{"listed twice", "01-a.eml support\n01-a.eml support\n", nil, "listed twice"},
		{"too many fields", "01-a.eml support extra\n", nil, "want"},
		{"one field", "01-a.eml\n", nil, "want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseManifest([]byte(tt.in), exists)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	seed, err := mailFS.ReadFile("mail/manifest.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("01-a.eml support\n01-a.eml billing\n"))
	exists := map[string]bool{"01-a.eml": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		boxes, err := parseManifest(data, exists)
		if err != nil {
			return
		}
		for file, mbs := range boxes {
			if !exists[file] {
				t.Fatalf("accepted unknown file %q", file)
			}
			seen := map[string]bool{}
			for _, mb := range mbs {
				if Address(mb) == "" || seen[mb] {
					t.Fatalf("accepted bad or repeated mailbox %q for %q", mb, file)
				}
				seen[mb] = true
			}
		}
	})
}

// TestExpectedLabels checks the ground truth is well-formed and that the
// scenarios the issues ask the demo to exercise are all present, so an edit
// to the demo mail cannot silently drop one.
func TestExpectedLabels(t *testing.T) {
	exps, err := Expected()
	if err != nil {
		t.Fatal(err)
	}
	cats := map[string]bool{"ACCOUNT": true, "ORDER": true, "REFUND": true, "PAYMENT": true, "DELIVERY": true,
		"INVOICE": true, "CONTACT": true, "SHIPPING_ADDRESS": true, "FEEDBACK": true, "CANCELLATION_FEE": true,
		"NEWSLETTER": true, "OTHER": true}
	prios := map[string]bool{"low": true, "medium": true, "high": true, "urgent": true}
	seenCat := map[string]bool{}
	seenLang := map[string]bool{}
	seenExpect := map[string]int{}
	tags := map[string]bool{}
	ids := map[string]string{}
	for _, e := range exps {
		where := e.File + "/" + e.Mailbox
		if !cats[e.Category] {
			t.Errorf("%s: category %q", where, e.Category)
		}
		if !prios[e.Priority] {
			t.Errorf("%s: priority %q", where, e.Priority)
		}
		switch reason, skip := e.Skip(); {
		case skip && reason == "":
			t.Errorf("%s: skip without a reason", where)
		case !skip && e.Expect != ExpectCase && e.Expect != ExpectReply && e.Expect != ExpectDuplicate && e.Expect != ExpectDead:
			t.Errorf("%s: expect %q", where, e.Expect)
		}
		if e.Expect != ExpectDuplicate && e.MessageID != "" {
			if prev, ok := ids[e.MessageID]; ok {
				t.Errorf("%s: Message-ID already used by %s", where, prev)
			}
			ids[e.MessageID] = where
		}
		if e.Expect == ExpectReply && e.Thread == "" && e.Related == "" {
			t.Errorf("%s: a reply must name its thread or seeded case", where)
		}
		if e.Subject == "" || e.From == "" {
			t.Errorf("%s: subject and from are required", where)
		}
		seenCat[e.Category] = true
		seenLang[e.Lang] = true
		kind, _, _ := strings.Cut(e.Expect, ":")
		seenExpect[kind]++
		for _, tg := range e.Tags {
			tags[tg] = true
		}
	}
	for c := range cats {
		if !seenCat[c] {
			t.Errorf("no demo email in category %s", c)
		}
	}
	for _, l := range []string{"en", "de", "fr", "es", "nl", "ja"} {
		if !seenLang[l] {
			t.Errorf("no demo email in language %s", l)
		}
	}
	for _, k := range []string{ExpectCase, ExpectReply, ExpectDuplicate, ExpectDead, ExpectSkip} {
		if seenExpect[k] == 0 {
			t.Errorf("no delivery expected to end as %q", k)
		}
	}
	for _, tg := range []string{"pii:card", "pii:ssn", "pii:iban", "pii:phone", "pii:password", "prompt_injection",
		"legal_threat", "churn_threat", "vip", "new_address", "no_message_id", "resolved", "outlook_quote",
		"html_only", "attachment:png", "attachment:pdf", "attachment:log", "kb_gap", "bounce", "newsletter",
		"auto_reply", "duplicate", "charset:iso-2022-jp", "charset:iso-8859-1", "charset:windows-1252", "forwarded"} {
		if !tags[tg] {
			t.Errorf("no demo email tagged %q", tg)
		}
	}
}

// TestScenarioHeaders checks the headers that make the skip scenarios what
// they claim to be, straight from the raw mail.
func TestScenarioHeaders(t *testing.T) {
	mails, err := Mail()
	if err != nil {
		t.Fatal(err)
	}
	exps, err := Expected()
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	for i, m := range mails {
		e := exps[i]
		if m.Name == malformed {
			continue
		}
		p, err := parse(m.Raw)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		h := p.headers
		check := func(cond bool, what string) {
			t.Helper()
			if !cond {
				t.Errorf("%s: %s", m.Name, what)
			}
		}
		switch {
		case e.HasTag("bounce"):
			_, params, _ := h.ContentType()
			check(p.topType == "multipart/report" && params["report-type"] == "delivery-status", "bounce is not multipart/report; report-type=delivery-status")
			check(strings.TrimSpace(h.Get("Return-Path")) == "<>", "bounce needs an empty Return-Path")
			check(strings.HasPrefix(strings.ToLower(p.from), "mailer-daemon@"), "bounce not from MAILER-DAEMON")
		case e.HasTag("newsletter"):
			check(h.Get("List-Id") != "" && h.Get("List-Unsubscribe") != "" && h.Get("Precedence") == "bulk", "newsletter lacks List-Id, List-Unsubscribe or Precedence: bulk")
		case e.HasTag("auto_submitted"):
			check(h.Get("Auto-Submitted") == "auto-replied", "auto-reply lacks Auto-Submitted: auto-replied")
		case e.HasTag("no_message_id"):
			check(h.Get("Message-Id") == "", "has a Message-ID")
		case e.HasTag("html_only"):
			check(len(p.plain) == 0 && len(p.html) == 1, "not HTML-only")
		case e.HasTag("charset:iso-2022-jp"):
			check(bytes.Contains(m.Raw, []byte("=?iso-2022-jp?b?")) && bytes.Contains(m.Raw, []byte(`charset="ISO-2022-JP"`)), "not ISO-2022-JP in headers and body")
		}
		if e.HasTag("new_address") {
			// Same display name and company domain as a known contact, new address.
			name, err := dec.DecodeHeader(h.Get("From"))
			check(err == nil && strings.HasPrefix(name, "Marcus Reed <") && strings.HasSuffix(p.from, "@contoso.example"), "new-address email is not Marcus Reed at contoso.example")
		}
		for _, tg := range e.Tags {
			if ext, ok := strings.CutPrefix(tg, "attachment:"); ok {
				found := false
				for _, a := range p.attachments {
					found = found || strings.HasSuffix(a, "."+ext)
				}
				check(found, "no ."+ext+" attachment")
			}
		}
	}
}
