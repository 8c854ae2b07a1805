package dedupe

import (
	"errors"
	"strings"
	"testing"
)

func defaultAddrOpts() AddressOptions {
	var c Config
	c.SetDefaults()
	return c.Address
}

func TestNormalizeAddress(t *testing.T) {
	def := defaultAddrOpts()
	gmail := def
	gmail.GmailDotFolding = true
	f := false
	caseSens := def
	caseSens.CaseInsensitiveLocal = &f
	keepTags := def
	keepTags.StripPlusTags = &f
	tests := []struct {
		in   string
		opts AddressOptions
		want string
	}{
		{"John.Doe@Example.COM", def, "john.doe@example.com"},
		{"John Doe <John.Doe+support@Example.com>", def, "john.doe@example.com"},
		{`"Doe, John" <jdoe@example.com.>`, def, "jdoe@example.com"},
		{"=?UTF-8?B?SsO8cmdlbg==?= <j@b\u00fccher.de>", def, "j@xn--bcher-kva.de"},
		{"j@BÜCHER.de", def, "j@xn--bcher-kva.de"},
		{"j@xn--bcher-kva.de", def, "j@xn--bcher-kva.de"},
		{"J.O.H.N+x@GoogleMail.com", gmail, "john@gmail.com"},
		{"J.O.H.N@gmail.com", def, "j.o.h.n@gmail.com"},
		{"John@Example.com", caseSens, "John@example.com"},
		{"a+b@example.com", keepTags, "a+b@example.com"},
		{"+only@example.com", def, "+only@example.com"},
		{"<bounce@example.org>", def, "bounce@example.org"},
		{"broken \"name <x@example.org>", def, "x@example.org"},
	}
	for _, tt := range tests {
		got, err := NormalizeAddress(tt.in, tt.opts)
		if err != nil {
			t.Errorf("NormalizeAddress(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "nobody", "@example.com", "x@", "a b@example.com", "x@exa mple.com", "x@-.."} {
		if got, err := NormalizeAddress(bad, def); !errors.Is(err, ErrBadAddress) {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want ErrBadAddress", bad, got, err)
		}
	}
}

func TestParseAddressName(t *testing.T) {
	name, addr, err := ParseAddress("=?ISO-8859-1?Q?Andr=E9_Pirard?= <PIRARD@vm1.ulg.ac.be>", defaultAddrOpts())
	if err != nil || name != "André Pirard" || addr != "pirard@vm1.ulg.ac.be" {
		t.Fatalf("got %q %q %v", name, addr, err)
	}
}

func TestNormalizeSubject(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Re: Order 42 missing", "order 42 missing"},
		{"RE: re: Re[2]: Order 42", "order 42"},
		{"AW: WG: Rechnung", "rechnung"},
		{"SV: VS: Fråga", "fråga"},
		{"Fwd: FW: TR: RV: Problème", "problème"},
		{"Antw: Doorst: vraag", "vraag"},
		{"R: RIF: I: domanda", "i: domanda"},
		{"ENC: RES: pergunta", "pergunta"},
		{"[EXTERNAL] Re: [acme-users] Re:  Login   fails", "login fails"},
		{"Re: Login fails [ref:T-abcdefghijklmnopqrstuvwxyz]", "login fails"},
		{"(EXT) Re : Login fails (fwd)", "login fails"},
		{"Ｒｅ：x", "ｒｅ：x"},
		{"Re：価格", "価格"},
		{"Regarding the invoice", "regarding the invoice"},
		{"Re:", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeSubject(tt.in); got != tt.want {
			t.Errorf("NormalizeSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{"John <J.Doe+x@Example.com>", "a@b\u00fccher.de", "=?utf-8?q?x?= <a@b.c>", `"a b"@c.d`, "x@[1.2.3.4]", "a@b@c"} {
		f.Add(s, true, true, false)
	}
	f.Fuzz(func(t *testing.T, in string, ci, strip, gmail bool) {
		opts := AddressOptions{CaseInsensitiveLocal: &ci, StripPlusTags: &strip, GmailDotFolding: gmail}
		out, err := NormalizeAddress(in, opts)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error not ErrBadAddress: %v", err)
			}
			return
		}
		at := strings.LastIndexByte(out, '@')
		if at <= 0 || at == len(out)-1 {
			t.Fatalf("%q → %q: no local@domain", in, out)
		}
		if d := out[at+1:]; d != strings.ToLower(d) {
			t.Fatalf("%q → %q: domain not lower-case", in, out)
		}
		if ci && out[:at] != strings.ToLower(out[:at]) {
			t.Fatalf("%q → %q: local part not lower-case", in, out)
		}
		again, err := NormalizeAddress(out, opts)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", in, out, again, err)
		}
	})
}

func FuzzNormalizeSubject(f *testing.F) {
	for _, s := range []string{"Re: AW: [list] x", "Fwd: Re[3]: (EXT) y (fwd)", "[ref:T-abc] Re: z", "R: RIF: ENC:", "\xff\xfeRe: x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := NormalizeSubject(in)
		if again := NormalizeSubject(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}
		if out != strings.TrimSpace(out) || strings.Contains(out, "  ") {
			t.Fatalf("%q → %q: whitespace not collapsed", in, out)
		}
		if NormalizeSubject("Re: "+in) != out {
			t.Fatalf("Re: prefix changes %q: %q vs %q", in, NormalizeSubject("Re: "+in), out)
		}
	})
}
