package salesforce

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// parseLiteral is an independent reader of one SOQL string literal at the
// start of src, following Salesforce's documented escape sequences. It
// returns the value and the index of the closing quote. With like, \% and
// \_ are accepted and stand for the literal characters.
func parseLiteral(src string, like bool) (string, int, error) {
	if len(src) == 0 || src[0] != '\'' {
		return "", 0, errors.New("no opening quote")
	}
	var b strings.Builder
	for i := 1; i < len(src); i++ {
		ch := src[i]
		switch ch {
		case '\'':
			return b.String(), i, nil
		case '\\':
			i++
			if i >= len(src) {
				return "", 0, errors.New("dangling backslash")
			}
			switch src[i] {
			case 'n', 'N':
				b.WriteByte('\n')
			case 'r', 'R':
				b.WriteByte('\r')
			case 't', 'T':
				b.WriteByte('\t')
			case 'b', 'B':
				b.WriteByte('\b')
			case 'f', 'F':
				b.WriteByte('\f')
			case '"', '\'', '\\':
				b.WriteByte(src[i])
			case '%', '_':
				if !like {
					return "", 0, fmt.Errorf("\\%c outside LIKE", src[i])
				}
				b.WriteByte(src[i])
			default:
				return "", 0, fmt.Errorf("invalid escape \\%c", src[i])
			}
		default:
			b.WriteByte(ch)
		}
	}
	return "", 0, errors.New("unterminated literal")
}

func TestQuoteSOQL(t *testing.T) {
	for _, tc := range []struct{ in, want, wantLike string }{
		{"", `''`, `''`},
		{"Bob's BBQ", `'Bob\'s BBQ'`, `'Bob\'s BBQ'`},
		{`back\slash`, `'back\\slash'`, `'back\\slash'`},
		{`say "hi"`, `'say \"hi\"'`, `'say \"hi\"'`},
		{"a\nb\rc\td\be\ff", `'a\nb\rc\td\be\ff'`, `'a\nb\rc\td\be\ff'`},
		{"50%_off", `'50%_off'`, `'50\%\_off'`},
		{"x' OR Name != '", `'x\' OR Name != \''`, `'x\' OR Name != \''`},
		{`\'`, `'\\\''`, `'\\\''`},
		{"héllo ✓", "'héllo ✓'", "'héllo ✓'"},
	} {
		if got := QuoteSOQL(tc.in); got != tc.want {
			t.Errorf("QuoteSOQL(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if got := QuoteSOQLLike(tc.in); got != tc.wantLike {
			t.Errorf("QuoteSOQLLike(%q) = %s, want %s", tc.in, got, tc.wantLike)
		}
	}
	if got := LikeContains("50%"); got != `'%50\%%'` {
		t.Errorf("LikeContains = %s", got)
	}
	if got := LikePrefix("Ter_"); got != `'Ter\_%'` {
		t.Errorf("LikePrefix = %s", got)
	}
}

func checkRoundTrip(t *testing.T, s string) {
	t.Helper()
	for _, like := range []bool{false, true} {
		q := QuoteSOQL(s)
		if like {
			q = QuoteSOQLLike(s)
		}
		// Embedded in a query, the literal must end exactly where it was
		// meant to: nothing after it may become part of it, nothing inside
		// it may escape.
		query := q + " AND IsDeleted = false"
		got, end, err := parseLiteral(query, like)
		if err != nil {
			t.Fatalf("like=%v: %q → %s does not parse: %v", like, s, q, err)
		}
		if end != len(q)-1 {
			t.Fatalf("like=%v: %q → %s ends early at %d of %d", like, s, q, end, len(q)-1)
		}
		if got != s {
			t.Fatalf("like=%v: %q → %s parses back to %q", like, s, q, got)
		}
	}
}

func FuzzQuoteSOQL(f *testing.F) {
	for _, s := range []string{"", "'", `\`, `\'`, "''", `'\'`, "%_", "\n\r\t\b\f", `"`, "a' OR '1'='1", "\xff\xfe", "é✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkRoundTrip(t, s) })
}

func TestQuoteSOQLRoundTripAllBytes(t *testing.T) {
	for b := 0; b < 256; b++ {
		checkRoundTrip(t, string([]byte{byte(b)}))
		checkRoundTrip(t, "x"+string([]byte{byte(b)})+"'")
	}
}

func TestBuildSOQL(t *testing.T) {
	ts := time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		tmpl string
		args []any
		want string
		err  bool
	}{
		{"SELECT Id FROM Contact WHERE Email = ?", []any{"a'b@example.com"}, `SELECT Id FROM Contact WHERE Email = 'a\'b@example.com'`, false},
		{"SELECT Id FROM Case WHERE Priority IN ? AND IsClosed = ? LIMIT ?", []any{[]string{"High", "Med'ium"}, false, 10}, `SELECT Id FROM Case WHERE Priority IN ('High','Med\'ium') AND IsClosed = false LIMIT 10`, false},
		{"SELECT Id FROM Case WHERE CreatedDate > ? AND ClosedDate = ?", []any{ts, Date(ts)}, "SELECT Id FROM Case WHERE CreatedDate > 2026-03-14T08:26:53Z AND ClosedDate = 2026-03-14", false},
		{"SELECT ? FROM Account WHERE ParentId = ?", []any{Ident("Owner.Name"), nil}, "SELECT Owner.Name FROM Account WHERE ParentId = null", false},
		{"SELECT Id FROM Account WHERE Name = 'what?' AND Id = ?", []any{"x"}, `SELECT Id FROM Account WHERE Name = 'what?' AND Id = 'x'`, false},
		{"SELECT Id FROM Account WHERE Name = 'it\\'s?' AND Id = ?", []any{"x"}, `SELECT Id FROM Account WHERE Name = 'it\'s?' AND Id = 'x'`, false},
		{"SELECT Id FROM Account WHERE Amount > ?", []any{1.5}, "SELECT Id FROM Account WHERE Amount > 1.5", false},
		{"SELECT Id FROM Account WHERE Name = ?", nil, "", true},
		{"SELECT Id FROM Account", []any{"extra"}, "", true},
		{"SELECT ? FROM Account", []any{Ident("Name, (SELECT Id FROM Contacts)")}, "", true},
		{"SELECT Id FROM Account WHERE Id IN ?", []any{[]string{}}, "", true},
		{"SELECT Id FROM Account WHERE Id = ?", []any{struct{}{}}, "", true},
		{"SELECT Id FROM Account WHERE Name = 'open", nil, "", true},
	} {
		got, err := BuildSOQL(tc.tmpl, tc.args...)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("BuildSOQL(%q, %v) = %q, %v; want %q, err=%v", tc.tmpl, tc.args, got, err, tc.want, tc.err)
		}
	}
}

func TestQuoteSOSL(t *testing.T) {
	if got := QuoteSOSL(`reset password? {x} "y" a-b`); got != `{reset password\? \{x\} \"y\" a\-b}` {
		t.Errorf("QuoteSOSL = %s", got)
	}
}
