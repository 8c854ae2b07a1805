// Package bench is `triage bench`: it generates a realistic support mailbox
// with known ground truth, loads it into an IMAP server (the built-in
// in-memory one or a private Dovecot), starts the Salesforce emulator, runs
// the real pipeline in a child process and measures the bare IMAP fetch
// floor, mbsync, ingest, end to end, Salesforce API calls per email, IDLE
// latency and peak memory, then checks the emulator's records against the
// ground truth.
package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/triage-dev/triage/dedupe"
)

// Kind says what a generated email is and what it must cause.
type Kind string

// Kinds of generated email.
const (
	KindNew         Kind = "new"           // opens a thread: one Case, one EmailMessage
	KindReply       Kind = "reply"         // In-Reply-To/References into a thread: one EmailMessage
	KindExactDup    Kind = "exact_dup"     // the same bytes delivered twice: recorded once
	KindRedelivered Kind = "redelivered"   // same email via another route (new Received header): skipped as duplicate
	KindAutoReply   Kind = "auto_reply"    // out-of-office (Auto-Submitted): no case
	KindBounce      Kind = "bounce"        // multipart/report from MAILER-DAEMON: no case
	KindNewsletter  Kind = "newsletter"    // List-Id, Precedence: bulk: no case
	KindProbe       Kind = "latency_probe" // appended while the pipeline idles: one Case, one EmailMessage
)

// SupportAddress is the mailbox the generated customers write to.
const SupportAddress = "support@acme.test"

// Options configure the generator.
type Options struct {
	Emails int
	Seed   uint64
	// Attachments adds a few emails with large attachments (up to 25 MB).
	Attachments bool
	// Start is the Date of the first email (default 2026-11-02 08:00 UTC);
	// each later one is 20-60 s after the previous.
	Start time.Time
}

// Truth is what the generated mail implies in Salesforce.
type Truth struct {
	Emails        int          `json:"emails"`         // deliveries (APPENDs)
	Cases         int          `json:"cases"`          // threads
	EmailMessages int          `json:"email_messages"` // accepted emails
	Contacts      int          `json:"contacts"`       // distinct senders of accepted emails
	Bytes         int64        `json:"bytes"`
	ByKind        map[Kind]int `json:"by_kind"`
	// CaseKeys are the thread keys (the Case external ID), MessageIDs the
	// EmailMessage.MessageIdentifier values ("<id>"), ContactEmails the
	// senders' addresses, each a set.
	CaseKeys      map[string]bool `json:"-"`
	MessageIDs    map[string]bool `json:"-"`
	ContactEmails map[string]bool `json:"-"`
}

func newTruth() Truth {
	return Truth{ByKind: map[Kind]int{}, CaseKeys: map[string]bool{}, MessageIDs: map[string]bool{}, ContactEmails: map[string]bool{}}
}

// Add counts one generated email into the truth.
func (t *Truth) add(e *plan) {
	t.Emails++
	t.ByKind[e.kind]++
	switch e.kind {
	case KindNew, KindProbe:
		t.CaseKeys[dedupe.ThreadKey(e.msgID)] = true
		fallthrough
	case KindReply:
		t.MessageIDs["<"+e.msgID+">"] = true
		t.ContactEmails[strings.ToLower(e.from.addr)] = true
	}
	t.Cases, t.EmailMessages, t.Contacts = len(t.CaseKeys), len(t.MessageIDs), len(t.ContactEmails)
}

type person struct{ name, addr, lang string }

// thread is an open conversation replies can join.
type thread struct {
	root     string   // Message-ID of the first email (no brackets)
	refs     []string // Message-IDs so far, agents' answers included
	subject  string
	customer person
	replies  int
}

// plan is one email decided but not yet rendered: rendering is a pure
// function of the plan and its seed, so a duplicate re-renders its original.
type plan struct {
	i       int
	kind    Kind
	seed    uint64
	msgID   string
	from    person
	to      string
	subject string
	date    time.Time
	th      *thread
	refs    []string // References (In-Reply-To is the last)
	orig    *plan    // duplicates: the email delivered again
	attach  int      // bytes of the attachment, 0 for none
	route   int      // Received hop variant (a redelivery takes another one)
}

// Generator yields a deterministic mailbox, one email at a time, so a large
// mailbox is never held in memory by the generator.
type Generator struct {
	opts   Options
	r      *rand.Rand
	plans  []*plan // accepted emails, for duplicates
	open   []*thread
	people []person
	truth  Truth
	next   int
	date   time.Time
	large  map[int]int // index → attachment size (--attachments)
	probes int
}

// NewGenerator starts a mailbox of opts.Emails emails.
func NewGenerator(opts Options) *Generator {
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	}
	g := &Generator{opts: opts, r: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0xb3c4)), truth: newTruth(), date: opts.Start, large: map[int]int{}}
	// A pool of customers a third the size of the mailbox: many write more
	// than once, about different things.
	n := max(opts.Emails/3, 10)
	for i := 0; i < n; i++ {
		g.people = append(g.people, g.newPerson(i))
	}
	if opts.Attachments && opts.Emails > 0 {
		for k, size := range []int{25 << 20, 12 << 20, 5 << 20} {
			g.large[(opts.Emails*(k+1)/4)%opts.Emails] = size
		}
	}
	return g
}

func (g *Generator) newPerson(i int) person {
	fn, ln := firstNames[g.r.IntN(len(firstNames))], lastNames[g.r.IntN(len(lastNames))]
	local := strings.ToLower(asciiOnly(fn) + "." + strings.ReplaceAll(asciiOnly(ln), " ", ""))
	return person{name: fn + " " + ln, addr: fmt.Sprintf("%s.%d@%s", local, i, domains[g.r.IntN(len(domains))]), lang: pickLanguage(g.r)}
}

func pickLanguage(r *rand.Rand) string {
	total := 0
	for _, w := range languageWeights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range languageWeights {
		if x < w {
			return languages[i].code
		}
		x -= w
	}
	return "en"
}

func lang(code string) *language {
	for i := range languages {
		if languages[i].code == code {
			return &languages[i]
		}
	}
	return &languages[0]
}

// Truth is the ground truth of the emails yielded so far.
func (g *Generator) Truth() Truth { return g.truth }

// Next returns the next email, or nil after opts.Emails.
func (g *Generator) Next() []byte {
	if g.next >= g.opts.Emails {
		return nil
	}
	p := g.decide(g.next)
	g.next++
	g.truth.add(p)
	raw := render(p)
	g.truth.Bytes += int64(len(raw))
	return raw
}

// Probe returns a new email (a new thread from a new customer) whose
// Message-ID (returned without brackets) and subject carry marker
// "bench-probe-K", and counts it into
// the truth. The latency measurement appends these while the pipeline idles.
func (g *Generator) Probe() (raw []byte, marker, messageID string) {
	k := g.probes
	g.probes++
	marker = fmt.Sprintf("bench-probe-%d", k)
	pr := g.newPerson(1_000_000 + k)
	pr.lang = "en"
	l := lang("en")
	g.date = g.date.Add(time.Minute)
	p := &plan{i: -1 - k, kind: KindProbe, seed: g.r.Uint64(), msgID: fmt.Sprintf("%s.%d@%s", marker, g.opts.Seed, domainOf(pr.addr)),
		from: pr, to: SupportAddress, date: g.date,
		subject: fmt.Sprintf(l.subjects[g.r.IntN(len(l.subjects))], 900000+k) + " [" + marker + "]"}
	g.truth.add(p)
	g.truth.Emails-- // probes are not part of the mailbox's N
	return render(p), marker, p.msgID
}

func (g *Generator) decide(i int) *plan {
	g.date = g.date.Add(time.Duration(20+g.r.IntN(40)) * time.Second)
	p := &plan{i: i, seed: g.r.Uint64(), date: g.date, to: SupportAddress}
	if size, ok := g.large[i]; ok {
		g.newThread(p)
		p.attach = size
		return p
	}
	x := g.r.IntN(100)
	switch {
	case x < 3 && len(g.plans) > 0:
		p.kind, p.orig = KindExactDup, g.plans[len(g.plans)-1-g.r.IntN(min(len(g.plans), 50))]
	case x < 5 && len(g.plans) > 0:
		p.kind, p.orig, p.route = KindRedelivered, g.plans[len(g.plans)-1-g.r.IntN(min(len(g.plans), 50))], 1
	case x < 8:
		p.kind = KindAutoReply
		p.from = g.people[g.r.IntN(len(g.people))]
		if len(g.open) > 0 {
			th := g.open[g.r.IntN(len(g.open))]
			p.subject, p.refs = th.subject, []string{th.refs[len(th.refs)-1]}
		}
	case x < 10:
		p.kind = KindBounce
	case x < 14:
		p.kind = KindNewsletter
	case x < 40 && len(g.open) > 0:
		g.reply(p)
	default:
		g.newThread(p)
	}
	if p.msgID == "" {
		p.msgID = fmt.Sprintf("%s-%d.%d@%s", p.kind, i, p.seed%100000, domains[i%len(domains)])
	}
	return p
}

func (g *Generator) newThread(p *plan) {
	p.kind = KindNew
	p.from = g.people[g.r.IntN(len(g.people))]
	l := lang(p.from.lang)
	// The number makes every thread's subject unique: dedupe threads mail
	// with the same sender and subject together.
	p.subject = fmt.Sprintf(l.subjects[g.r.IntN(len(l.subjects))], 100000+p.i)
	p.msgID = fmt.Sprintf("%d.%x@%s", p.i, p.seed&0xffffffff, domainOf(p.from.addr))
	if g.r.IntN(100) < 8 {
		p.attach = 5<<10 + g.r.IntN(300<<10)
	}
	th := &thread{root: p.msgID, refs: []string{p.msgID}, subject: p.subject, customer: p.from}
	g.open = append(g.open, th)
	if len(g.open) > 300 {
		g.open = g.open[1:] // old threads stop getting replies
	}
	g.plans = append(g.plans, p)
}

func (g *Generator) reply(p *plan) {
	k := g.r.IntN(len(g.open))
	th := g.open[k]
	p.kind, p.th = KindReply, th
	p.from = th.customer
	if g.r.IntN(10) == 0 {
		// A colleague answers in the thread: a second contact on the case.
		c := g.people[g.r.IntN(len(g.people))]
		p.from = person{name: c.name, addr: "colleague." + localOf(c.addr) + "@" + domainOf(th.customer.addr), lang: th.customer.lang}
	}
	// The customer answers the agent's reply, which the mailbox never saw.
	agent := fmt.Sprintf("agent-%d-%d@acme.test", p.i, th.replies)
	th.refs = append(th.refs, agent)
	p.refs = append([]string(nil), th.refs...)
	p.subject = "Re: " + th.subject
	p.msgID = fmt.Sprintf("%d.%x.re@%s", p.i, p.seed&0xffffffff, domainOf(p.from.addr))
	th.refs = append(th.refs, p.msgID)
	th.replies++
	if th.replies >= 4 { // well under the loop breaker's 15 per sender and subject
		g.open = append(g.open[:k], g.open[k+1:]...)
	}
	g.plans = append(g.plans, p)
}

func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }
func localOf(addr string) string  { return addr[:strings.LastIndexByte(addr, '@')] }

func asciiOnly(s string) string {
	repl := strings.NewReplacer("è", "e", "é", "e", "ë", "e", "ö", "o", "ø", "o", "ü", "u", "ç", "c", "ã", "a", "í", "i", "Ł", "L", "'", "", "ô", "o")
	s = repl.Replace(s)
	var b strings.Builder
	for _, r := range s {
		if r < 128 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// render writes p as RFC 5322 with CRLF line endings.
func render(p *plan) []byte {
	if p.orig != nil {
		o := *p.orig
		o.route = p.route
		return render(&o)
	}
	r := rand.New(rand.NewPCG(p.seed, uint64(p.i)))
	var b bytes.Buffer
	hop := fmt.Sprintf("mx%d.acme.test", 1+p.route)
	switch p.kind {
	case KindBounce:
		return renderBounce(&b, p, r, hop)
	case KindNewsletter:
		return renderNewsletter(&b, p, r, hop)
	}
	l := lang(p.from.lang)
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", p.from.addr)
	fmt.Fprintf(&b, "Received: from mail.%s (mail.%s [198.51.100.%d]) by %s with ESMTPS id %08x; %s\r\n",
		domainOf(p.from.addr), domainOf(p.from.addr), r.IntN(250), hop, r.Uint32(), p.date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Received: from [10.%d.%d.%d] (unknown [203.0.113.%d]) by mail.%s (Postfix) with ESMTPSA; %s\r\n",
		r.IntN(255), r.IntN(255), r.IntN(255), r.IntN(255), domainOf(p.from.addr), p.date.Add(-2*time.Second).Format(time.RFC1123Z))
	// Real mail carries a few KB of authentication headers.
	fmt.Fprintf(&b, "Authentication-Results: %s; dkim=pass header.d=%s; spf=pass smtp.mailfrom=%s; dmarc=pass\r\n", hop, domainOf(p.from.addr), domainOf(p.from.addr))
	sig := make([]byte, 256)
	for j := range sig {
		sig[j] = byte(r.Uint32())
	}
	fmt.Fprintf(&b, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=s1; h=from:to:subject:date:message-id;\r\n\tbh=%s;\r\n\tb=%s\r\n",
		domainOf(p.from.addr), base64.StdEncoding.EncodeToString(sig[:32]), foldBase64(sig))
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: Acme Support <%s>\r\n", encodeWord(p.from.name), p.from.addr, p.to)
	subject := p.subject
	if p.kind == KindAutoReply {
		subject = "Automatic reply: " + subject
		if p.subject == "" {
			subject = "Out of office"
		}
	}
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n", encodeWord(subject), p.date.Format(time.RFC1123Z), p.msgID)
	if len(p.refs) > 0 {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", p.refs[len(p.refs)-1], strings.Join(p.refs, ">\r\n <"))
	}
	if p.kind == KindAutoReply {
		b.WriteString("Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\n")

	var body strings.Builder
	body.WriteString(l.hello + "\r\n\r\n")
	switch p.kind {
	case KindAutoReply:
		body.WriteString("I am out of the office until Monday with limited access to email.\r\n")
	case KindReply:
		body.WriteString(l.replies[r.IntN(len(l.replies))] + "\r\n\r\n")
		// The quoted history makes replies the larger emails of a thread.
		for q := 0; q < 2+r.IntN(20); q++ {
			body.WriteString("> " + l.lines[r.IntN(len(l.lines))] + "\r\n")
		}
	default:
		paras := 1 + r.IntN(6)
		if r.IntN(10) == 0 {
			paras += 30 // now and then a long one
		}
		for i := 0; i < paras; i++ {
			for s := 0; s < 1+r.IntN(4); s++ {
				body.WriteString(l.lines[r.IntN(len(l.lines))] + " ")
			}
			body.WriteString("\r\n\r\n")
		}
	}
	body.WriteString(l.bye + "\r\n" + p.from.name + "\r\n")
	text := body.String()

	switch style := r.IntN(10); {
	case p.attach > 0:
		bd := fmt.Sprintf("mix-%x", p.seed)
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\n", bd, bd)
		writeText(&b, "text/plain", l.charset, text)
		name, ctype := "screenshot.png", "image/png"
		if p.attach > 1<<20 {
			name, ctype = "recording.mp4", "video/mp4"
		} else if r.IntN(2) == 0 {
			name, ctype = "invoice.pdf", "application/pdf"
		}
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", bd, ctype, name, name)
		data := make([]byte, p.attach)
		for j := 0; j+8 <= len(data); j += 8 {
			v := r.Uint64()
			for k := 0; k < 8; k++ {
				data[j+k] = byte(v >> (8 * k))
			}
		}
		writeBase64(&b, data)
		fmt.Fprintf(&b, "--%s--\r\n", bd)
	case style < 3 && p.kind != KindAutoReply:
		bd := fmt.Sprintf("alt-%x", p.seed)
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n", bd, bd)
		writeText(&b, "text/plain", l.charset, text)
		fmt.Fprintf(&b, "\r\n--%s\r\n", bd)
		writeText(&b, "text/html", "utf-8", toHTML(text))
		fmt.Fprintf(&b, "\r\n--%s--\r\n", bd)
	case style == 3:
		writeText(&b, "text/html", "utf-8", toHTML(text)) // HTML only
	default:
		writeText(&b, "text/plain", l.charset, text)
	}
	return b.Bytes()
}

func foldBase64(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var parts []string
	for len(enc) > 70 {
		parts = append(parts, enc[:70])
		enc = enc[70:]
	}
	return strings.Join(append(parts, enc), "\r\n\t")
}

func toHTML(text string) string {
	var h strings.Builder
	h.WriteString("<html><head><style>p{font-family:Arial}</style></head><body>")
	for _, para := range strings.Split(strings.TrimSpace(text), "\r\n\r\n") {
		h.WriteString("<p>" + strings.ReplaceAll(htmlEscape(para), "\r\n", "<br>") + "</p>\r\n")
	}
	h.WriteString("</body></html>")
	return h.String()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// writeText writes a part's headers and body: 7bit for ASCII, otherwise
// quoted-printable in the given charset.
func writeText(b *bytes.Buffer, ctype, charset, text string) {
	if isASCII(text) {
		fmt.Fprintf(b, "Content-Type: %s; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n%s", ctype, text)
		return
	}
	data := []byte(text)
	if charset == "iso-8859-1" {
		if enc, err := charmap.ISO8859_1.NewEncoder().Bytes(data); err == nil {
			data = enc
		} else {
			charset = "utf-8"
		}
	}
	if charset == "us-ascii" {
		charset = "utf-8"
	}
	fmt.Fprintf(b, "Content-Type: %s; charset=%s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", ctype, charset)
	w := quotedprintable.NewWriter(b)
	_, _ = w.Write(data)
	_ = w.Close()
	b.WriteString("\r\n")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func encodeWord(s string) string {
	if isASCII(s) {
		return s
	}
	return mime.QEncoding.Encode("utf-8", s)
}

func writeBase64(b *bytes.Buffer, data []byte) {
	const line = 57 // 76 encoded characters
	buf := make([]byte, base64.StdEncoding.EncodedLen(line))
	for len(data) > 0 {
		n := min(line, len(data))
		base64.StdEncoding.Encode(buf, data[:n])
		b.Write(buf[:base64.StdEncoding.EncodedLen(n)])
		b.WriteString("\r\n")
		data = data[n:]
	}
}

func renderBounce(b *bytes.Buffer, p *plan, r *rand.Rand, hop string) []byte {
	bd := fmt.Sprintf("report-%x", p.seed)
	rcpt := fmt.Sprintf("no-such-user.%d@%s", r.IntN(10000), domains[r.IntN(len(domains))])
	fmt.Fprintf(b, "Return-Path: <>\r\nReceived: from %s by %s; %s\r\n", hop, hop, p.date.Format(time.RFC1123Z))
	fmt.Fprintf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n", hop, SupportAddress)
	fmt.Fprintf(b, "Date: %s\r\nMessage-ID: <%s>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n", p.date.Format(time.RFC1123Z), p.msgID)
	fmt.Fprintf(b, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"\r\n\r\n", bd)
	fmt.Fprintf(b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is the mail system at host %s.\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n<%s>: host mx.example.net said: 550 5.1.1 user unknown\r\n\r\n", bd, hop, rcpt)
	fmt.Fprintf(b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; %s\r\n\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n", bd, hop, rcpt)
	fmt.Fprintf(b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Acme Support <%s>\r\nTo: <%s>\r\nSubject: Your request\r\nMessage-ID: <out-%d@acme.test>\r\n\r\n--%s--\r\n", bd, SupportAddress, rcpt, p.i, bd)
	return b.Bytes()
}

func renderNewsletter(b *bytes.Buffer, p *plan, r *rand.Rand, hop string) []byte {
	vendors := []string{"news.cloudtools.example", "updates.saasly.example", "digest.devweekly.example"}
	v := vendors[r.IntN(len(vendors))]
	fmt.Fprintf(b, "Return-Path: <bounce-%d@%s>\r\nReceived: from %s by %s; %s\r\n", r.IntN(1e6), v, v, hop, p.date.Format(time.RFC1123Z))
	fmt.Fprintf(b, "From: Product News <news@%s>\r\nTo: %s\r\nSubject: Your weekly digest #%d\r\nDate: %s\r\nMessage-ID: <%s>\r\n",
		v, SupportAddress, p.i, p.date.Format(time.RFC1123Z), p.msgID)
	fmt.Fprintf(b, "List-Id: Product News <news.%s>\r\nList-Unsubscribe: <https://%s/unsubscribe?u=%d>\r\nPrecedence: bulk\r\nMIME-Version: 1.0\r\n", v, v, r.IntN(1e6))
	var html strings.Builder
	html.WriteString("<html><body><h1>This week</h1>")
	for i := 0; i < 5+r.IntN(30); i++ {
		fmt.Fprintf(&html, "<h2>Feature %d</h2><p>We shipped improvements to dashboards, exports and the mobile app. <a href=\"https://%s/f/%d\">Read more</a></p>\r\n", i, v, r.IntN(1e6))
	}
	html.WriteString("</body></html>")
	writeText(b, "text/html", "utf-8", html.String())
	return b.Bytes()
}
