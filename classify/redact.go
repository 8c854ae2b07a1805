package classify

import (
	"log/slog"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Findings says what a redaction replaced. It holds counts only, never values.
type Findings struct {
	Counts map[string]int // per category: card, ssn, iban, phone, secret, apikey, dob
}

// Card reports whether a payment card number was found.
func (f Findings) Card() bool { return f.Counts["card"] > 0 }

// SSN reports whether a US social security number was found.
func (f Findings) SSN() bool { return f.Counts["ssn"] > 0 }

// Sensitive reports whether the source message must be purged (card or SSN).
func (f Findings) Sensitive() bool { return f.Card() || f.SSN() }

// Total is the number of replaced values.
func (f Findings) Total() int {
	n := 0
	for _, c := range f.Counts {
		n += c
	}
	return n
}

// Redactor replaces PII with typed placeholders ([CARD_1], [IBAN_1], …). The
// mapping from placeholder to value exists only during one Redact call and is
// never returned, logged or stored. A Redactor is safe for concurrent use.
type Redactor struct {
	rules []redactRule
}

type redactRule struct {
	hint func(s, lower string) bool // cheap pre-check; nil = always run
	// minDigits: every match has at least this many digits, all in one digit
	// cluster (see digitCluster), so a text without such a cluster skips the
	// regular expression. Most mail has none: running the number patterns
	// over every body was a quarter of the pipeline's CPU.
	minDigits int
	cat       string
	re        *regexp.Regexp
	group     int                 // submatch replaced (0 = whole match)
	check     func(v string) bool // nil = always
}

const dateRe = `(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}\.?\s+\p{L}{3,12}\.?,?\s+\d{4}|\p{L}{3,12}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})`

// NewRedactor returns a Redactor for the given categories (nil: all).
func NewRedactor(categories []string) *Redactor {
	if categories == nil {
		categories = AllRedactions
	}
	all := []redactRule{
		// Secrets first: "password: hunter2" keeps the label, hides the value.
		{cat: "secret", group: 2, hint: wordThen(assignment, "password", "passwort", "kennwort", "passwd", "pwd", "passe", "contraseña", "clave", "wachtwoord", "senha", "ordine", "pin", "passcode", "secret", "key", "token"), re: regexp.MustCompile(`(?i)\b(password|passwort|kennwort|passwd|pwd|mot de passe|contraseña|clave|wachtwoord|senha|parola d'ordine|pin|passcode|secret|client[_ ]secret|api[_ ]?key|access[_ ]?token|token)\s*[:=]\s*["']?([^\s"']{3,})`)},
		{cat: "secret", group: 2, hint: wordThen(copula, "password", "passwort", "kennwort", "passe", "contraseña", "wachtwoord", "senha", "pin"), re: regexp.MustCompile(`(?i)\b(password|passwort|kennwort|mot de passe|contraseña|wachtwoord|senha|pin)\s+(?:is|ist|est|es|is nu|é|è)\s*:?\s*["']?([^\s"']{3,})`)},
		{cat: "apikey", hint: longRun(16), re: regexp.MustCompile(`\b(?:sk-(?:proj-)?[A-Za-z0-9_-]{16,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})`)},
		{cat: "apikey", group: 1, hint: hasAny("bearer"), re: regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)`)},
		{cat: "apikey", hint: longRun(24), re: regexp.MustCompile(`[A-Za-z0-9_+/=-]{24,}`), check: highEntropy},
		// IBANs in upper case, compact or in groups of four as printed.
		{cat: "iban", hint: ibanStart, re: regexp.MustCompile(`\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b`), check: validIBAN},
		{cat: "card", minDigits: 13, re: regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`), check: validCard},
		{cat: "ssn", minDigits: 9, re: regexp.MustCompile(`\b\d{3}[- ]\d{2}[- ]\d{4}\b`), check: validSSN},
		{cat: "ssn", group: 2, minDigits: 9, hint: hasAny("ssn", "social security"), re: regexp.MustCompile(`(?i)\b(ssn|social security(?: number| no\.?)?)\D{0,20}?(\d{9})\b`), check: validSSN},
		{cat: "dob", group: 2, hint: hasAny("birth", "dob", "d.o.b", "born", "geburt", "geboren", "naissance", "né", "nacimiento", "nacid", "geboorte", "nascita", "nato", "nata", "nascimento", "nascid"), re: regexp.MustCompile(`(?i)\b(date of birth|dob|d\.o\.b\.?|birth ?date|birthday|born on|born|geburtsdatum|geboren am|date de naissance|née? le|fecha de nacimiento|nacido el|nacida el|geboortedatum|geboren op|data di nascita|nato il|nata il|data de nascimento|nascido em|nascida em)\s*(?:is|:|-)?\s*` + dateRe)},
		{cat: "phone", minDigits: 8, re: regexp.MustCompile(`(?:\+|\b00)\d{1,3}[\s.-]?(?:\(0?\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}\b`), check: phoneDigits},
		{cat: "phone", minDigits: 8, re: regexp.MustCompile(`(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b`), check: phoneDigits},
		{cat: "phone", minDigits: 8, re: regexp.MustCompile(`\b0\d{2,4}[\s/.-]\d{3,8}(?:[\s.-]\d{2,5})?\b`), check: phoneDigits},
	}
	r := &Redactor{}
	for _, rule := range all {
		if slices.Contains(categories, rule.cat) {
			r.rules = append(r.rules, rule)
		}
	}
	return r
}

// Redact returns s with every finding replaced by a placeholder, and what was found.
// The same value gets the same placeholder within one call.
func (r *Redactor) Redact(s string) (string, Findings) {
	f := Findings{Counts: map[string]int{}}
	if r == nil || s == "" {
		return s, f
	}
	seen := map[string]string{} // value → placeholder; local, discarded on return
	lower := foldLower(s)
	digits := strings.ContainsAny(s, "0123456789")
	cluster := -1 // largest digit cluster of s; -1: not measured since s changed
	for _, rule := range r.rules {
		if rule.hint != nil && !rule.hint(s, lower) {
			continue
		}
		if rule.cat != "secret" && rule.cat != "apikey" && !digits {
			continue // every other category needs digits
		}
		if rule.minDigits > 0 {
			if cluster < 0 {
				cluster = digitCluster(s)
			}
			if cluster < rule.minDigits {
				continue
			}
		}
		idx := rule.re.FindAllStringSubmatchIndex(s, -1)
		if idx == nil {
			continue
		}
		var b strings.Builder
		last := 0
		for _, m := range idx {
			start, end := m[2*rule.group], m[2*rule.group+1]
			if start < 0 || start < last {
				continue
			}
			v := s[start:end]
			if strings.HasPrefix(v, "[") || (rule.check != nil && !rule.check(v)) {
				continue
			}
			key := rule.cat + "\x00" + v
			ph, ok := seen[key]
			if !ok {
				f.Counts[rule.cat]++
				ph = "[" + strings.ToUpper(rule.cat) + "_" + strconv.Itoa(f.Counts[rule.cat]) + "]"
				seen[key] = ph
			}
			b.WriteString(s[last:start])
			b.WriteString(ph)
			last = end
		}
		if last > 0 {
			b.WriteString(s[last:])
			s = b.String()
			cluster = -1
		}
	}
	return s, f
}

// Without returns a Redactor that skips the given categories.
func (r *Redactor) Without(categories ...string) *Redactor {
	if r == nil {
		return nil
	}
	out := &Redactor{}
	for _, rule := range r.rules {
		if !slices.Contains(categories, rule.cat) {
			out.rules = append(out.rules, rule)
		}
	}
	return out
}

// String redacts s for logs and Salesforce text fields.
func (r *Redactor) String(s string) string {
	out, _ := r.Redact(s)
	return out
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// digitCluster returns the most digits found in one cluster of s: digits
// separated by at most two characters of whitespace or . - / ( ) +. Every
// card, SSN and phone pattern puts at most two such characters between two
// digits of a match (as in "+44 (0) 20" or "(555) 123-4567"), so a match
// never has more digits than the largest cluster.
func digitCluster(s string) int {
	best, n, gap := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if gap > 2 {
				n = 0
			}
			n++
			gap = 0
			best = max(best, n)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
			c == '.' || c == '-' || c == '/' || c == '(' || c == ')' || c == '+':
			gap++
		default:
			n, gap = 0, 0
		}
	}
	return best
}

// ibanStart reports whether s has two capital letters followed by two
// digits somewhere, which every IBAN match begins with.
func ibanStart(s, _ string) bool {
	for i := 0; i+3 < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' && s[i+1] >= 'A' && s[i+1] <= 'Z' &&
			s[i+2] >= '0' && s[i+2] <= '9' && s[i+3] >= '0' && s[i+3] <= '9' {
			return true
		}
	}
	return false
}

// validCard: 13–19 digits, a major network's prefix, and the Luhn checksum.
// The prefix check keeps 15-digit order numbers that happen to pass Luhn from
// being taken for cards.
func validCard(v string) bool {
	d := digitsOf(v)
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	p2, _ := strconv.Atoi(d[:2])
	p4, _ := strconv.Atoi(d[:4])
	switch {
	case d[0] == '4': // Visa
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
	case p2 == 34 || p2 == 37: // Amex
	case d[0] == '6': // Discover, UnionPay, Maestro
	case p2 == 35 || p2 == 36 || p2 == 38 || p2 == 30: // JCB, Diners
	case p2 == 50 || (p2 >= 56 && p2 <= 58): // Maestro
	default:
		return false
	}
	return luhn(d)
}

func luhn(d string) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// validIBAN checks the ISO 13616 mod-97 checksum.
func validIBAN(v string) bool {
	s := strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	r := s[4:] + s[:4]
	var b strings.Builder
	for _, c := range r {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			b.WriteString(strconv.Itoa(int(c-'A') + 10))
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// validSSN rejects numbers the SSA never issues (area 000, 666, 9xx; group 00; serial 0000).
func validSSN(v string) bool {
	d := digitsOf(v)
	if len(d) != 9 {
		return false
	}
	area, group, serial := d[:3], d[3:5], d[5:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// phoneDigits: 8–15 digits, written with a + or separators; a bare digit run
// is an order or invoice number far more often than a phone number.
func phoneDigits(v string) bool {
	n := len(digitsOf(v))
	return n >= 8 && n <= 15 && (strings.HasPrefix(v, "+") || strings.ContainsAny(v, " .-()/"))
}

// highEntropy flags long random-looking tokens (keys, tokens) and not words,
// order numbers or paths: mixed letters and digits and > 3.5 bits per char.
func highEntropy(v string) bool {
	var lower, upper, digit int
	freq := map[rune]int{}
	for _, c := range v {
		switch {
		case unicode.IsLower(c):
			lower++
		case unicode.IsUpper(c):
			upper++
		case unicode.IsDigit(c):
			digit++
		}
		freq[c]++
	}
	if digit < 2 || lower+upper < 4 {
		return false
	}
	if !(lower > 0 && upper > 0) && len(v) < 32 {
		return false
	}
	h := 0.0
	n := float64(len(v))
	for _, c := range freq {
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h > 3.5
}

func hasAny(words ...string) func(s, lower string) bool {
	return func(_, lower string) bool {
		for _, w := range words {
			if strings.Contains(lower, w) {
				return true
			}
		}
		return false
	}
}

// foldLower lowercases s for the pre-checks, also folding the two letters
// that (?i) matches as ASCII but strings.ToLower leaves alone (long s, Kelvin
// sign), so a pre-check never skips what the pattern would match.
func foldLower(s string) string {
	lower := strings.ToLower(s)
	if strings.ContainsRune(lower, 'ſ') || strings.ContainsRune(lower, '\u212a') {
		lower = strings.NewReplacer("ſ", "s", "\u212a", "k").Replace(lower)
	}
	return lower
}

// wordThen is the pre-check of the secret patterns: one of words (each the
// end of a label the pattern knows) followed by what next accepts. Labels
// alone are everywhere ("shipping", "keyboard", "tokens"); a label followed
// by ":" or "is" is rare, and the patterns are the slowest of all.
func wordThen(next func(rest string) bool, words ...string) func(s, lower string) bool {
	return func(_, lower string) bool {
		for _, w := range words {
			for i := 0; ; {
				j := strings.Index(lower[i:], w)
				if j < 0 {
					break
				}
				i += j + len(w)
				if next(lower[i:]) {
					return true
				}
			}
		}
		return false
	}
}

// assignment: optional whitespace, then ":" or "=".
func assignment(rest string) bool {
	rest = strings.TrimLeft(rest, " \t\n\f\r")
	return rest != "" && (rest[0] == ':' || rest[0] == '=')
}

// copula: whitespace, then is/ist/est/es/é/è (all start with i, e, é or è).
func copula(rest string) bool {
	t := strings.TrimLeft(rest, " \t\n\f\r")
	if len(t) == len(rest) {
		return false
	}
	return strings.HasPrefix(t, "i") || strings.HasPrefix(t, "e") || strings.HasPrefix(t, "é") || strings.HasPrefix(t, "è")
}

// longRun reports whether s has a run of at least n token characters.
func longRun(n int) func(s, lower string) bool {
	return func(s, _ string) bool {
		run := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '+' || c == '/' || c == '=' || c == '.' {
				run++
				if run >= n {
					return true
				}
			} else {
				run = 0
			}
		}
		return false
	}
}

// Attr is a log attribute holding the redacted value, for slog calls that
// must include message text.
func (r *Redactor) Attr(key, value string) slog.Attr {
	return slog.String(key, r.String(value))
}
