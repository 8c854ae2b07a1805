package sfsim

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSOQL(t *testing.T) {
	tests := []struct {
		in, want string // want: canonical String(), or "ERR:<substring>"
	}{
		{"SELECT Id FROM Account", "SELECT Id FROM Account"},
		{"select id, name from account", "SELECT id, name FROM account"},
		{"SELECT Id, Account.Name, Contact.Email FROM Case", "SELECT Id, Account.Name, Contact.Email FROM Case"},
		{"SELECT COUNT() FROM Case", "SELECT COUNT() FROM Case"},
		{"SELECT COUNT(Id) FROM Case", "SELECT COUNT(Id) FROM Case"},
		{"SELECT count(Contact.Email) n FROM Case", "SELECT COUNT(Contact.Email) n FROM Case"},
		{"SELECT COUNT(Id) FROM FROM Case", "ERR:unexpected token"},
		{"SELECT Id FROM Case WHERE Status = 'New'", "SELECT Id FROM Case WHERE Status = 'New'"},
		{"SELECT Id FROM Case WHERE Status <> 'New'", "SELECT Id FROM Case WHERE Status != 'New'"},
		{"SELECT Id FROM Case WHERE A = 1 AND B != 2 AND C < 3", "SELECT Id FROM Case WHERE A = 1 AND B != 2 AND C < 3"},
		{"SELECT Id FROM Case WHERE (A = 1 OR B = 2) AND NOT C = 3", "SELECT Id FROM Case WHERE (A = 1 OR B = 2) AND NOT (C = 3)"},
		{"SELECT Id FROM Case WHERE Status IN ('New', 'Working')", "SELECT Id FROM Case WHERE Status IN ('New', 'Working')"},
		{"SELECT Id FROM Case WHERE Status NOT IN ('Closed')", "SELECT Id FROM Case WHERE Status NOT IN ('Closed')"},
		{"SELECT Id FROM Contact WHERE Email LIKE 'ann\\_%'", `SELECT Id FROM Contact WHERE Email LIKE 'ann\_%'`},
		{"SELECT Id FROM Case WHERE CreatedDate > 2024-01-01T00:00:00Z", "SELECT Id FROM Case WHERE CreatedDate > 2024-01-01T00:00:00Z"},
		{"SELECT Id FROM Case WHERE CreatedDate >= 2024-01-01T00:00:00.000+0000", "SELECT Id FROM Case WHERE CreatedDate >= 2024-01-01T00:00:00.000+0000"},
		{"SELECT Id FROM Task WHERE ActivityDate = 2024-01-31", "SELECT Id FROM Task WHERE ActivityDate = 2024-01-31"},
		{"SELECT Id FROM Case WHERE CreatedDate = LAST_N_DAYS:7", "SELECT Id FROM Case WHERE CreatedDate = LAST_N_DAYS:7"},
		{"SELECT Id FROM Case WHERE CreatedDate = today", "SELECT Id FROM Case WHERE CreatedDate = TODAY"},
		{"SELECT Id FROM Case WHERE IsClosed = false AND ContactId != null", "SELECT Id FROM Case WHERE IsClosed = FALSE AND ContactId != null"},
		{"SELECT Id FROM Case ORDER BY CreatedDate DESC NULLS LAST, Id LIMIT 10 OFFSET 5", "SELECT Id FROM Case ORDER BY CreatedDate DESC NULLS LAST, Id ASC LIMIT 10 OFFSET 5"},
		{"SELECT Id FROM Case WHERE Subject = 'it\\'s \\\"quoted\\\" \\\\ \\n'", `SELECT Id FROM Case WHERE Subject = 'it\'s \"quoted\" \\ \n'`},
		{"SELECT Id FROM Case WHERE Subject = '\\u00e9t\\u00e9'", "SELECT Id FROM Case WHERE Subject = 'été'"},
		{"SELECT Id FROM Case WHERE Amount__c = -1.5", "SELECT Id FROM Case WHERE Amount__c = -1.5"},
		// Errors.
		{"", "ERR:<EOF>"},
		{"SELECT FROM Account", "ERR:unexpected token: 'FROM'"},
		{"SELECT Id Account", "ERR:unexpected token: 'Account'"},
		{"SELECT Id FROM Account WHERE Name = 'unterminated", "ERR:unexpected token: 'unterminated'"},
		{"SELECT Id FROM Account WHERE A = 1 AND B = 2 OR C = 3", "ERR:unexpected token: 'OR'"},
		{"SELECT Id FROM Account WHERE A = 1 OR B = 2 AND C = 3", "ERR:unexpected token: 'AND'"},
		{"SELECT Id FROM Account WHERE Name = 'bad \\q escape'", "ERR:Invalid string literal"},
		{"SELECT Id, Id FROM Account", "ERR:duplicate field selected"},
		{"SELECT Id FROM Account WHERE Name = :name", "ERR:unexpected token: ':'"},
		{"SELECT Id FROM Account GROUP BY Name", "ERR:unexpected token: 'GROUP'"},
		{"SELECT Id FROM Account LIMIT x", "ERR:unexpected token: 'x'"},
		{"SELECT Id FROM Account OFFSET 2001", "ERR:Maximum SOQL offset"},
		{"SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS", "ERR:unexpected token"},
		{"SELECT Id FROM Account WHERE Name LIKE 5", "ERR:LIKE requires"},
		{"SELECT Id FROM Account;", "ERR:unexpected token: ';'"},
		{"SELECT Id FROM Account WHERE Name = 'x' junk", "ERR:unexpected token: 'junk'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := parseSOQL(tt.in)
			if strings.HasPrefix(tt.want, "ERR:") {
				var se *soqlError
				if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want[4:]) {
					t.Fatalf("err = %v, want %q", err, tt.want[4:])
				}
				if !strings.Contains(err.Error(), "ERROR at Row:1:Column:") {
					t.Errorf("error lacks the location line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := q.String(); got != tt.want {
				t.Fatalf("String() = %q\nwant        %q", got, tt.want)
			}
		})
	}
}

func TestLiteralRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `back\slash`, "new\nline", "tab\t\r\b\f", `quote"d`, "100%", "a_b", "é ü 日本", `\%`} {
		lit := quoteLiteral(s)
		got, end, err := unescapeLiteral(lit, 0)
		if err != nil || got != s || end != len(lit) {
			t.Errorf("%q: quote %s, unescape %q end %d/%d err %v", s, lit, got, end, len(lit), err)
		}
	}
}

// FuzzParseSOQL: the parser never panics; what it accepts prints to a
// canonical form that parses back to the same form.
func FuzzParseSOQL(f *testing.F) {
	for _, s := range []string{
		"SELECT Id, Account.Name FROM Contact WHERE Email = 'a@b.c' AND (Name LIKE 'x%' OR Title != null) ORDER BY Name DESC LIMIT 5 OFFSET 1",
		"SELECT COUNT() FROM Case WHERE CreatedDate = LAST_N_DAYS:30 AND Status NOT IN ('Closed', 'New')",
		"SELECT Id FROM Case WHERE CreatedDate > 2024-01-01T00:00:00Z AND Subject = 'it\\'s'",
		"SELECT Id FROM Account WHERE NOT (Name = 'x')",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := parseSOQL(src)
		if err != nil {
			return
		}
		canon := q.String()
		q2, err := parseSOQL(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, src, err)
		}
		if again := q2.String(); again != canon {
			t.Fatalf("canonical form not stable:\n%q\n%q", canon, again)
		}
	})
}

// FuzzLiteral: any string survives quoting and unquoting, and a quoted
// literal never ends early (the lexer consumes exactly the literal).
func FuzzLiteral(f *testing.F) {
	for _, s := range []string{"", "a'b", `\`, `\'`, "%_", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, `\%`) || strings.Contains(s, `\_`) {
			return // LIKE escapes are kept verbatim by design
		}
		lit := quoteLiteral(s)
		got, end, err := unescapeLiteral(lit+" AND x", 0)
		if err != nil || got != s || end != len(lit) {
			t.Fatalf("%q: got %q end %d want %d err %v", s, got, end, len(lit), err)
		}
	})
}

// FuzzParseSOSL: SOSL parsing and search never panic, whatever the input.
func FuzzParseSOSL(f *testing.F) {
	for _, s := range []string{
		"FIND {reset password} IN ALL FIELDS RETURNING Knowledge__kav(Id, Title WHERE PublishStatus='Online' LIMIT 5) LIMIT 10",
		`FIND {"exact phrase" OR ship* AND NOT refund} RETURNING Case(Id), Contact`,
		"FIND 'x\\}y'",
	} {
		f.Add(s)
	}
	srv, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		sq, aerr := srv.parseSOSL(src)
		if aerr != nil {
			return
		}
		srv.orgMu.Lock()
		defer srv.orgMu.Unlock()
		srv.runSearch(&txn{s: srv, d: srv.data}, sq, "62.0")
	})
}
