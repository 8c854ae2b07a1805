package sfsim

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file is a small SOQL lexer and parser for the subset the project sends
// and admins type: SELECT fields (with parent relationship paths) or COUNT(),
// FROM one object, WHERE with comparison, IN, LIKE, AND/OR/NOT and
// parentheses, ORDER BY, LIMIT, OFFSET. Anything else is MALFORMED_QUERY, as
// in Salesforce.

type tokKind int

const (
	tkEOF tokKind = iota
	tkIdent
	tkString
	tkNumber
	tkDate
	tkDatetime
	tkPunct // ( ) , . :
	tkOp    // = != <> < > <= >=
)

type token struct {
	kind tokKind
	text string // raw text; for strings, the decoded value
	pos  int    // byte offset
}

// soqlError is a parse error located in the query text.
type soqlError struct {
	query string
	pos   int
	msg   string
}

func (e *soqlError) Error() string {
	row, col := 1, 0
	lineStart := 0
	for i := 0; i < e.pos && i < len(e.query); i++ {
		if e.query[i] == '\n' {
			row++
			lineStart = i + 1
		}
	}
	col = e.pos - lineStart
	line := e.query[lineStart:]
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	caret := strings.Repeat(" ", max(col-1, 0)) + "^"
	return fmt.Sprintf("\n%s\n%s\nERROR at Row:%d:Column:%d\n%s", line, caret, row, col, e.msg)
}

type lexer struct {
	src  string
	pos  int
	toks []token
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for {
		for l.pos < len(src) {
			r, n := utf8.DecodeRuneInString(src[l.pos:])
			if !unicode.IsSpace(r) {
				break
			}
			l.pos += n
		}
		if l.pos >= len(src) {
			l.toks = append(l.toks, token{kind: tkEOF, pos: l.pos})
			return l.toks, nil
		}
		start := l.pos
		r, n := utf8.DecodeRuneInString(src[l.pos:])
		switch {
		case r == '\'':
			s, end, err := unescapeLiteral(src, l.pos)
			if err != nil {
				return nil, err
			}
			l.toks = append(l.toks, token{kind: tkString, text: s, pos: start})
			l.pos = end
		case r >= '0' && r <= '9' || (r == '-' || r == '+') && l.pos+1 < len(src) && src[l.pos+1] >= '0' && src[l.pos+1] <= '9':
			l.lexNumberOrDate()
		case isIdentStart(r):
			for l.pos < len(src) {
				r, n := utf8.DecodeRuneInString(src[l.pos:])
				if !isIdentPart(r) {
					break
				}
				l.pos += n
			}
			l.toks = append(l.toks, token{kind: tkIdent, text: src[start:l.pos], pos: start})
		case strings.ContainsRune("(),.:", r):
			l.pos += n
			l.toks = append(l.toks, token{kind: tkPunct, text: string(r), pos: start})
		case r == '=':
			l.pos++
			l.toks = append(l.toks, token{kind: tkOp, text: "=", pos: start})
		case r == '!' || r == '<' || r == '>':
			op := string(r)
			l.pos++
			if l.pos < len(src) && (src[l.pos] == '=' || (r == '<' && src[l.pos] == '>')) {
				op += string(src[l.pos])
				l.pos++
			}
			if op == "!" {
				return nil, &soqlError{src, start, "unexpected token: '!'"}
			}
			l.toks = append(l.toks, token{kind: tkOp, text: op, pos: start})
		default:
			return nil, &soqlError{src, start, fmt.Sprintf("unexpected token: '%c'", r)}
		}
	}
}

func (l *lexer) lexNumberOrDate() {
	src, start := l.src, l.pos
	// Date and dateTime literals: YYYY-MM-DD[THH:MM:SS[.sss](Z|±HH:MM)].
	if len(src)-start >= 10 && src[start] != '-' && src[start] != '+' {
		if _, err := time.Parse(sfDate, src[start:start+10]); err == nil {
			end := start + 10
			if end < len(src) && src[end] == 'T' {
				e := end + 1
				for e < len(src) && (src[e] >= '0' && src[e] <= '9' || strings.IndexByte(":.+-Z", src[e]) >= 0) {
					e++
				}
				l.toks = append(l.toks, token{kind: tkDatetime, text: src[start:e], pos: start})
				l.pos = e
				return
			}
			l.toks = append(l.toks, token{kind: tkDate, text: src[start:end], pos: start})
			l.pos = end
			return
		}
	}
	e := start + 1
	for e < len(src) && (src[e] >= '0' && src[e] <= '9' || src[e] == '.') {
		e++
	}
	l.toks = append(l.toks, token{kind: tkNumber, text: src[start:e], pos: start})
	l.pos = e
}

// unescapeLiteral decodes a string literal starting at the quote at src[pos]
// with Salesforce's escape rules: \n \r \t \b \f \" \' \\ \uXXXX, and \% \_
// kept escaped for LIKE patterns. It returns the value and the offset after
// the closing quote.
func unescapeLiteral(src string, pos int) (string, int, error) {
	var b strings.Builder
	i := pos + 1
	for i < len(src) {
		c := src[i]
		switch c {
		case '\'':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return "", 0, &soqlError{src, pos, "Invalid string literal: trailing backslash"}
			}
			switch e := src[i+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '"', '\'', '\\':
				b.WriteByte(e)
			case '%', '_':
				// Kept escaped: meaningful only to LIKE, which unescapes it.
				b.WriteByte('\\')
				b.WriteByte(e)
			case 'u':
				if i+6 > len(src) {
					return "", 0, &soqlError{src, i, "Invalid unicode escape"}
				}
				n, err := strconv.ParseUint(src[i+2:i+6], 16, 16)
				if err != nil {
					return "", 0, &soqlError{src, i, "Invalid unicode escape"}
				}
				b.WriteRune(rune(n))
				i += 4
			default:
				return "", 0, &soqlError{src, i, fmt.Sprintf("Invalid string literal '\\%c'. Illegal character sequence '\\%c' in string literal.", e, e)}
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, &soqlError{src, pos, fmt.Sprintf("unexpected token: '%s'", src[pos+1:])}
}

// quoteLiteral is the inverse of unescapeLiteral (LIKE escapes in s, i.e.
// "\%" and "\_", pass through unchanged).
func quoteLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
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
		case '\'', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\\':
			if i+1 < len(s) && (s[i+1] == '%' || s[i+1] == '_') {
				b.WriteByte('\\')
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// AST.

type fieldPath []string

func (p fieldPath) String() string { return strings.Join(p, ".") }

type valKind int

const (
	vString valKind = iota
	vNumber
	vBool
	vNull
	vDate
	vDatetime
	vDateLit // TODAY, LAST_N_DAYS:n, ...
)

type value struct {
	kind valKind
	s    string  // string value, date/datetime text, literal name
	n    float64 // number, or N of LAST_N_DAYS:N
	b    bool
	hasN bool
}

func (v value) String() string {
	switch v.kind {
	case vString:
		return quoteLiteral(v.s)
	case vNumber:
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	case vBool:
		return strings.ToUpper(strconv.FormatBool(v.b))
	case vNull:
		return "null"
	case vDateLit:
		if v.hasN {
			return v.s + ":" + strconv.Itoa(int(v.n))
		}
		return v.s
	}
	return v.s
}

type expr interface{ String() string }

type andExpr struct{ items []expr }
type orExpr struct{ items []expr }
type notExpr struct{ x expr }
type condExpr struct {
	field  fieldPath
	op     string // = != < > <= >= LIKE IN NOT IN
	val    value
	values []value
	pos    int
	re     *regexp.Regexp // compiled LIKE pattern, on first use
}

func joinExprs(items []expr, sep string) string {
	parts := make([]string, len(items))
	for i, it := range items {
		s := it.String()
		if _, ok := it.(*condExpr); !ok {
			if _, isNot := it.(*notExpr); !isNot {
				s = "(" + s + ")"
			}
		}
		parts[i] = s
	}
	return strings.Join(parts, sep)
}

func (e *andExpr) String() string { return joinExprs(e.items, " AND ") }
func (e *orExpr) String() string  { return joinExprs(e.items, " OR ") }
func (e *notExpr) String() string { return "NOT (" + e.x.String() + ")" }
func (e *condExpr) String() string {
	switch e.op {
	case "IN", "NOT IN":
		vs := make([]string, len(e.values))
		for i, v := range e.values {
			vs[i] = v.String()
		}
		return e.field.String() + " " + e.op + " (" + strings.Join(vs, ", ") + ")"
	}
	return e.field.String() + " " + e.op + " " + e.val.String()
}

type orderItem struct {
	field     fieldPath
	desc      bool
	nullsLast bool
	nullsSet  bool
}

// soqlQuery is a parsed SELECT.
type soqlQuery struct {
	object string
	fields []fieldPath
	count  bool
	// COUNT(field) [alias]: one AggregateResult row.
	countField fieldPath
	countAlias string
	where      expr
	orderBy    []orderItem
	limit      int // -1: none
	offset     int // -1: none
}

// String prints the query in canonical form; parsing it again yields the
// same query (the fuzz target checks this).
func (q *soqlQuery) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	switch {
	case q.count:
		b.WriteString("COUNT()")
	case q.countField != nil:
		b.WriteString("COUNT(" + q.countField.String() + ")")
		if q.countAlias != "" {
			b.WriteString(" " + q.countAlias)
		}
	default:
		for i, f := range q.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.String())
		}
	}
	b.WriteString(" FROM " + q.object)
	if q.where != nil {
		b.WriteString(" WHERE " + q.where.String())
	}
	if len(q.orderBy) > 0 {
		b.WriteString(" ORDER BY ")
		for i, o := range q.orderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(o.field.String())
			if o.desc {
				b.WriteString(" DESC")
			} else {
				b.WriteString(" ASC")
			}
			if o.nullsSet {
				if o.nullsLast {
					b.WriteString(" NULLS LAST")
				} else {
					b.WriteString(" NULLS FIRST")
				}
			}
		}
	}
	if q.limit >= 0 {
		b.WriteString(" LIMIT " + strconv.Itoa(q.limit))
	}
	if q.offset >= 0 {
		b.WriteString(" OFFSET " + strconv.Itoa(q.offset))
	}
	return b.String()
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tkIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) acceptKeyword(kw string) bool {
	if p.isKeyword(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tkPunct && t.text == s
}

func (p *parser) unexpected() error {
	t := p.peek()
	text := t.text
	switch t.kind {
	case tkEOF:
		text = "<EOF>"
	case tkString:
		text = quoteLiteral(t.text)
	}
	return &soqlError{p.src, t.pos, fmt.Sprintf("unexpected token: '%s'", text)}
}

func (p *parser) expectKeyword(kw string) error {
	if !p.acceptKeyword(kw) {
		return p.unexpected()
	}
	return nil
}

func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.unexpected()
	}
	p.i++
	return nil
}

// reserved words cannot be field or object names.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "ORDER": true, "BY": true,
	"LIMIT": true, "OFFSET": true, "IN": true, "LIKE": true, "ASC": true, "DESC": true, "NULLS": true,
	"NULL": true, "TRUE": true, "FALSE": true, "GROUP": true, "HAVING": true, "WITH": true, "USING": true,
	"INCLUDES": true, "EXCLUDES": true, "FOR": true, "UPDATE": true, "TYPEOF": true,
}

func (p *parser) ident() (string, error) {
	t := p.peek()
	if t.kind != tkIdent || reserved[strings.ToUpper(t.text)] {
		return "", p.unexpected()
	}
	p.i++
	return t.text, nil
}

func (p *parser) fieldPath() (fieldPath, error) {
	first, err := p.ident()
	if err != nil {
		return nil, err
	}
	path := fieldPath{first}
	for p.isPunct(".") {
		p.i++
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		path = append(path, name)
	}
	return path, nil
}

// parseSOQL parses a query; errors are *soqlError.
func parseSOQL(src string) (*soqlQuery, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	q := &soqlQuery{limit: -1, offset: -1}
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	if p.isKeyword("COUNT") && p.toks[p.i+1].kind == tkPunct && p.toks[p.i+1].text == "(" {
		p.i += 2
		if p.isPunct(")") {
			p.i++
			q.count = true
		} else {
			f, err := p.fieldPath()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			q.countField = f
			if !p.isKeyword("FROM") {
				if q.countAlias, err = p.ident(); err != nil {
					return nil, err
				}
			}
		}
	} else {
		seen := map[string]bool{}
		for {
			start := p.peek().pos
			f, err := p.fieldPath()
			if err != nil {
				return nil, err
			}
			key := strings.ToLower(f.String())
			if seen[key] {
				return nil, &soqlError{src, start, "duplicate field selected: " + f.String()}
			}
			seen[key] = true
			q.fields = append(q.fields, f)
			if !p.isPunct(",") {
				break
			}
			p.i++
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	if q.object, err = p.ident(); err != nil {
		return nil, err
	}
	if p.acceptKeyword("WHERE") {
		if q.where, err = p.condition(); err != nil {
			return nil, err
		}
	}
	if p.acceptKeyword("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			f, err := p.fieldPath()
			if err != nil {
				return nil, err
			}
			o := orderItem{field: f}
			if p.acceptKeyword("DESC") {
				o.desc = true
			} else {
				p.acceptKeyword("ASC")
			}
			if p.acceptKeyword("NULLS") {
				o.nullsSet = true
				switch {
				case p.acceptKeyword("LAST"):
					o.nullsLast = true
				case p.acceptKeyword("FIRST"):
				default:
					return nil, p.unexpected()
				}
			}
			q.orderBy = append(q.orderBy, o)
			if !p.isPunct(",") {
				break
			}
			p.i++
		}
	}
	if p.acceptKeyword("LIMIT") {
		if q.limit, err = p.nonNegInt(); err != nil {
			return nil, err
		}
	}
	if p.acceptKeyword("OFFSET") {
		if q.offset, err = p.nonNegInt(); err != nil {
			return nil, err
		}
		if q.offset > 2000 {
			return nil, &soqlError{src, p.toks[p.i-1].pos, "Maximum SOQL offset allowed is 2000"}
		}
	}
	if p.peek().kind != tkEOF {
		return nil, p.unexpected()
	}
	return q, nil
}

func (p *parser) nonNegInt() (int, error) {
	t := p.peek()
	if t.kind != tkNumber {
		return 0, p.unexpected()
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return 0, p.unexpected()
	}
	p.i++
	return n, nil
}

// condition parses a WHERE expression. As in SOQL, AND and OR cannot be
// mixed at one level without parentheses.
func (p *parser) condition() (expr, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	var op string
	items := []expr{first}
	for p.isKeyword("AND") || p.isKeyword("OR") {
		kw := strings.ToUpper(p.peek().text)
		if op != "" && kw != op {
			return nil, p.unexpected()
		}
		op = kw
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		items = append(items, x)
	}
	switch op {
	case "AND":
		return &andExpr{items}, nil
	case "OR":
		return &orExpr{items}, nil
	}
	return first, nil
}

func (p *parser) unary() (expr, error) {
	if p.acceptKeyword("NOT") {
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notExpr{x}, nil
	}
	if p.isPunct("(") {
		p.i++
		x, err := p.condition()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return x, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (expr, error) {
	pos := p.peek().pos
	f, err := p.fieldPath()
	if err != nil {
		return nil, err
	}
	c := &condExpr{field: f, pos: pos}
	t := p.peek()
	switch {
	case t.kind == tkOp:
		p.i++
		c.op = t.text
		if c.op == "<>" {
			c.op = "!="
		}
		c.val, err = p.value()
		return c, err
	case p.acceptKeyword("LIKE"):
		c.op = "LIKE"
		c.val, err = p.value()
		if err == nil && c.val.kind != vString {
			return nil, &soqlError{p.src, p.toks[p.i-1].pos, "LIKE requires a string literal"}
		}
		return c, err
	case p.isKeyword("NOT") || p.isKeyword("IN"):
		c.op = "IN"
		if p.acceptKeyword("NOT") {
			c.op = "NOT IN"
		}
		if err := p.expectKeyword("IN"); err != nil {
			return nil, err
		}
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			c.values = append(c.values, v)
			if !p.isPunct(",") {
				break
			}
			p.i++
		}
		return c, p.expectPunct(")")
	}
	return nil, p.unexpected()
}

// dateLiterals are the relative date keywords supported; the bool says
// whether it takes ":n".
var dateLiterals = map[string]bool{
	"TODAY": false, "YESTERDAY": false, "TOMORROW": false,
	"THIS_WEEK": false, "LAST_WEEK": false, "NEXT_WEEK": false,
	"THIS_MONTH": false, "LAST_MONTH": false, "NEXT_MONTH": false,
	"THIS_YEAR": false, "LAST_YEAR": false,
	"LAST_N_DAYS": true, "NEXT_N_DAYS": true, "LAST_N_HOURS": true,
}

func (p *parser) value() (value, error) {
	t := p.peek()
	switch t.kind {
	case tkString:
		p.i++
		return value{kind: vString, s: t.text}, nil
	case tkNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return value{}, p.unexpected()
		}
		p.i++
		return value{kind: vNumber, n: n}, nil
	case tkDate:
		p.i++
		return value{kind: vDate, s: t.text}, nil
	case tkDatetime:
		if _, ok := parseDatetime(t.text); !ok {
			return value{}, &soqlError{p.src, t.pos, "line 1:" + strconv.Itoa(t.pos) + " no viable alternative at character '" + t.text + "'"}
		}
		p.i++
		return value{kind: vDatetime, s: t.text}, nil
	case tkIdent:
		up := strings.ToUpper(t.text)
		switch up {
		case "TRUE", "FALSE":
			p.i++
			return value{kind: vBool, b: up == "TRUE"}, nil
		case "NULL":
			p.i++
			return value{kind: vNull}, nil
		}
		takesN, ok := dateLiterals[up]
		if !ok {
			return value{}, p.unexpected()
		}
		p.i++
		v := value{kind: vDateLit, s: up}
		if takesN {
			if err := p.expectPunct(":"); err != nil {
				return value{}, err
			}
			n, err := p.nonNegInt()
			if err != nil {
				return value{}, err
			}
			v.n, v.hasN = float64(n), true
		}
		return v, nil
	}
	return value{}, p.unexpected()
}
