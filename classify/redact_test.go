package classify

import (
	"context"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedactor(t *testing.T) {
	r := NewRedactor(nil)
	tests := []struct {
		name, in string
		want     string
		card     bool
		ssn      bool
	}{
		{"visa spaced", "my card 4111 1111 1111 1111 was charged", "my card [CARD_1] was charged", true, false},
		{"mastercard dashed", "card: 5500-0000-0000-0004.", "card: [CARD_1].", true, false},
		{"amex", "amex 378282246310005 ok", "amex [CARD_1] ok", true, false},
		{"luhn fails", "card 4111 1111 1111 1112", "card 4111 1111 1111 1112", false, false},
		{"order number passes luhn but no card prefix", "order 113542617735902 please", "order 113542617735902 please", false, false},
		{"same value same placeholder", "4111111111111111 and again 4111111111111111", "[CARD_1] and again [CARD_1]", true, false},
		{"ssn", "SSN 123-45-6789.", "SSN [SSN_1].", false, true},
		{"ssn context 9 digits", "my social security number is 123456789", "my social security number is [SSN_1]", false, true},
		{"invalid ssn area", "ref 666-12-3456", "ref 666-12-3456", false, false},
		{"iban", "IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [IBAN_1] thanks", false, false},
		{"iban compact", "GB82WEST12345698765432", "[IBAN_1]", false, false},
		{"iban bad checksum", "DE89370400440532013001", "DE89370400440532013001", false, false},
		{"password line", "password: hunter2!", "password: [SECRET_1]", false, false},
		{"german password", "Mein Passwort ist Sommer2024", "Mein Passwort ist [SECRET_1]", false, false},
		{"api key prefix", "key sk-proj-abcdefghijklmnop1234567890 leaked", "key [APIKEY_1] leaked", false, false},
		{"aws key", "AKIAIOSFODNN7EXAMPLE", "[APIKEY_1]", false, false},
		{"high entropy token", "token Zx9qL2mN8vB4cR7tY1wE5uI3oP6aS0dF here", "token [APIKEY_1] here", false, false},
		{"bearer", "Authorization: Bearer abcdefghijklmnopqrstuvwx", "Authorization: Bearer [APIKEY_1]", false, false},
		{"phone intl", "call me on +49 30 1234567", "call me on [PHONE_1]", false, false},
		{"phone us", "or (555) 010-2233", "or [PHONE_1]", false, false},
		{"dob", "date of birth: 01/02/1980", "date of birth: [DOB_1]", false, false},
		{"dob words", "born on March 3, 1975", "born on [DOB_1]", false, false},
		{"plain words untouched", "I want to cancel order 00123842 from 2024", "I want to cancel order 00123842 from 2024", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f := r.Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if f.Card() != tt.card || f.SSN() != tt.ssn {
				t.Errorf("card %v ssn %v, want %v %v", f.Card(), f.SSN(), tt.card, tt.ssn)
			}
		})
	}
	// Categories are configurable.
	only := NewRedactor([]string{"card"})
	if got, _ := only.Redact("4111 1111 1111 1111 +49 30 1234567"); got != "[CARD_1] +49 30 1234567" {
		t.Errorf("card-only redactor: %q", got)
	}
}

func TestRedactorBitextFalsePositives(t *testing.T) {
	rows, err := BitextRows("")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRedactor(nil)
	sensitive := 0
	for _, row := range rows {
		if _, f := r.Redact(row.Text); f.Sensitive() {
			sensitive++
		}
	}
	// Customer-service utterances with order and invoice numbers must rarely look like cards or SSNs.
	if rate := float64(sensitive) / float64(len(rows)); rate > 0.005 {
		t.Errorf("%d of %d Bitext utterances flagged sensitive (%.2f%%)", sensitive, len(rows), 100*rate)
	}
	inj := 0
	for _, row := range rows {
		if InjectionSuspected(row.Text) {
			inj++
		}
	}
	if rate := float64(inj) / float64(len(rows)); rate > 0.005 {
		t.Errorf("%d of %d Bitext utterances flagged as injection", inj, len(rows))
	}
}

var placeholderRe = regexp.MustCompile(`\[(CARD|SSN|IBAN|PHONE|SECRET|APIKEY|DOB)_\d+\]`)

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "password: x", "123-45-6789", "+49 30 1234567",
		"born on 1 Jan 1980", "sk-abcdefghijklmnopqrstuvwxyz", "[CARD_1]", "ü 4111-1111-1111-1111 ß"} {
		f.Add(s)
	}
	r := NewRedactor(nil)
	ungated := withoutGates(r)
	f.Fuzz(func(t *testing.T, s string) {
		out, fd := r.Redact(s)
		if want, _ := ungated.Redact(s); out != want {
			t.Fatalf("pre-checks changed the result of %q:\n got %q\nwant %q", s, out, want)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of valid input")
		}
		if fd.Total() == 0 && out != s {
			t.Fatalf("changed without findings: %q -> %q", s, out)
		}
		// Idempotent: redacting again finds nothing new.
		out2, fd2 := r.Redact(out)
		if fd2.Card() || fd2.SSN() {
			t.Fatalf("second pass found card/ssn in %q", out)
		}
		_ = out2
		// Every Luhn-valid card in the input is gone.
		for _, m := range regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`).FindAllString(out, -1) {
			if validCard(m) {
				t.Fatalf("card %q survived in %q", m, out)
			}
		}
	})
}

// withoutGates is r without any pre-check (hints, digit clusters): what they
// skip must never have matched.
func withoutGates(r *Redactor) *Redactor {
	u := &Redactor{rules: slices.Clone(r.rules)}
	for i := range u.rules {
		u.rules[i].minDigits = 0
		u.rules[i].hint = nil
	}
	return u
}

// TestRedactGatesChangeNothing compares redaction with and without the
// pre-checks over generated text dense in digits, separators and the shapes
// every number pattern looks for.
func TestRedactGatesChangeNothing(t *testing.T) {
	r := NewRedactor(nil)
	u := withoutGates(r)
	pieces := []string{"0", "1", "4", "5", "9", "00", "+", "(", ")", " ", "  ", "-", ".", "/", "\n", "\t", "x", "DE", "GB", "AB",
		"4111", "1111", "555", "123", "45", "6789", "+49 ", "(0) ", "ssn ", "SSN: ", "born on ", "IBAN ", "é", "[CARD_1]", "ü",
		"password", "PASSWORT", "paſſword", "pin", "PIN", "key", "api_key", "token", "Secret", ":", "=", " is ", " ist ", "é ", "mot de passe", "hunter2", "Bearer ", "abcdefghij", "sk-", "\u212a", "\u212aey"}
	rnd := rand.New(rand.NewPCG(7, 11))
	changed := 0
	for i := range 10000 {
		var b strings.Builder
		for range 5 + rnd.IntN(40) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		s := b.String()
		got, _ := r.Redact(s)
		want, _ := u.Redact(s)
		if got != want {
			t.Fatalf("case %d: pre-checks changed the result of %q:\n got %q\nwant %q", i, s, got, want)
		}
		if got != s {
			changed++
		}
	}
	// The generator must exercise the patterns, or the comparison proves nothing.
	if changed < 400 {
		t.Fatalf("only %d of 10000 generated texts had anything redacted", changed)
	}
	t.Logf("%d of 10000 generated texts had something redacted", changed)
}

// TestPIINeverReachesLLM plants secrets in every part of the input and checks
// no request body the LLM server received contains them.
func TestPIINeverReachesLLM(t *testing.T) {
	secrets := []string{
		"4111 1111 1111 1111", "4111111111111111", "5500-0000-0000-0004", "5500000000000004", "378282246310005",
		"123-45-6789", "123456789", "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82WEST12345698765432",
		"hunter2!", "Sommer2024", "sk-proj-abcdefghijklmnop1234567890", "AKIAIOSFODNN7EXAMPLE", "+49 30 1234567", "01/02/1980",
	}
	body := `Hello,
please refund my card 4111 1111 1111 1111 (also tried 5500-0000-0000-0004 and amex 378282246310005).
My SSN is 123-45-6789 and my social security number 123456789 for the form.
Pay back to IBAN DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432.
password: hunter2!
Mein Passwort ist Sommer2024
Our key sk-proj-abcdefghijklmnop1234567890 and AKIAIOSFODNN7EXAMPLE.
Call +49 30 1234567, date of birth: 01/02/1980.
Thanks`
	in := Input{
		Subject:  "Refund to 4111111111111111",
		Body:     body,
		Context:  &AccountContext{AccountName: "ACME 123-45-6789", Tier: "gold", OpenCases: 1, RecentSubjects: []string{"card 5500000000000004 declined"}},
		Thread:   []string{"earlier: my IBAN is GB82WEST12345698765432 and password: hunter2!"},
		Examples: []Example{{Subject: "x", Body: "refund to DE89370400440532013000 please", Category: "REFUND"}},
	}
	f := &fakeLLM{script: mk(reply(validAnswer))}
	l, _ := newTestLLM(t, f, nil)
	res, err := l.Classify(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Flags.SensitiveData || !res.Escalate {
		t.Errorf("sensitive data not flagged: %+v", res.Flags)
	}
	if len(f.bodies) == 0 {
		t.Fatal("no requests")
	}
	for _, b := range f.bodies {
		// JSON escaping must not hide a value: compare against the decoded text too.
		plain := strings.ReplaceAll(b, `\u003c`, "<")
		for _, s := range secrets {
			if strings.Contains(plain, s) {
				t.Errorf("request body contains %q", s)
			}
		}
		for _, tag := range []string{"[CARD_1]", "[SSN_1]", "[IBAN_1]", "[SECRET_1]", "[APIKEY_1]", "[PHONE_1]", "[DOB_1]"} {
			if !strings.Contains(b, tag) {
				t.Errorf("placeholder %s missing from request", tag)
			}
		}
	}
	_ = http.StatusOK
}
