package dedupe

import (
	"regexp"
	"strings"

	"github.com/triage-dev/triage/ingest"
)

// Skip reasons. They are the `reason` of a skipped message, so they are
// stable codes (review filters and replays by them).
const (
	ReasonOwnOutbound    = "own_outbound"
	ReasonDeliveryReport = "delivery_report"
	ReasonMailerDaemon   = "mailer_daemon"
	ReasonNullSender     = "null_return_path"
	ReasonAutoSubmitted  = "auto_submitted"
	ReasonAutoReplyHdr   = "auto_reply_header"
	ReasonPrecedence     = "precedence"
	ReasonOutOfOffice    = "out_of_office"
	ReasonList           = "list"
	ReasonLoop           = "loop"
	ReasonDuplicate      = "duplicate"
	ReasonNoSender       = "no_sender"
	// ReasonAccept is the decision for mail that may open or join a case.
	ReasonAccept = "accept"
)

// Decision is Screen's verdict on one message.
type Decision struct {
	Skip   bool   `json:"skip"`
	Reason string `json:"reason"`
	// Detail says which header or pattern decided, for the agent.
	Detail string `json:"detail,omitempty"`
	// Attachable marks bounces and auto-replies: when they are about a known
	// case they are attached to it as an activity instead of being dropped.
	Attachable bool `json:"attachable,omitempty"`
}

// ScreenOptions are the configured parts of Screen.
type ScreenOptions struct {
	SkipLists bool
	// Own holds the normalised own outbound addresses.
	Own     map[string]bool
	Address AddressOptions
}

// ScreenOptions derives Screen's options from the config.
func (c *Config) ScreenOptions() ScreenOptions {
	o := ScreenOptions{SkipLists: c.SkipLists == nil || *c.SkipLists, Own: map[string]bool{}, Address: c.Address}
	for _, a := range c.OwnAddresses {
		if n, err := NormalizeAddress(a, c.Address); err == nil {
			o.Own[n] = true
		}
	}
	return o
}

var daemonLocal = regexp.MustCompile(`^(?:mailer-daemon|mailerdaemon|mail-daemon|maildaemon|postmaster|mdaemon)$`)

// oooSubject matches out-of-office subjects as the big clients write them,
// in English, German, French, Spanish, Dutch, Italian and Portuguese. It is
// anchored (after any reply prefix) and needs a colon or the end after the
// phrase, so "Out of office hours support?" is a question, not an auto-reply.
var oooSubject = regexp.MustCompile(`(?i)^(?:` + strings.Join([]string{
	// English
	`out of (?:the )?office(?: auto ?reply| reply| notice| notification)?`, `automatic reply`, `auto[- ]?reply`,
	`auto[- ]?response`, `autoresponder`, `away from (?:the )?office`, `on vacation`, `on holiday`, `on leave`,
	`absence notice`, `vacation reply`, `out-of-office`, `ooo`,
	// German
	`abwesenheitsnotiz`, `automatische antwort`, `abwesend`, `nicht im büro`, `au(?:ß|ss)er haus`,
	`au(?:ß|ss)er dienst`, `urlaubsabwesenheit`, `abwesenheit`,
	// French
	`réponse automatique`, `reponse automatique`, `absence du bureau`, `absent du bureau`, `absent\(e\)`,
	`message d'absence`, `absence`, `en congés?`,
	// Spanish
	`respuesta automática`, `respuesta automatica`, `fuera de la oficina`, `fuera de oficina`, `ausente`,
	`ausencia`, `de vacaciones`,
	// Dutch
	`automatisch antwoord`, `automatisch beantwoord`, `afwezig`, `niet aanwezig`, `buiten kantoor`,
	`afwezigheidsbericht`, `met vakantie`,
	// Italian
	`risposta automatica`, `fuori sede`, `fuori ufficio`, `assente`, `assenza`, `in ferie`,
	// Portuguese
	`resposta automática`, `resposta automatica`, `ausente do escritório`, `fora do escritório`,
	`fora do escritorio`, `ausência temporária`, `de férias`,
}, "|") + `)\s*(?:[:：\-–]|$)`)

// Screen decides whether a message must not open a case, on its headers and
// subject alone (loops and duplicates need the database; the stage checks
// them). Every rule of RFC 3834 and the usual vendor headers is applied; the
// first that matches gives the reason.
func Screen(p *ingest.Parsed, o ScreenOptions) Decision {
	from, _ := NormalizeAddress(p.From.Addr, o.Address)
	if from != "" && o.Own[from] {
		return Decision{Skip: true, Reason: ReasonOwnOutbound, Detail: "sent from a configured own address"}
	}
	ct := strings.ToLower(p.ContentType)
	if ct == "multipart/report" {
		rt := strings.ToLower(p.ReportType)
		return Decision{Skip: true, Reason: ReasonDeliveryReport, Detail: "multipart/report " + rt, Attachable: true}
	}
	if from != "" {
		if local := from[:strings.LastIndexByte(from, '@')]; daemonLocal.MatchString(local) {
			return Decision{Skip: true, Reason: ReasonMailerDaemon, Detail: "sender " + local, Attachable: true}
		}
	}
	if p.HasReturnPath {
		if rp := strings.Trim(strings.TrimSpace(p.ReturnPath), "<>"); rp == "" {
			return Decision{Skip: true, Reason: ReasonNullSender, Detail: "Return-Path: <>", Attachable: true}
		}
	}
	if v := strings.ToLower(strings.TrimSpace(headerValue(p, "Auto-Submitted"))); v != "" && v != "no" && !strings.HasPrefix(v, "no;") {
		return Decision{Skip: true, Reason: ReasonAutoSubmitted, Detail: "Auto-Submitted: " + truncate(v, 60), Attachable: true}
	}
	for _, h := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Response-Suppress"} {
		v, ok := headerPresent(p, h)
		if !ok {
			continue
		}
		lv := strings.ToLower(strings.TrimSpace(v))
		if h == "X-Auto-Response-Suppress" && (lv == "" || lv == "none") {
			continue
		}
		if lv == "no" || lv == "false" || lv == "0" {
			continue
		}
		return Decision{Skip: true, Reason: ReasonAutoReplyHdr, Detail: h + ": " + truncate(v, 60), Attachable: true}
	}
	switch v := strings.ToLower(strings.TrimSpace(headerValue(p, "Precedence"))); v {
	case "bulk", "junk":
		return Decision{Skip: true, Reason: ReasonPrecedence, Detail: "Precedence: " + v}
	case "list":
		// Mailing-list traffic follows skip_lists like List-Id does.
		if o.SkipLists {
			return Decision{Skip: true, Reason: ReasonPrecedence, Detail: "Precedence: " + v}
		}
	case "auto_reply", "auto-reply":
		return Decision{Skip: true, Reason: ReasonPrecedence, Detail: "Precedence: " + v, Attachable: true}
	}
	if isOOOSubject(p.Subject) {
		return Decision{Skip: true, Reason: ReasonOutOfOffice, Detail: "out-of-office subject", Attachable: true}
	}
	if o.SkipLists {
		for _, h := range []string{"List-Id", "List-Unsubscribe"} {
			if v, ok := headerPresent(p, h); ok {
				return Decision{Skip: true, Reason: ReasonList, Detail: h + ": " + truncate(v, 60)}
			}
		}
	}
	if from == "" {
		return Decision{Skip: true, Reason: ReasonNoSender, Detail: "no usable From address"}
	}
	return Decision{Reason: ReasonAccept}
}

// isOOOSubject tests the subject with reply/forward prefixes and tags removed
// but the original case and punctuation kept.
func isOOOSubject(s string) bool {
	s = strings.TrimSpace(s)
	for range 8 {
		t := strings.TrimSpace(leadingTag.ReplaceAllString(replyPrefixCI.ReplaceAllString(s, ""), ""))
		if t == s {
			break
		}
		s = t
	}
	return oooSubject.MatchString(s)
}

// replyPrefixCI is replyPrefix (anchored) matching any case.
var replyPrefixCI = regexp.MustCompile(`(?i)^` + strings.TrimPrefix(replyPrefix.String(), "^"))

func headerValue(p *ingest.Parsed, name string) string {
	v, _ := headerPresent(p, name)
	return v
}

// headerPresent finds a header whatever case the parser stored it under.
func headerPresent(p *ingest.Parsed, name string) (string, bool) {
	if v, ok := p.Headers[name]; ok {
		if len(v) == 0 {
			return "", true
		}
		return v[0], true
	}
	for k, v := range p.Headers {
		if strings.EqualFold(k, name) {
			if len(v) == 0 {
				return "", true
			}
			return v[0], true
		}
	}
	return "", false
}
