package dedupe

import (
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrBadAddress is wrapped by NormalizeAddress errors.
var ErrBadAddress = errors.New("dedupe: not a usable mail address")

var addrParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}

// idnaProfile maps a domain for lookup (lower-cases, NFC) and turns it into
// punycode; it is lenient about labels (underscores, long labels appear in
// real mail) because rejecting a sender would lose the message's contact.
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// ParseAddress splits "Display Name <local@domain>" (RFC 2047 words decoded)
// into the display name and the normalised address.
func ParseAddress(s string, opts AddressOptions) (name, addr string, err error) {
	s = strings.TrimSpace(s)
	spec := s
	if a, perr := addrParser.Parse(s); perr == nil {
		name, spec = a.Name, a.Address
	} else if i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>'); i >= 0 && j > i {
		// Unparseable display name: keep what is between the last <>.
		name, spec = strings.Trim(strings.TrimSpace(s[:i]), `"`), s[i+1:j]
	}
	addr, err = normalizeSpec(spec, opts)
	return name, addr, err
}

// NormalizeAddress returns the canonical form of a mail address (with or
// without a display name) under opts: lower-case punycode domain, local part
// lower-cased and without +tag as configured, Gmail dots folded if asked.
// Two addresses of one mailbox normalise to the same string.
func NormalizeAddress(addr string, opts AddressOptions) (string, error) {
	_, a, err := ParseAddress(addr, opts)
	return a, err
}

func normalizeSpec(spec string, opts AddressOptions) (string, error) {
	spec = strings.TrimSpace(spec)
	spec = strings.TrimSuffix(strings.TrimPrefix(spec, "<"), ">")
	at := strings.LastIndexByte(spec, '@')
	if at <= 0 || at == len(spec)-1 {
		return "", fmt.Errorf("%w: %q has no local part or domain", ErrBadAddress, truncate(spec, 80))
	}
	local, domain := spec[:at], spec[at+1:]
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		// Quoted local part the parser did not unquote (it failed on the rest).
		local = unquoteLocal(local[1 : len(local)-1])
	}
	if local == "" || !utf8.ValidString(local) || strings.IndexFunc(local, badLocalRune) >= 0 {
		return "", fmt.Errorf("%w: bad local part in %q", ErrBadAddress, truncate(spec, 80))
	}
	if strings.HasPrefix(domain, "[") {
		// Address literal ([192.0.2.1]): keep as is, lower-cased.
		domain = strings.ToLower(domain)
	} else {
		domain = strings.TrimSuffix(domain, ".")
		d, err := idnaProfile.ToASCII(domain)
		// A domain whose punycode form does not map to itself again is not
		// one DNS could resolve; rejecting it keeps normalisation idempotent.
		if err != nil || !utf8.ValidString(domain) || d == "" || !stableASCII(d) || strings.IndexFunc(d, badDomainRune) >= 0 || strings.Contains(d, "..") ||
			strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			return "", fmt.Errorf("%w: bad domain in %q", ErrBadAddress, truncate(spec, 80))
		}
		domain = d
	}
	if opts.CaseInsensitiveLocal == nil || *opts.CaseInsensitiveLocal {
		local = strings.ToLower(local)
	}
	if opts.StripPlusTags == nil || *opts.StripPlusTags {
		if i := strings.IndexByte(local, '+'); i > 0 {
			local = local[:i]
		}
	}
	if opts.GmailDotFolding && (domain == "gmail.com" || domain == "googlemail.com") {
		domain = "gmail.com"
		local = strings.ReplaceAll(local, ".", "")
		if local == "" {
			return "", fmt.Errorf("%w: empty gmail local part", ErrBadAddress)
		}
	}
	return local + "@" + domain, nil
}

func unquoteLocal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func stableASCII(d string) bool {
	again, err := idnaProfile.ToASCII(d)
	return err == nil && again == d
}

func badLocalRune(r rune) bool {
	return r == '@' || r == '<' || r == '>' || r == ',' || r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r)
}

func badDomainRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Domain returns the domain of a normalised address.
func Domain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// replyPrefix matches one reply/forward marker at the start of a subject in
// the languages mail clients localise them to, optionally counted ("Re[2]:",
// "Re(3):"), with ASCII or full-width colon.
var replyPrefix = regexp.MustCompile(`^(?:re|aw|sv|fwd?|fw|wg|tr|rv|vs|vb|antw|antwort|doorst|r|rif|enc|res|ref|odp|pd|vl|ynt|ilt|atb|tr|sv|απ|σχετ|отв|回复|转发|答复)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*`)

// leadingTag matches a bracketed tag at the start: [EXTERNAL], [list-name], (EXT).
var leadingTag = regexp.MustCompile(`^(?:\[[^\[\]]{0,64}\]|\((?:external|ext|extern|externe|externo|esterno)\))\s*`)

// anyRefToken matches the default thread token anywhere ([ref:T-…], [ref:…]);
// configured formats are also removed by the stage.
var anyRefToken = regexp.MustCompile(`\[ref:[^\[\]\s]{1,100}\]`)

// trailingFwd is the "(fwd)" some clients append.
var trailingFwd = regexp.MustCompile(`\s*\((?:fwd|fw)\)$`)

// NormalizeSubject reduces a subject to what stays constant across a thread:
// reply/forward prefixes in many languages (repeated and mixed), list and
// [EXTERNAL] tags and thread tokens removed, whitespace collapsed, lower-cased.
func NormalizeSubject(s string) string {
	return normalizeSubject(s, nil)
}

func normalizeSubject(s string, token *regexp.Regexp) string {
	s = strings.ToLower(strings.ToValidUTF8(s, ""))
	// Iterate to a fixed point so the result is idempotent whatever order
	// prefixes, tags and tokens come in.
	for range 64 {
		prev := s
		s = anyRefToken.ReplaceAllString(s, " ")
		if token != nil {
			s = token.ReplaceAllString(s, " ")
		}
		s = strings.Join(strings.Fields(s), " ")
		for {
			t := replyPrefix.ReplaceAllString(s, "")
			t = leadingTag.ReplaceAllString(t, "")
			t = trailingFwd.ReplaceAllString(t, "")
			t = strings.TrimSpace(t)
			if t == s {
				break
			}
			s = t
		}
		s = strings.ToLower(s)
		if s == prev {
			break
		}
	}
	return s
}
