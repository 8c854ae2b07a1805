package dedupe

import (
	"crypto/sha256"
	"encoding/base32"
	"regexp"
	"strconv"
	"strings"

	"github.com/triage-dev/triage/ingest"
)

// ThreadKeyLen is the length of a thread key: 130 bits of SHA-256, enough
// that two threads never share a key, short enough for a subject token.
const ThreadKeyLen = 26

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ThreadKey is the stable key of the thread rooted at rootMessageID. It is
// the Case's external ID (Triage_Key__c): the cases stage upserts by it, so a
// retried write finds the case instead of creating a second one. Lower-case
// base32 (the field is case-insensitive), ThreadKeyLen characters.
func ThreadKey(rootMessageID string) string {
	sum := sha256.Sum256([]byte(CleanMessageID(rootMessageID)))
	return strings.ToLower(b32.EncodeToString(sum[:]))[:ThreadKeyLen]
}

// CleanMessageID strips blanks and angle brackets from a Message-ID.
func CleanMessageID(id string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">"))
}

// tokenCodec renders and finds the thread token of Config.Thread.TokenFormat.
type tokenCodec struct {
	format string
	re     *regexp.Regexp
}

func newTokenCodec(format string) *tokenCodec {
	before, after, _ := strings.Cut(format, "{key}")
	re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(before) + `([a-z2-7]{` + strconv.Itoa(ThreadKeyLen) + `})` + regexp.QuoteMeta(after))
	return &tokenCodec{format: format, re: re}
}

// Token is the subject token for a thread key.
func (t *tokenCodec) Token(key string) string { return strings.Replace(t.format, "{key}", key, 1) }

// Keys returns the thread keys of every token in s, first first, without repeats.
func (t *tokenCodec) Keys(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range t.re.FindAllStringSubmatch(s, 8) {
		k := strings.ToLower(m[1])
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

const maxRefs = 50

// referenceIDs lists the Message-IDs a message points to, nearest first:
// In-Reply-To, then References from last (the parent) to first (the root).
func referenceIDs(p *ingest.Parsed) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		id = CleanMessageID(id)
		if id != "" && !seen[id] && id != CleanMessageID(p.MessageID) {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range p.InReplyTo {
		add(id)
	}
	for i := len(p.References) - 1; i >= 0; i-- {
		add(p.References[i])
	}
	// The nearest ones decide; a hostile header with thousands of ids must
	// not cost thousands of look-ups.
	if len(out) > maxRefs {
		out = append(out[:maxRefs-1], out[len(out)-1]) // keep the root
	}
	return out
}

// rootID is the Message-ID a new thread is keyed by: the first reference
// (the thread's root), so two messages of a thread we only see the middle of
// still agree; the message's own id when it references nothing.
func rootID(p *ingest.Parsed) string {
	for _, id := range p.References {
		if id = CleanMessageID(id); id != "" {
			return id
		}
	}
	for _, id := range p.InReplyTo {
		if id = CleanMessageID(id); id != "" {
			return id
		}
	}
	return CleanMessageID(p.MessageID)
}
