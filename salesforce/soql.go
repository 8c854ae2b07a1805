package salesforce

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// QuoteSOQL returns s as a SOQL string literal, quotes included, using
// Salesforce's escape sequences (\' \" \\ \n \r \t \b \f). The result can
// never end the literal early: every ' and \ in s is escaped.
func QuoteSOQL(s string) string { return quote(s, false) }

// QuoteSOQLLike is QuoteSOQL for the right side of LIKE: % and _ in s are
// escaped too, so they match themselves. Add wildcards around the value in
// the template: `Name LIKE ` + QuoteSOQLLike(v) gives an exact match; for
// "contains" use LikeContains.
func QuoteSOQLLike(s string) string { return quote(s, true) }

// LikeContains returns a LIKE literal matching values that contain s.
func LikeContains(s string) string {
	q := quote(s, true)
	return "'%" + q[1:len(q)-1] + "%'"
}

// LikePrefix returns a LIKE literal matching values that start with s.
func LikePrefix(s string) string {
	q := quote(s, true)
	return q[:len(q)-1] + "%'"
}

func quote(s string, like bool) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	// Byte-wise: every character that needs escaping is ASCII, and bytes of
	// multi-byte (or invalid) UTF-8 sequences pass through untouched.
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '%', '_':
			if like {
				b.WriteByte('\\')
			}
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Date is a SOQL date literal (YYYY-MM-DD) for BuildSOQL.
type Date time.Time

// Ident is a field or object API name for BuildSOQL; it is validated, not
// quoted.
type Ident string

// BuildSOQL replaces each ? outside string literals in template with the
// SOQL form of the matching argument:
//
//	string            → QuoteSOQL
//	int*, uint*, float → decimal
//	bool              → true / false
//	nil               → null
//	time.Time         → datetime literal, UTC (2006-01-02T15:04:05Z)
//	Date              → date literal (2006-01-02)
//	Ident             → validated API name, unquoted
//	[]string          → ('a','b') for IN; empty slices are refused
//
// It refuses a template whose placeholders and arguments do not match, and
// any other argument type.
func BuildSOQL(template string, args ...any) (string, error) {
	var b strings.Builder
	n := 0
	inLit := false
	for i := 0; i < len(template); i++ {
		ch := template[i]
		switch {
		case inLit && ch == '\\' && i+1 < len(template):
			b.WriteByte(ch)
			i++
			b.WriteByte(template[i])
			continue
		case ch == '\'':
			inLit = !inLit
		case ch == '?' && !inLit:
			if n >= len(args) {
				return "", &RequestError{Op: "SOQL", Reason: fmt.Sprintf("more placeholders than the %d arguments", len(args))}
			}
			lit, err := soqlValue(args[n])
			if err != nil {
				return "", &RequestError{Op: "SOQL", Reason: fmt.Sprintf("argument %d: %v", n+1, err)}
			}
			b.WriteString(lit)
			n++
			continue
		}
		b.WriteByte(ch)
	}
	if inLit {
		return "", &RequestError{Op: "SOQL", Reason: "unterminated string literal in template"}
	}
	if n != len(args) {
		return "", &RequestError{Op: "SOQL", Reason: fmt.Sprintf("%d placeholders for %d arguments", n, len(args))}
	}
	return b.String(), nil
}

// MustBuildSOQL is BuildSOQL for constant templates; it panics on misuse.
func MustBuildSOQL(template string, args ...any) string {
	s, err := BuildSOQL(template, args...)
	if err != nil {
		panic(err)
	}
	return s
}

func soqlValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case string:
		return QuoteSOQL(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05Z"), nil
	case Date:
		return time.Time(x).Format("2006-01-02"), nil
	case Ident:
		if !nameRE.MatchString(string(x)) && !relNameRE.MatchString(string(x)) {
			return "", fmt.Errorf("%q is not an API name", string(x))
		}
		return string(x), nil
	case []string:
		if len(x) == 0 {
			return "", fmt.Errorf("empty list for IN")
		}
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = QuoteSOQL(s)
		}
		return "(" + strings.Join(parts, ",") + ")", nil
	default:
		return "", fmt.Errorf("unsupported type %T", v)
	}
}

// relNameRE: dotted relationship paths such as Account.Name.
var relNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){1,4}$`)

// soslReserved must be backslash-escaped inside FIND {...}.
const soslReserved = `?&|!{}[]()^~*:\"'+-`

// QuoteSOSL returns s as a SOSL search term in braces, {…}, with every
// reserved character escaped. Prefer ParameterizedSearch, which needs no
// escaping at all.
func QuoteSOSL(s string) string {
	var b strings.Builder
	b.WriteByte('{')
	for _, r := range s {
		if strings.ContainsRune(soslReserved, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('}')
	return b.String()
}
