// Package demo is the embedded demo mailbox: raw support emails to the
// fictional company Northwind Gadgets (support@ and billing@northwind.example),
// the mailbox each one is delivered to, and the labelled ground truth that
// `triage demo`, `triage eval` and the end-to-end tests check the pipeline
// against.
//
// The emails live in mail/*.eml (CRLF line endings, byte-exact: git is told
// not to touch them). mail/manifest.txt says which mailbox each file goes to;
// a file not listed goes to support, and a file listed twice is delivered to
// both mailboxes byte for byte (the cross-mailbox duplicate). expected.jsonl
// has one line per delivery; see Expectation. The Salesforce org the emails
// talk to is salesforce/sfsim/seed/demo/org.json.
package demo

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed mail/*.eml mail/manifest.txt
var mailFS embed.FS

//go:embed expected.jsonl
var expectedJSONL []byte

// Mailbox names used in the manifest and in Email.Mailbox.
const (
	MailboxSupport = "support"
	MailboxBilling = "billing"
)

// Address returns the email address of a demo mailbox, or "" for an unknown
// mailbox name.
func Address(mailbox string) string {
	switch mailbox {
	case MailboxSupport:
		return "support@northwind.example"
	case MailboxBilling:
		return "billing@northwind.example"
	}
	return ""
}

// Email is one delivery of a demo email to a mailbox.
type Email struct {
	Name    string // file name, e.g. "05-api-429-rate-limit.eml"
	Mailbox string // MailboxSupport or MailboxBilling
	Raw     []byte // the message exactly as delivered (RFC 5322, CRLF)
}

// Mail returns every delivery of the demo mailbox, in file-name order (which
// is arrival order: replies come after what they reply to). A file listed
// for two mailboxes appears twice, once per mailbox, in manifest order.
func Mail() ([]Email, error) {
	names, err := fs.Glob(mailFS, "mail/*.eml")
	if err != nil {
		return nil, fmt.Errorf("demo: list mail: %w", err)
	}
	sort.Strings(names)
	manifest, err := mailFS.ReadFile("mail/manifest.txt")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[path.Base(n)] = true
	}
	boxes, err := parseManifest(manifest, have)
	if err != nil {
		return nil, err
	}
	var out []Email
	for _, n := range names {
		base := path.Base(n)
		raw, err := mailFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		mbs := boxes[base]
		if len(mbs) == 0 {
			mbs = []string{MailboxSupport}
		}
		for _, mb := range mbs {
			out = append(out, Email{Name: base, Mailbox: mb, Raw: raw})
		}
	}
	return out, nil
}

// parseManifest reads "<file> <mailbox>" lines (blank lines and # comments
// ignored). Every file must exist (exists reports that), every mailbox must be
// known, and a file may not be listed twice for the same mailbox.
func parseManifest(data []byte, exists map[string]bool) (map[string][]string, error) {
	boxes := make(map[string][]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("demo: manifest.txt:%d: want \"<file> <mailbox>\", got %q", line, text)
		}
		file, mb := fields[0], fields[1]
		if Address(mb) == "" {
			return nil, fmt.Errorf("demo: manifest.txt:%d: unknown mailbox %q (want %s or %s)", line, mb, MailboxSupport, MailboxBilling)
		}
		if !exists[file] {
			return nil, fmt.Errorf("demo: manifest.txt:%d: no such file mail/%s", line, file)
		}
		for _, prev := range boxes[file] {
			if prev == mb {
				return nil, fmt.Errorf("demo: manifest.txt:%d: %s listed twice for %s", line, file, mb)
			}
		}
		boxes[file] = append(boxes[file], mb)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("demo: manifest.txt: %w", err)
	}
	return boxes, nil
}

// Expect values. A skip carries its reason after the colon, e.g.
// "skip:auto_reply", "skip:bounce", "skip:newsletter".
const (
	ExpectCase      = "case"      // opens a new Case
	ExpectReply     = "reply"     // joins (and may reopen or close) an existing Case
	ExpectDuplicate = "duplicate" // the same email already seen in another mailbox: no new effect
	ExpectDead      = "dead"      // cannot be parsed: dead letter with the reason, replayable
	ExpectSkip      = "skip"      // prefix of "skip:<reason>": must not open a case
)

// Expectation is the labelled ground truth for one delivery (one line of
// expected.jsonl). Body is the new text of the email as a human would read
// it: greeting and message, without the sign-off, signature, quoted history
// or forwarded message; for auto-generated mail it is the generated text, and
// for a bounce it is empty.
type Expectation struct {
	File     string `json:"file"`
	Mailbox  string `json:"mailbox"`
	Subject  string `json:"subject"`                // decoded
	Body     string `json:"body"`                   // see above
	From     string `json:"from"`                   // sender address as written
	Category string `json:"category"`               // Bitext category (ACCOUNT, ORDER, …) or OTHER
	Priority string `json:"priority"`               // low, medium, high, urgent
	Escalate bool   `json:"escalate"`               // a human must look now (legal, churn, VIP blocked, injection, privacy)
	Expect   string `json:"expect"`                 // ExpectCase, ExpectReply, ExpectDuplicate, ExpectDead or "skip:<reason>"
	Lang     string `json:"lang,omitempty"`         // ISO 639-1
	Thread   string `json:"thread,omitempty"`       // deliveries with the same Thread belong to one conversation
	Related  string `json:"related_case,omitempty"` // Id of the seeded Case in org.json the email is about
	// MessageID without angle brackets; empty when the email has none.
	MessageID string   `json:"message_id,omitempty"`
	Tags      []string `json:"tags,omitempty"` // scenario tags: "pii:card", "vip", "kb_gap", "prompt_injection", …
}

// Skip reports whether the delivery must not open a case, and why.
func (e Expectation) Skip() (reason string, ok bool) {
	return strings.CutPrefix(e.Expect, ExpectSkip+":")
}

// HasTag reports whether the expectation carries tag t.
func (e Expectation) HasTag(t string) bool {
	for _, x := range e.Tags {
		if x == t {
			return true
		}
	}
	return false
}

// Expected returns the ground truth, one entry per delivery, in the order of
// Mail().
func Expected() ([]Expectation, error) {
	var out []Expectation
	dec := json.NewDecoder(bytes.NewReader(expectedJSONL))
	dec.DisallowUnknownFields()
	for i := 1; dec.More(); i++ {
		var e Expectation
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("demo: expected.jsonl entry %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}
