package sfsim

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// boundQuery is a parsed query checked against the schema.
type boundQuery struct {
	q   *soqlQuery
	obj *sobject
}

// resolve finds the field a path names, following parent relationships.
func (s *Server) resolve(o *sobject, path fieldPath) (*field, *apiError) {
	cur := o
	for i, name := range path {
		if i == len(path)-1 {
			f := cur.field(name)
			if f != nil && !s.fieldAllowed(cur, f, false) {
				f = nil // a field the user cannot read does not exist for them
			}
			if f == nil {
				return nil, plainErr(400, "INVALID_FIELD", fmt.Sprintf("\n%s\n^\nERROR at Row:1:Column:1\nNo such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", path, name, cur.Name))
			}
			return f, nil
		}
		ref := cur.relations[strings.ToLower(name)]
		if ref == nil || len(ref.ReferenceTo) != 1 || s.schema.object(ref.ReferenceTo[0]) == nil || !s.objAllowed(s.schema.object(ref.ReferenceTo[0]), "read") {
			return nil, plainErr(400, "INVALID_FIELD", fmt.Sprintf("\n%s\n^\nERROR at Row:1:Column:1\nDidn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", path, name))
		}
		cur = s.schema.object(ref.ReferenceTo[0])
	}
	return nil, notFound()
}

// bind checks a parsed query against the schema (objects, fields, and the
// type of every filter value).
func (s *Server) bind(q *soqlQuery) (*boundQuery, *apiError) {
	o := s.schema.object(q.object)
	if o == nil || !s.objAllowed(o, "read") {
		return nil, invalidType(q.object)
	}
	if o.Name == "ContentDocumentLink" && !linkFilterOK(q.where) {
		return nil, linkFilterErr()
	}
	q.object = o.Name
	for i, p := range q.fields {
		f, err := s.resolve(o, p)
		if err != nil {
			return nil, err
		}
		q.fields[i][len(p)-1] = f.Name
	}
	if q.countField != nil {
		f, err := s.resolve(o, q.countField)
		if err != nil {
			return nil, err
		}
		q.countField[len(q.countField)-1] = f.Name
	}
	for i, ob := range q.orderBy {
		f, err := s.resolve(o, ob.field)
		if err != nil {
			return nil, err
		}
		if !f.filterable() {
			return nil, plainErr(400, "INVALID_FIELD", fmt.Sprintf("\n%s\n^\nERROR at Row:1:Column:1\nfield '%s' can not be sorted in a query call", ob.field, f.Name))
		}
		q.orderBy[i].field[len(ob.field)-1] = f.Name
	}
	if q.where != nil {
		if err := s.bindExpr(o, q.where); err != nil {
			return nil, err
		}
	}
	return &boundQuery{q: q, obj: o}, nil
}

func (s *Server) bindExpr(o *sobject, e expr) *apiError {
	switch x := e.(type) {
	case *andExpr:
		for _, it := range x.items {
			if err := s.bindExpr(o, it); err != nil {
				return err
			}
		}
	case *orExpr:
		for _, it := range x.items {
			if err := s.bindExpr(o, it); err != nil {
				return err
			}
		}
	case *notExpr:
		return s.bindExpr(o, x.x)
	case *condExpr:
		f, err := s.resolve(o, x.field)
		if err != nil {
			return err
		}
		x.field[len(x.field)-1] = f.Name
		if !f.filterable() {
			return plainErr(400, "INVALID_FIELD", fmt.Sprintf("\n%s\n^\nERROR at Row:1:Column:1\nfield '%s' can not be filtered in a query call", x, f.Name))
		}
		vals := x.values
		if x.op != "IN" && x.op != "NOT IN" {
			vals = []value{x.val}
		}
		if x.op == "LIKE" && !f.isText() {
			return plainErr(400, "INVALID_FIELD", fmt.Sprintf("\n%s\n^\nERROR at Row:1:Column:1\ninvalid operator on field '%s' (LIKE requires a text field)", x.field, f.Name))
		}
		for _, v := range vals {
			if msg := checkValueType(f, v); msg != "" {
				return plainErr(400, "INVALID_FIELD", fmt.Sprintf("\n%s\n^\nERROR at Row:1:Column:1\n%s", x, msg))
			}
		}
	}
	return nil
}

// knowledgeFiltered reports whether a query on Knowledge__kav filters the way
// Salesforce requires: PublishStatus = x, Id = x or Id IN (...), in the top
// level AND chain.
func knowledgeFiltered(e expr) bool {
	ok := func(c *condExpr) bool {
		name := c.field[len(c.field)-1]
		return len(c.field) == 1 && (name == "PublishStatus" && c.op == "=" || name == "Id" && (c.op == "=" || c.op == "IN"))
	}
	switch x := e.(type) {
	case *condExpr:
		return ok(x)
	case *andExpr:
		for _, it := range x.items {
			if c, isCond := it.(*condExpr); isCond && ok(c) {
				return true
			}
		}
	}
	return false
}

// checkValueType mirrors SOQL's static typing of filter values.
func checkValueType(f *field, v value) string {
	if v.kind == vNull {
		return ""
	}
	switch f.Type {
	case tDatetime:
		if v.kind != vDatetime && v.kind != vDateLit {
			return fmt.Sprintf("value of filter criterion for field '%s' must be of type dateTime and should not be enclosed in quotes", f.Name)
		}
	case tDate:
		if v.kind != vDate && v.kind != vDateLit {
			return fmt.Sprintf("value of filter criterion for field '%s' must be of type date and should not be enclosed in quotes", f.Name)
		}
	case tBoolean:
		if v.kind != vBool {
			return fmt.Sprintf("value of filter criterion for field '%s' must be of type boolean and should not be enclosed in quotes", f.Name)
		}
	case tDouble, tPercent, tCurrency, tInt:
		if v.kind != vNumber {
			return fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", f.Name, f.Type)
		}
	default:
		if v.kind != vString {
			return fmt.Sprintf("value of filter criterion for field '%s' must be of type string and should be enclosed in quotes", f.Name)
		}
	}
	return ""
}

// lookupPath returns the value at a field path and the field it names.
func (s *Server) lookupPath(t *txn, o *sobject, r record, path fieldPath) (any, *field) {
	cur, curObj := r, o
	for i, name := range path {
		if i == len(path)-1 {
			f := curObj.field(name)
			return cur[f.Name], f
		}
		ref := curObj.relations[strings.ToLower(name)]
		id := cur.str(ref.Name)
		curObj = s.schema.object(ref.ReferenceTo[0])
		parent := t.d.Records[curObj.Name][id]
		if parent == nil {
			parent = t.d.Deleted[curObj.Name][id]
		}
		if parent == nil {
			f := curObj.field(path[len(path)-1])
			return nil, f
		}
		cur = parent
	}
	return nil, nil
}

// execute runs a bound query and returns the total size and the projected
// records (empty for COUNT()).
func (s *Server) execute(t *txn, b *boundQuery, all bool, version string) (int, []any) {
	o := b.obj
	var rows []record
	collect := func(m map[string]record) {
		for _, r := range m {
			if b.q.where == nil || s.eval(t, o, r, b.q.where) {
				rows = append(rows, r)
			}
		}
	}
	collect(t.d.Records[o.Name])
	if all {
		collect(t.d.Deleted[o.Name])
	}
	// Without ORDER BY, creation order (IDs are sequential).
	sort.Slice(rows, func(i, j int) bool { return rows[i].str("Id") < rows[j].str("Id") })
	if len(b.q.orderBy) > 0 {
		sort.SliceStable(rows, func(i, j int) bool {
			for _, ob := range b.q.orderBy {
				vi, f := s.lookupPath(t, o, rows[i], ob.field)
				vj, _ := s.lookupPath(t, o, rows[j], ob.field)
				c := compareValues(f, vi, vj, ob.desc != ob.nullsLastEffective())
				if c == 0 {
					continue
				}
				if ob.desc {
					return c > 0
				}
				return c < 0
			}
			return false
		})
	}
	if b.q.countField != nil {
		n := 0
		for _, r := range rows {
			if v, _ := s.lookupPath(t, o, r, b.q.countField); v != nil {
				n++
			}
		}
		alias := b.q.countAlias
		if alias == "" {
			alias = "expr0"
		}
		return 1, []any{newOmap().Set("attributes", newOmap().Set("type", "AggregateResult")).Set(alias, n)}
	}
	if b.q.offset > 0 {
		if b.q.offset >= len(rows) {
			rows = nil
		} else {
			rows = rows[b.q.offset:]
		}
	}
	if b.q.limit >= 0 && len(rows) > b.q.limit {
		rows = rows[:b.q.limit]
	}
	if b.q.count {
		return len(rows), []any{}
	}
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		out = append(out, s.project(t, o, r, b.q.fields, version))
	}
	return len(out), out
}

func (ob orderItem) nullsLastEffective() bool {
	if ob.nullsSet {
		return ob.nullsLast
	}
	return ob.desc // ASC: nulls first; DESC: nulls last
}

// compareValues orders two stored values; nulls sort first unless
// nullsHigh says they compare greater.
func compareValues(f *field, a, b any, nullsHigh bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if nullsHigh {
			return 1
		}
		return -1
	case b == nil:
		if nullsHigh {
			return -1
		}
		return 1
	}
	switch x := a.(type) {
	case float64:
		y, _ := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case string:
		y, _ := b.(string)
		if f != nil && (f.Type == tID || f.Type == tReference || f.Type == tDate || f.Type == tDatetime) {
			return strings.Compare(x, y) // canonical forms sort as they compare
		}
		if c := compareFold(x, y); c != 0 {
			return c
		}
		return 0
	}
	return 0
}

// compareFold compares case-insensitively without allocating.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			la, lb := unicode.ToLower(ra), unicode.ToLower(rb)
			if la != lb {
				if la < lb {
					return -1
				}
				return 1
			}
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// project renders a record with the selected fields, nesting parent
// relationship fields under the relationship name.
func (s *Server) project(t *txn, o *sobject, r record, fields []fieldPath, version string) *omap {
	m := newOmap().Set("attributes", attributes(o.Name, r.str("Id"), version))
	for _, p := range fields {
		s.projectPath(t, o, r, m, p, version)
	}
	return m
}

func (s *Server) projectPath(t *txn, o *sobject, r record, m *omap, p fieldPath, version string) {
	if len(p) == 1 {
		f := o.field(p[0])
		m.Set(f.Name, outValue(f, r[f.Name]))
		return
	}
	ref := o.relations[strings.ToLower(p[0])]
	parentObj := s.schema.object(ref.ReferenceTo[0])
	id := r.str(ref.Name)
	parent := t.d.Records[parentObj.Name][id]
	if parent == nil {
		parent = t.d.Deleted[parentObj.Name][id]
	}
	if parent == nil {
		if _, ok := m.Get(ref.RelName); !ok {
			m.Set(ref.RelName, nil)
		}
		return
	}
	sub, _ := m.Get(ref.RelName)
	nested, ok := sub.(*omap)
	if !ok {
		nested = newOmap().Set("attributes", attributes(parentObj.Name, id, version))
		m.Set(ref.RelName, nested)
	}
	s.projectPath(t, parentObj, parent, nested, p[1:], version)
}

// outValue renders a stored value as Salesforce does in JSON.
func outValue(f *field, v any) any {
	if n, ok := v.(float64); ok && f.Type == tInt {
		return int64(n)
	}
	return v
}

func attributes(object, id, version string) *omap {
	return newOmap().Set("type", object).Set("url", "/services/data/v"+version+"/sobjects/"+object+"/"+id)
}

// eval evaluates a WHERE expression against one record.
func (s *Server) eval(t *txn, o *sobject, r record, e expr) bool {
	switch x := e.(type) {
	case *andExpr:
		for _, it := range x.items {
			if !s.eval(t, o, r, it) {
				return false
			}
		}
		return true
	case *orExpr:
		for _, it := range x.items {
			if s.eval(t, o, r, it) {
				return true
			}
		}
		return false
	case *notExpr:
		return !s.eval(t, o, r, x.x)
	case *condExpr:
		v, f := s.lookupPath(t, o, r, x.field)
		switch x.op {
		case "IN", "NOT IN":
			in := false
			for _, lit := range x.values {
				if s.compare(f, v, "=", lit) {
					in = true
					break
				}
			}
			return in == (x.op == "IN")
		case "LIKE":
			str, ok := v.(string)
			if x.re == nil {
				x.re = likeRegexp(x.val.s)
			}
			return ok && x.re.MatchString(str)
		}
		return s.compare(f, v, x.op, x.val)
	}
	return false
}

func (s *Server) compare(f *field, v any, op string, lit value) bool {
	if lit.kind == vNull {
		isNull := v == nil
		if op == "=" {
			return isNull
		}
		if op == "!=" {
			return !isNull
		}
		return false
	}
	if v == nil {
		return op == "!="
	}
	var c int
	switch f.Type {
	case tDate, tDatetime:
		var tv time.Time
		if f.Type == tDate {
			tv, _ = time.Parse(sfDate, v.(string))
		} else {
			tv, _ = parseDatetime(v.(string))
		}
		lo, hi := s.literalRange(lit)
		switch op {
		case "=":
			return !tv.Before(lo) && tv.Before(hi)
		case "!=":
			return tv.Before(lo) || !tv.Before(hi)
		case "<":
			return tv.Before(lo)
		case "<=":
			return tv.Before(hi)
		case ">":
			return !tv.Before(hi)
		case ">=":
			return !tv.Before(lo)
		}
		return false
	case tBoolean:
		b, _ := v.(bool)
		if op == "=" {
			return b == lit.b
		}
		if op == "!=" {
			return b != lit.b
		}
		return false
	case tDouble, tPercent, tCurrency, tInt:
		n, _ := v.(float64)
		c = compareValues(f, n, lit.n, false)
	case tID, tReference:
		want := lit.s
		if id, ok := normalizeID(want); ok {
			want = id
		}
		c = strings.Compare(v.(string), want)
	default:
		want := likeUnescaper.Replace(lit.s)
		c = strings.Compare(strings.ToLower(fmt.Sprint(v)), strings.ToLower(want))
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// likeUnescaper drops LIKE escapes from literals compared with = and IN.
var likeUnescaper = strings.NewReplacer(`\%`, "%", `\_`, "_")

// literalRange is the half-open time range a date value denotes (UTC).
func (s *Server) literalRange(v value) (time.Time, time.Time) {
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	switch v.kind {
	case vDate:
		d, _ := time.Parse(sfDate, v.s)
		return d, d.Add(day)
	case vDatetime:
		t, _ := parseDatetime(v.s)
		return t, t.Add(time.Millisecond)
	}
	n := time.Duration(v.n)
	weekStart := today.AddDate(0, 0, -int(today.Weekday()))
	monthStart := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	yearStart := time.Date(today.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	switch v.s {
	case "TODAY":
		return today, today.Add(day)
	case "YESTERDAY":
		return today.Add(-day), today
	case "TOMORROW":
		return today.Add(day), today.Add(2 * day)
	case "THIS_WEEK":
		return weekStart, weekStart.AddDate(0, 0, 7)
	case "LAST_WEEK":
		return weekStart.AddDate(0, 0, -7), weekStart
	case "NEXT_WEEK":
		return weekStart.AddDate(0, 0, 7), weekStart.AddDate(0, 0, 14)
	case "THIS_MONTH":
		return monthStart, monthStart.AddDate(0, 1, 0)
	case "LAST_MONTH":
		return monthStart.AddDate(0, -1, 0), monthStart
	case "NEXT_MONTH":
		return monthStart.AddDate(0, 1, 0), monthStart.AddDate(0, 2, 0)
	case "THIS_YEAR":
		return yearStart, yearStart.AddDate(1, 0, 0)
	case "LAST_YEAR":
		return yearStart.AddDate(-1, 0, 0), yearStart
	case "LAST_N_DAYS":
		return today.Add(-n * day), today.Add(day)
	case "NEXT_N_DAYS":
		return today.Add(day), today.Add((n + 1) * day)
	case "LAST_N_HOURS":
		return now.Add(-n * time.Hour), now
	}
	return today, today
}

// likeRegexp compiles a LIKE pattern: % any run, _ one character, \% and \_
// literal; case-insensitive as in SOQL.
func likeRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch {
		case c == '\\' && i+1 < len(pat) && (pat[i+1] == '%' || pat[i+1] == '_'):
			b.WriteString(regexp.QuoteMeta(string(pat[i+1])))
			i++
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// parseQuery parses and binds a SOQL string, mapping errors to Salesforce's.
func (s *Server) parseQuery(q string) (*boundQuery, *apiError) {
	if strings.TrimSpace(q) == "" {
		return nil, malformedQuery("\n\n^\nERROR at Row:1:Column:0\nunexpected token: <EOF>")
	}
	pq, err := parseSOQL(q)
	if err != nil {
		return nil, malformedQuery(err.Error())
	}
	b, aerr := s.bind(pq)
	if aerr != nil {
		return nil, aerr
	}
	// SOQL (not SOSL, which defaults to published articles) must say which
	// article versions it wants.
	if b.obj.Name == "Knowledge__kav" && !knowledgeFiltered(pq.where) {
		return nil, malformedQuery("Implementation restriction: When querying the Knowledge__kav object, you must filter using the following syntax: Id = [single ID], Id IN [list of ID's] or PublishStatus = [status]. In addition PublishStatus is only permitted in a top level AND condition.")
	}
	return b, nil
}
