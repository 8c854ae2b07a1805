// Package ingest pulls mail over IMAP and parses it into Parsed.
package ingest

import "time"

// Address is a decoded mailbox address.
type Address struct {
	Name string `json:"name,omitempty"` // display name, RFC 2047-decoded
	Addr string `json:"addr"`           // addr-spec as written (not normalised; dedupe normalises)
}

// Attachment is an attachment's metadata; its bytes stay in the raw message
// and are found again by Part (the MIME part path, e.g. "2.1").
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"` // decoded size in bytes
	SHA256      string `json:"sha256"`
	Inline      bool   `json:"inline,omitempty"`
	ContentID   string `json:"content_id,omitempty"`
	Part        string `json:"part"`
}

// Parsed is the parsed form of a message that later stages read. It is stored
// as JSON with the message, so fields are only ever added, never renamed.
type Parsed struct {
	MessageID   string    `json:"message_id"`            // without angle brackets
	Synthesized bool      `json:"synthesized,omitempty"` // MessageID made from the content hash
	InReplyTo   []string  `json:"in_reply_to,omitempty"`
	References  []string  `json:"references,omitempty"`
	From        Address   `json:"from"`
	Sender      *Address  `json:"sender,omitempty"`
	ReplyTo     []Address `json:"reply_to,omitempty"`
	To          []Address `json:"to,omitempty"`
	Cc          []Address `json:"cc,omitempty"`
	Subject     string    `json:"subject"`
	Date        time.Time `json:"date,omitzero"`
	// ReturnPath is the Return-Path address; HasReturnPath distinguishes an
	// absent header from an empty one ("<>"), which marks a bounce.
	ReturnPath    string `json:"return_path,omitempty"`
	HasReturnPath bool   `json:"has_return_path,omitempty"`
	// ContentType of the top-level entity, e.g. "multipart/report".
	ContentType string `json:"content_type"`
	// ReportType is the report-type parameter of a multipart/report.
	ReportType string `json:"report_type,omitempty"`
	// Headers keeps the headers later stages look at: Auto-Submitted,
	// Precedence, List-Id, List-Unsubscribe, X-*, keyed by canonical name.
	Headers map[string][]string `json:"headers,omitempty"`
	// Text is the body as plain text: text/plain preferred, else HTML converted.
	Text string `json:"text"`
	// HTML is the raw HTML body when there is one (never rendered unsanitised).
	HTML        string       `json:"html,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Warnings are non-fatal problems met while parsing (unknown charset, …).
	Warnings []string `json:"warnings,omitempty"`
}

// Header returns the first value of a kept header, or "".
func (p *Parsed) Header(name string) string {
	if v := p.Headers[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
