package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	netmail "net/mail"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset" // registers every charset x/text knows with go-message
	"github.com/emersion/go-message/mail"
	gmtextproto "github.com/emersion/go-message/textproto"
	"github.com/inbucket/html2text"
	"golang.org/x/text/encoding/charmap"
)

// Bounds that keep hostile mail from exhausting memory or time. The raw
// message itself is already capped by max_message_size before Parse runs.
const (
	maxDepth        = 12      // nesting of multiparts and message/rfc822
	maxParts        = 500     // MIME parts walked per message
	maxHeaderBytes  = 1 << 20 // per header block
	maxTextBytes    = 1 << 20 // decoded text kept per body
	maxHTMLBytes    = 2 << 20 // raw HTML kept / converted
	maxKeptHeaders  = 200     // values in Parsed.Headers
	maxHeaderValue  = 4096    // bytes per kept header value
	maxWarnings     = 50
	synthesizedHost = "triage.invalid"
)

// ParseError is a message that cannot be parsed at all (its header is
// unreadable). It is permanent: the same bytes will fail again.
type ParseError struct{ Err error }

func (e *ParseError) Error() string   { return "parse: " + e.Err.Error() }
func (e *ParseError) Unwrap() error   { return e.Err }
func (e *ParseError) Permanent() bool { return true }

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// Parse parses a raw RFC 5322 message into its Parsed form. sha256hex is the
// hex SHA-256 of raw, used to synthesize a Message-ID when there is none.
// Problems that leave the message usable (unknown charset, broken part,
// truncated body) become Warnings; only an unreadable header is an error.
func Parse(raw []byte, sha256hex string) (p *Parsed, err error) {
	// A bug in a dependency on hostile input must cost one message, not the process.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, &ParseError{Err: fmt.Errorf("internal error: %v", r)}
		}
	}()
	return parse(raw, sha256hex)
}

func parse(raw []byte, sha256hex string) (*Parsed, error) {
	if sha256hex == "" {
		sum := sha256.Sum256(raw)
		sha256hex = hex.EncodeToString(sum[:])
	}
	w := &walker{p: &Parsed{}}
	ent, err := readEntityBytes(raw)
	if ent == nil {
		if err == nil {
			err = errors.New("empty message")
		}
		return nil, &ParseError{Err: fmt.Errorf("header: %s", strings.TrimSpace(truncate(err.Error(), 200)))}
	}
	if err != nil {
		w.warnEntityErr("", err)
	}
	if ent.Header.Len() == 0 {
		return nil, &ParseError{Err: errors.New("header: no header fields")}
	}
	p := w.p
	w.headers(mail.Header{Header: ent.Header}, sha256hex)
	w.walk(ent, "", 0, true) // sets p.ContentType and p.ReportType
	// readText leaves only valid UTF-8 in plain and html.
	var html string
	if w.html != nil {
		html = w.html.String()
	}
	switch {
	case w.plain != nil:
		p.Text = string(crlfToLF(w.plain.Bytes()))
	case w.html != nil:
		p.Text = strings.ReplaceAll(strings.ToValidUTF8(htmlToText(html, w), "\uFFFD"), "\r\n", "\n")
	case w.nestedText != "":
		p.Text = strings.ReplaceAll(strings.ToValidUTF8(w.nestedText, "\uFFFD"), "\r\n", "\n")
	}
	p.HTML = html
	return p, nil
}

type walker struct {
	p          *Parsed
	parts      int
	plain      *bytes.Buffer
	html       *bytes.Buffer
	nestedText string
	stopped    bool
}

func (w *walker) warn(format string, a ...any) {
	if len(w.p.Warnings) < maxWarnings {
		w.p.Warnings = append(w.p.Warnings, strings.ToValidUTF8(fmt.Sprintf(format, a...), "\uFFFD"))
	}
}

func (w *walker) warnEntityErr(path string, err error) {
	where := "message"
	if path != "" {
		where = "part " + path
	}
	switch {
	case message.IsUnknownCharset(err):
		w.warn("%s: unknown charset, decoded best-effort: %v", where, err)
	case message.IsUnknownEncoding(err):
		w.warn("%s: unknown transfer encoding, kept as is: %v", where, err)
	default:
		w.warn("%s: %v", where, err)
	}
}

// headers fills the envelope fields from the top-level header.
func (w *walker) headers(h mail.Header, sha256hex string) {
	p := w.p
	if id, err := h.MessageID(); err == nil && id != "" {
		p.MessageID = id
	} else if raw := strings.TrimSpace(h.Get("Message-Id")); raw != "" {
		// Malformed but present: keep it so replies that quote it still thread.
		p.MessageID = strings.Trim(raw, "<> \t")
	}
	if p.MessageID == "" {
		p.MessageID = synthesizeMessageID(sha256hex)
		p.Synthesized = true
	}
	if len(p.MessageID) > 998 {
		p.MessageID = p.MessageID[:998]
	}
	p.InReplyTo = w.msgIDList(h, "In-Reply-To")
	p.References = w.msgIDList(h, "References")
	if a := w.addresses(h, "From"); len(a) > 0 {
		p.From = a[0]
	}
	if a := w.addresses(h, "Sender"); len(a) > 0 {
		p.Sender = &a[0]
	}
	p.ReplyTo = w.addresses(h, "Reply-To")
	p.To = w.addresses(h, "To")
	p.Cc = w.addresses(h, "Cc")
	if s, err := h.Subject(); err == nil {
		p.Subject = s
	} else {
		p.Subject = h.Get("Subject")
		w.warn("Subject: %v", err)
	}
	p.Subject = strings.ToValidUTF8(p.Subject, "\uFFFD")
	if h.Has("Date") {
		if d, err := parseDate(h.Get("Date")); err == nil {
			p.Date = d
		} else {
			w.warn("Date: unparseable %q", truncate(h.Get("Date"), 100))
		}
	}
	if h.Has("Return-Path") {
		p.HasReturnPath = true
		rp := strings.TrimSpace(h.Get("Return-Path"))
		rp = strings.TrimSuffix(strings.TrimPrefix(rp, "<"), ">")
		p.ReturnPath = strings.TrimSpace(rp)
	}
	fields := h.Fields()
	for fields.Next() {
		key := textproto.CanonicalMIMEHeaderKey(fields.Key())
		if !keptHeader(key) {
			continue
		}
		if p.Headers == nil {
			p.Headers = map[string][]string{}
		}
		if countValues(p.Headers) >= maxKeptHeaders {
			w.warn("headers: more than %d kept header values, rest dropped", maxKeptHeaders)
			break
		}
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		p.Headers[key] = append(p.Headers[key], truncate(strings.ToValidUTF8(strings.TrimSpace(v), "\uFFFD"), maxHeaderValue))
	}
}

// parseDate is mail.Header.Date (net/mail.ParseDate) with a shortcut for
// the usual RFC 5322 form, which ParseDate reaches only after 24 failed
// layouts, each allocating its error: that was a fifth of Parse's time.
// The shortcut is taken only where ParseDate would try that layout first
// on the same string (FuzzParseDate checks that both agree).
func parseDate(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil // as mail.Header.Date
	}
	s := strings.TrimLeft(v, " \t")
	if s != "" && !strings.ContainsAny(s, "\r\n") {
		// ParseDate cuts the date after the first numeric zone and skips
		// comments after it; an unbalanced comment fails, so leave those to it.
		if i := strings.IndexAny(s, "+-"); i != -1 && len(s) >= i+5 && !strings.HasPrefix(strings.TrimLeft(s[i+5:], " \t"), "(") {
			layout := "Mon, 2 Jan 2006 15:04:05 -0700"
			if s[0] >= '0' && s[0] <= '9' {
				layout = "2 Jan 2006 15:04:05 -0700"
			}
			if t, err := time.Parse(layout, s[:i+5]); err == nil {
				return t, nil
			}
		}
	}
	return netmail.ParseDate(v)
}

func keptHeader(key string) bool {
	switch key {
	case "Auto-Submitted", "Precedence", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Post",
		"Return-Path", "Delivered-To", "Content-Language", "Importance", "Priority":
		return true
	}
	return strings.HasPrefix(key, "X-")
}

func countValues(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

var msgIDRe = regexp.MustCompile(`<[^<>\s]{1,998}>`)

func (w *walker) msgIDList(h mail.Header, key string) []string {
	if !h.Has(key) {
		return nil
	}
	ids, err := h.MsgIDList(key)
	if err != nil || len(ids) == 0 {
		// Broken lists are common (missing brackets, comments): salvage every <id>.
		ids = ids[:0]
		for _, m := range msgIDRe.FindAllString(h.Get(key), 100) {
			ids = append(ids, strings.Trim(m, "<>"))
		}
	}
	if len(ids) > 100 {
		ids = ids[len(ids)-100:] // the newest references matter for threading
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

var addrSpecRe = regexp.MustCompile(`[^\s<>"(),;:]+@[^\s<>"(),;:]+`)

func (w *walker) addresses(h mail.Header, key string) []Address {
	if !h.Has(key) {
		return nil
	}
	list, err := h.AddressList(key)
	if err == nil {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			out = append(out, Address{Name: strings.ToValidUTF8(a.Name, "\uFFFD"), Addr: strings.ToValidUTF8(a.Address, "\uFFFD")})
		}
		return out
	}
	// Unparseable list: keep whatever looks like an address so the sender is not lost.
	raw := h.Get(key)
	if dec, derr := wordDecoder.DecodeHeader(raw); derr == nil {
		raw = dec
	}
	var out []Address
	for _, m := range addrSpecRe.FindAllString(raw, 50) {
		out = append(out, Address{Addr: strings.ToValidUTF8(m, "\uFFFD")})
	}
	w.warn("%s: unparseable address list %q", key, truncate(raw, 200))
	return out
}

func synthesizeMessageID(sha256hex string) string {
	id := sha256hex
	if len(id) > 32 {
		id = id[:32]
	}
	return id + "@" + synthesizedHost
}

// walk visits an entity. path is its IMAP part path ("" for the top level);
// main is false inside attached messages, whose text is not the message's own.
func (w *walker) walk(ent *message.Entity, path string, depth int, main bool) {
	if w.stopped {
		return
	}
	w.parts++
	if w.parts > maxParts {
		w.warn("more than %d MIME parts: the rest is not parsed", maxParts)
		w.stopped = true
		return
	}
	if depth > maxDepth {
		w.warn("part %s: nested deeper than %d levels: not parsed", path, maxDepth)
		return
	}
	ct, params, cerr := ent.Header.ContentType()
	if ct == "" {
		ct = "text/plain"
	}
	if path == "" { // the message itself (attached messages have paths)
		if cerr != nil && ent.Header.Get("Content-Type") != "" {
			w.warn("Content-Type: %v", cerr)
		}
		w.p.ContentType = ct
		if ct == "multipart/report" {
			w.p.ReportType = params["report-type"]
		}
	}
	if mr := multipartReader(ent, ct, params); mr != nil {
		for i := 1; ; i++ {
			part, err := mr.next()
			if errors.Is(err, io.EOF) {
				return
			}
			child := childPath(path, i)
			if part == nil {
				w.warn("part %s: %v", child, err)
				return
			}
			if err != nil {
				w.warnEntityErr(child, err)
			}
			w.walk(part, child, depth+1, main)
			if w.stopped {
				return
			}
		}
	}
	leaf := path
	if leaf == "" {
		leaf = "1"
	}
	disp, dparams, _ := ent.Header.ContentDisposition()
	filename := decodeParam(dparams["filename"])
	if filename == "" {
		filename = decodeParam(params["name"])
	}
	isAttachment := strings.EqualFold(disp, "attachment") || (filename != "" && !strings.HasPrefix(ct, "text/"))
	switch {
	case ct == "message/rfc822" || ct == "message/global":
		w.nested(ent, leaf, filename, depth)
		return
	case !isAttachment && main && ct == "text/plain" && w.plain == nil:
		w.plain = &bytes.Buffer{}
		w.readText(ent, leaf, w.plain, maxTextBytes, params["charset"])
		return
	case !isAttachment && main && ct == "text/html" && w.html == nil:
		w.html = &bytes.Buffer{}
		w.readText(ent, leaf, w.html, maxHTMLBytes, params["charset"])
		return
	case !isAttachment && !main && strings.HasPrefix(ct, "text/") && w.nestedText == "" && (ct == "text/plain" || ct == "text/html"):
		var b bytes.Buffer
		w.readText(ent, leaf, &b, maxTextBytes, params["charset"])
		w.nestedText = b.String()
		if ct == "text/html" {
			w.nestedText = htmlToText(w.nestedText, w)
		}
		return
	case !isAttachment && main && ct == "text/plain" && strings.EqualFold(disp, "inline") && w.plain.Len() < maxTextBytes:
		// Several inline text parts (e.g. a signature added by a list): keep them all.
		w.plain.WriteString("\n")
		w.readText(ent, leaf, w.plain, maxTextBytes, params["charset"])
		return
	}
	w.attachment(ent, leaf, ct, filename, disp)
}

func childPath(parent string, i int) string {
	if parent == "" {
		return strconv.Itoa(i)
	}
	return parent + "." + strconv.Itoa(i)
}

// decodeParam decodes an RFC 2047-encoded parameter (non-standard but common
// in filenames); RFC 2231 was already handled by mime.ParseMediaType.
func decodeParam(s string) string {
	if strings.Contains(s, "=?") {
		if dec, err := wordDecoder.DecodeHeader(s); err == nil {
			s = dec
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// readText appends up to limit bytes of a text body to b, reading straight
// into b. When go-message could not convert the charset, the body arrives
// undecoded: keep it if it is UTF-8, else read it as Windows-1252, which maps
// every byte.
func (w *walker) readText(ent *message.Entity, path string, b *bytes.Buffer, limit int, cs string) {
	room := int64(limit - b.Len())
	if room <= 0 {
		return
	}
	start := b.Len()
	if b.Available() < 4<<10 {
		b.Grow(4 << 10) // ReadFrom would start at 512 bytes
	}
	if _, err := b.ReadFrom(io.LimitReader(ent.Body, room+1)); err != nil {
		w.warn("part %s: body: %v", path, err)
	}
	data := b.Bytes()[start:]
	if int64(len(data)) > room {
		data = data[:room]
		w.warn("part %s: text longer than %d bytes, truncated", path, limit)
		_, _ = io.Copy(io.Discard, ent.Body)
	}
	b.Truncate(start + len(data))
	if !utf8.Valid(data) {
		if cs != "" && !isUTF8Charset(cs) {
			// Conversion was not done (unknown charset): best effort.
			if dec, derr := charmap.Windows1252.NewDecoder().Bytes(data); derr == nil {
				data = dec
			}
		}
		data = bytes.ToValidUTF8(data, []byte("\uFFFD")) // a copy: b can take it back
		b.Truncate(start)
		b.Write(data)
	}
}

// crlfToLF is strings.ReplaceAll(string(b), "\r\n", "\n") done in place.
func crlfToLF(b []byte) []byte {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b
	}
	j := i
	for {
		b[j] = '\n'
		j++
		i += 2
		k := bytes.Index(b[i:], []byte("\r\n"))
		if k < 0 {
			j += copy(b[j:], b[i:])
			return b[:j]
		}
		j += copy(b[j:], b[i:i+k])
		i += k
	}
}

func isUTF8Charset(cs string) bool {
	cs = strings.ToLower(strings.TrimSpace(cs))
	return cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii"
}

// nested records an attached message as an attachment and walks into it so
// its own attachments are listed too. The part is streamed once: hashed and
// counted while it is parsed, never copied.
func (w *walker) nested(ent *message.Entity, path, filename string, depth int) {
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(ent.Body, h)}
	slot := len(w.p.Attachments)
	w.p.Attachments = append(w.p.Attachments, Attachment{ContentType: "message/rfc822", Part: path})
	inner, ierr := readEntity(cr)
	if filename == "" && inner != nil {
		if s, err := (&mail.Header{Header: inner.Header}).Subject(); err == nil && s != "" {
			filename = strings.ToValidUTF8(s, "\uFFFD") + ".eml"
		}
	}
	switch {
	case inner == nil:
		w.warn("part %s: attached message unreadable: %v", path, ierr)
	default:
		if ierr != nil {
			w.warnEntityErr(path, ierr)
		}
		// IMAP numbers the parts of an attached message below its own path; a
		// single-part attached message has its body at path.1.
		innerPath := path
		if !isMultipart(inner.Header) {
			innerPath = path + ".1"
		}
		w.walk(inner, innerPath, depth+1, false)
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		w.warn("part %s: body: %v", path, err)
	}
	a := &w.p.Attachments[slot]
	a.Filename, a.Size, a.SHA256 = filename, cr.n, hex.EncodeToString(h.Sum(nil))
}

// readEntity is message.ReadWithOptions with MaxHeaderBytes maxHeaderBytes,
// its body built by newEntity.
func readEntity(r io.Reader) (*message.Entity, error) {
	lr := &headerLimitReader{r: r, n: maxHeaderBytes}
	br := bufio.NewReader(lr)
	h, err := gmtextproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	lr.n = math.MaxInt64
	return newEntity(message.Header{Header: h}, br)
}

// readEntityBytes is readEntity for a message in memory: its body is read
// from raw itself, not copied through the bufio.Reader that read the header.
func readEntityBytes(raw []byte) (*message.Entity, error) {
	r := bytes.NewReader(raw)
	br := bufio.NewReader(&headerLimitReader{r: r, n: maxHeaderBytes})
	h, err := gmtextproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	body := len(raw) - r.Len() - br.Buffered() // read from r but not by ReadHeader
	return newEntity(message.Header{Header: h}, bytes.NewReader(raw[body:]))
}

// errHeaderTooBig is go-message's error for the same limit.
var errHeaderTooBig = errors.New("message: header exceeds maximum size")

type headerLimitReader struct {
	r io.Reader
	n int64
}

func (l *headerLimitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooBig
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// newEntity is message.New, except that a base64 body is decoded by
// b64Decoder: New gets a header holding only the Content-Type (all it reads
// besides the transfer encoding), so it still converts the charset of text
// parts, and the entity then gets its whole header back.
func newEntity(h message.Header, body io.Reader) (*message.Entity, error) {
	// The same test as go-message's; it ignores the encoding of a multipart.
	if strings.ToLower(h.Get("Content-Transfer-Encoding")) != "base64" || isMultipart(h) {
		return message.New(h, body)
	}
	var bare message.Header
	bare.Set("Content-Type", h.Get("Content-Type"))
	ent, err := message.New(bare, newB64Decoder(body))
	ent.Header = h
	return ent, err
}

// isMultipart is true when Entity.MultipartReader would return a reader.
func isMultipart(h message.Header) bool {
	ct, _, _ := h.ContentType()
	return strings.HasPrefix(ct, "multipart/")
}

// partReader is Entity.MultipartReader with its parts built by newEntity.
type partReader struct{ mr *gmtextproto.MultipartReader }

// multipartReader returns nil when ent is not a multipart; ct and params
// are its ent.Header.ContentType().
func multipartReader(ent *message.Entity, ct string, params map[string]string) *partReader {
	if !strings.HasPrefix(ct, "multipart/") {
		return nil
	}
	return &partReader{gmtextproto.NewMultipartReader(ent.Body, params["boundary"])}
}

// next returns the next part, or io.EOF after the last.
func (r *partReader) next() (*message.Entity, error) {
	p, err := r.mr.NextPart()
	if err != nil {
		return nil, err
	}
	return newEntity(message.Header{Header: p.Header}, p)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (w *walker) attachment(ent *message.Entity, path, ct, filename, disp string) {
	h := sha256.New()
	n, err := io.Copy(h, ent.Body)
	if err != nil {
		w.warn("part %s: body: %v", path, err)
	}
	cid := strings.Trim(strings.TrimSpace(ent.Header.Get("Content-Id")), "<>")
	w.p.Attachments = append(w.p.Attachments, Attachment{
		Filename:    filename,
		ContentType: ct,
		Size:        n,
		SHA256:      hex.EncodeToString(h.Sum(nil)),
		Inline:      strings.EqualFold(disp, "inline") || (disp == "" && cid != ""),
		ContentID:   truncate(strings.ToValidUTF8(cid, "\uFFFD"), 256),
		Part:        path,
	})
}

// htmlToText renders HTML as readable text; on failure it strips tags crudely
// rather than losing the body.
func htmlToText(html string, w *walker) string {
	if len(html) > maxHTMLBytes {
		html = html[:maxHTMLBytes]
	}
	text, err := html2text.FromString(html, html2text.Options{TextOnly: false, OmitLinks: false})
	if err != nil {
		w.warn("html: %v", err)
		return tagRe.ReplaceAllString(html, " ")
	}
	if len(text) > maxTextBytes {
		text = text[:maxTextBytes]
	}
	return text
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
