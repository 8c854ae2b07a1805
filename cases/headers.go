package cases

import "strings"

// redactHeaders redacts a header block field by field. Trace fields, which
// relays and signers write, not the sender, skip the phone, API-key and IBAN
// patterns: relay IPs and queue ids look like phone numbers, and DKIM/ARC
// signatures are high-entropy base64 in which IBAN-shaped runs turn up, so
// those patterns only mangled them, and running them over the trace block
// cost nine tenths of a message's redaction time. Cards, SSNs, secrets and
// birth dates are still redacted there.
func (s *Stage) redactHeaders(h string) string {
	if !s.cfg.IsRedact() || s.red == nil || h == "" {
		return h
	}
	var out, chunk strings.Builder
	chunkTrace := false
	flush := func() {
		if chunk.Len() == 0 {
			return
		}
		red := s.red
		if chunkTrace {
			red = s.traceRed
		}
		out.WriteString(red.String(chunk.String()))
		chunk.Reset()
	}
	trace := false
	for rest := h; rest != ""; {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = ""
		}
		if line[0] != ' ' && line[0] != '\t' { // a new field; else a continuation
			name, _, _ := strings.Cut(line, ":")
			trace = isTraceHeader(strings.TrimSpace(name))
		}
		if trace != chunkTrace {
			flush()
			chunkTrace = trace
		}
		chunk.WriteString(line)
	}
	flush()
	return out.String()
}

// isTraceHeader reports whether a field is written by relays or signers.
func isTraceHeader(name string) bool {
	switch strings.ToLower(name) {
	case "received", "x-received", "received-spf", "authentication-results",
		"dkim-signature", "x-google-dkim-signature", "domainkey-signature",
		"arc-seal", "arc-message-signature", "arc-authentication-results":
		return true
	}
	return false
}
