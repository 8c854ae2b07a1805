package sfsim

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// SOSL and parameterizedSearch: a small full-text engine with English
// stemming and TF-IDF relevance (title fields weigh more), enough for the
// knowledge stage to get realistically ordered results.

type searchSpec struct {
	object *sobject
	fields []fieldPath
	where  expr
	order  []orderItem
	limit  int
}

type searchQuery struct {
	terms   searchExpr
	scope   string // ALL, NAME, EMAIL, PHONE
	specs   []searchSpec
	limit   int
	rawTerm string
}

// searchExpr is an OR of AND-groups of (possibly negated) terms.
type searchExpr [][]searchTerm

type searchTerm struct {
	words  []string // stemmed; more than one for a quoted phrase
	prefix bool     // trailing *
	not    bool
}

func stem(w string) string {
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if len(w)-len(suf) >= 3 && strings.HasSuffix(w, suf) {
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

func words(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		out = append(out, stem(w))
	}
	return out
}

// parseSearchTerms parses the text inside FIND {...} or parameterizedSearch q.
func parseSearchTerms(s string) (searchExpr, *apiError) {
	var expr searchExpr
	group := []searchTerm{}
	neg := false
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '(' || c == ')':
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				end = len(s) - i - 1
			}
			phrase := words(s[i+1 : i+1+end])
			if len(phrase) > 0 {
				group = append(group, searchTerm{words: phrase, not: neg})
			}
			neg = false
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()\"", rune(s[j])) {
				j++
			}
			tok := s[i:j]
			i = j
			switch strings.ToUpper(tok) {
			case "AND":
				continue
			case "OR":
				if len(group) > 0 {
					expr = append(expr, group)
				}
				group = []searchTerm{}
				continue
			case "NOT":
				neg = true
				continue
			}
			tok = strings.ReplaceAll(tok, `\`, "")
			prefix := strings.HasSuffix(tok, "*")
			raw := strings.Fields(strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) || unicode.IsDigit(r) {
					return unicode.ToLower(r)
				}
				return ' '
			}, strings.TrimSuffix(tok, "*")))
			for k, w := range raw {
				if prefix && k == len(raw)-1 {
					// A wildcard matches the unstemmed prefix.
					group = append(group, searchTerm{words: []string{w}, prefix: true, not: neg})
					continue
				}
				group = append(group, searchTerm{words: []string{stem(w)}, not: neg})
			}
			neg = false
		}
	}
	if len(group) > 0 {
		expr = append(expr, group)
	}
	positive := 0
	for _, g := range expr {
		for _, t := range g {
			if !t.not {
				for _, w := range t.words {
					positive += len(w)
				}
			}
		}
	}
	if positive < 2 {
		return nil, plainErr(400, "INVALID_SEARCH", "search term must be longer than one character: "+s)
	}
	return expr, nil
}

// parseSOSL parses FIND {terms} [IN scope FIELDS] [RETURNING ...] [LIMIT n].
func (s *Server) parseSOSL(src string) (*searchQuery, *apiError) {
	bad := func(msg string) *apiError { return plainErr(400, "MALFORMED_SEARCH", msg) }
	rest := strings.TrimSpace(src)
	if len(rest) < 4 || !strings.EqualFold(rest[:4], "FIND") {
		return nil, bad("No search term found. The search term must be enclosed in braces.")
	}
	rest = strings.TrimSpace(rest[4:])
	if rest == "" || (rest[0] != '{' && rest[0] != '\'') {
		return nil, bad("No search term found. The search term must be enclosed in braces.")
	}
	closer := byte('}')
	if rest[0] == '\'' {
		closer = '\''
	}
	end := -1
	for i := 1; i < len(rest); i++ {
		if rest[i] == '\\' {
			i++
			continue
		}
		if rest[i] == closer {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, bad("No search term found. The search term must be enclosed in braces.")
	}
	sq := &searchQuery{scope: "ALL", limit: 2000, rawTerm: rest[1:end]}
	terms, err := parseSearchTerms(sq.rawTerm)
	if err != nil {
		return nil, err
	}
	sq.terms = terms
	toks, lerr := lex(rest[end+1:])
	if lerr != nil {
		return nil, bad(lerr.Error())
	}
	p := &parser{src: rest[end+1:], toks: toks}
	if p.acceptKeyword("IN") {
		t, e := p.ident()
		if e != nil {
			return nil, bad(e.Error())
		}
		sq.scope = strings.ToUpper(t)
		if sq.scope != "ALL" && sq.scope != "NAME" && sq.scope != "EMAIL" && sq.scope != "PHONE" {
			return nil, bad("unexpected token: " + t)
		}
		if !p.acceptKeyword("FIELDS") {
			return nil, bad(p.unexpected().Error())
		}
	}
	if p.acceptKeyword("RETURNING") {
		for {
			name, e := p.ident()
			if e != nil {
				return nil, bad(e.Error())
			}
			o := s.schema.object(name)
			if o == nil {
				return nil, invalidType(name)
			}
			spec := searchSpec{object: o, limit: -1}
			if p.isPunct("(") {
				p.i++
				sub, e := p.searchSpecBody()
				if e != nil {
					return nil, bad(e.Error())
				}
				spec.fields, spec.where, spec.order, spec.limit = sub.fields, sub.where, sub.orderBy, sub.limit
			}
			sq.specs = append(sq.specs, spec)
			if !p.isPunct(",") {
				break
			}
			p.i++
		}
	}
	if p.acceptKeyword("LIMIT") {
		n, e := p.nonNegInt()
		if e != nil {
			return nil, bad(e.Error())
		}
		sq.limit = n
	}
	if p.peek().kind != tkEOF {
		return nil, bad(p.unexpected().Error())
	}
	if err := s.bindSearch(sq); err != nil {
		return nil, err
	}
	return sq, nil
}

// searchSpecBody parses "fields [WHERE ...] [ORDER BY ...] [LIMIT n] )".
func (p *parser) searchSpecBody() (*soqlQuery, error) {
	q := &soqlQuery{limit: -1, offset: -1}
	for {
		f, err := p.fieldPath()
		if err != nil {
			return nil, err
		}
		q.fields = append(q.fields, f)
		if !p.isPunct(",") {
			break
		}
		p.i++
	}
	var err error
	if p.acceptKeyword("WHERE") {
		if q.where, err = p.condition(); err != nil {
			return nil, err
		}
	}
	if p.acceptKeyword("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
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
		q.orderBy = append(q.orderBy, o)
	}
	if p.acceptKeyword("LIMIT") {
		if q.limit, err = p.nonNegInt(); err != nil {
			return nil, err
		}
	}
	return q, p.expectPunct(")")
}

func (s *Server) bindSearch(sq *searchQuery) *apiError {
	if len(sq.specs) == 0 {
		for _, name := range s.schema.names {
			if o := s.schema.object(name); o.Searchable {
				sq.specs = append(sq.specs, searchSpec{object: o, limit: -1})
			}
		}
	}
	for i := range sq.specs {
		sp := &sq.specs[i]
		if !sp.object.Searchable {
			return plainErr(400, "INVALID_TYPE", fmt.Sprintf("entity type %s does not support search", sp.object.Name))
		}
		if len(sp.fields) == 0 {
			sp.fields = []fieldPath{{"Id"}}
		}
		q := &soqlQuery{object: sp.object.Name, fields: sp.fields, where: sp.where, orderBy: sp.order, limit: -1, offset: -1}
		if _, err := s.bind(q); err != nil {
			return err
		}
	}
	return nil
}

// textFields lists the fields searched in a scope, and the weight of each.
func textFields(o *sobject, scope string) map[string]float64 {
	out := map[string]float64{}
	for _, f := range o.Fields {
		switch {
		case scope == "EMAIL" && f.Type == tEmail, scope == "PHONE" && f.Type == tPhone:
			out[f.Name] = 1
		case scope == "NAME" && (f.Name == "Name" || f.Name == "Title" || f.Name == "Subject" || f.Name == "LastName" || f.Name == "FirstName"):
			out[f.Name] = 1
		case scope == "ALL" && (f.isText() && f.Type != tID && f.Type != tReference && f.Type != tPicklist):
			w := 1.0
			switch f.Name {
			case "Name", "Title", "Subject":
				w = 3
			case "Summary", "Description":
				w = 2
			}
			out[f.Name] = w
		}
	}
	return out
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

type scored struct {
	o     *sobject
	r     record
	score float64
	spec  int
}

// runSearch evaluates a search over its specs and returns projected records
// in relevance order.
func (s *Server) runSearch(t *txn, sq *searchQuery, version string) []any {
	var hits []scored
	for si, sp := range sq.specs {
		weights := textFields(sp.object, sq.scope)
		type doc struct {
			r     record
			terms map[string][]float64 // word → weights of fields it occurs in
			all   []string
		}
		var docs []doc
		for _, r := range t.sortedRecords(sp.object.Name) {
			if sp.object.Name == "Knowledge__kav" && !mentionsField(sp.where, "PublishStatus") && r.str("PublishStatus") != "Online" {
				continue // SOSL returns published articles unless told otherwise
			}
			if sp.where != nil && !s.eval(t, sp.object, r, sp.where) {
				continue
			}
			d := doc{r: r, terms: map[string][]float64{}}
			for name, w := range weights {
				v, _ := r[name].(string)
				for _, word := range words(tagRe.ReplaceAllString(v, " ")) {
					d.terms[word] = append(d.terms[word], w)
					d.all = append(d.all, word)
				}
			}
			docs = append(docs, d)
		}
		df := map[string]int{}
		for _, d := range docs {
			for w := range d.terms {
				df[w]++
			}
		}
		n := float64(len(docs))
		var specHits []scored
		for _, d := range docs {
			score, ok := 0.0, false
			for _, group := range sq.terms {
				gScore, gOK := 0.0, true
				for _, term := range group {
					tf := termWeight(d.terms, d.all, term)
					if term.not {
						if tf > 0 {
							gOK = false
						}
						continue
					}
					if tf == 0 {
						gOK = false
						break
					}
					idf := math.Log(1 + n/float64(max(df[term.words[0]], 1)))
					gScore += tf * idf
				}
				if gOK {
					ok = true
					score += gScore // documents matching more alternatives rank higher
				}
			}
			if ok {
				specHits = append(specHits, scored{o: sp.object, r: d.r, score: score, spec: si})
			}
		}
		sort.SliceStable(specHits, func(i, j int) bool { return specHits[i].score > specHits[j].score })
		if len(sp.order) > 0 {
			sort.SliceStable(specHits, func(i, j int) bool {
				vi, f := s.lookupPath(t, sp.object, specHits[i].r, sp.order[0].field)
				vj, _ := s.lookupPath(t, sp.object, specHits[j].r, sp.order[0].field)
				c := compareValues(f, vi, vj, sp.order[0].desc)
				if sp.order[0].desc {
					return c > 0
				}
				return c < 0
			})
		}
		if sp.limit >= 0 && len(specHits) > sp.limit {
			specHits = specHits[:sp.limit]
		}
		hits = append(hits, specHits...)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	if sq.limit >= 0 && len(hits) > sq.limit {
		hits = hits[:sq.limit]
	}
	out := make([]any, 0, len(hits))
	for _, h := range hits {
		out = append(out, s.project(t, h.o, h.r, sq.specs[h.spec].fields, version))
	}
	return out
}

func termWeight(terms map[string][]float64, all []string, t searchTerm) float64 {
	if len(t.words) == 1 {
		if t.prefix {
			sum := 0.0
			for w, ws := range terms {
				if strings.HasPrefix(w, t.words[0]) {
					for _, x := range ws {
						sum += x
					}
				}
			}
			return sum
		}
		sum := 0.0
		for _, x := range terms[t.words[0]] {
			sum += x
		}
		return sum
	}
	// Phrase: count consecutive occurrences.
	count := 0.0
	for i := 0; i+len(t.words) <= len(all); i++ {
		match := true
		for k, w := range t.words {
			if all[i+k] != w {
				match = false
				break
			}
		}
		if match {
			count++
		}
	}
	return count
}

func mentionsField(e expr, name string) bool {
	switch x := e.(type) {
	case *andExpr:
		for _, it := range x.items {
			if mentionsField(it, name) {
				return true
			}
		}
	case *orExpr:
		for _, it := range x.items {
			if mentionsField(it, name) {
				return true
			}
		}
	case *notExpr:
		return mentionsField(x.x, name)
	case *condExpr:
		return strings.EqualFold(x.field[len(x.field)-1], name)
	}
	return false
}

func (s *Server) search(t *txn, req *request) response {
	q := req.query.Get("q")
	sq, err := s.parseSOSL(q)
	if err != nil {
		return errResp(err)
	}
	return response{status: 200, body: newOmap().Set("searchRecords", s.runSearch(t, sq, req.version))}
}

// parameterizedSearch serves GET (query parameters) and POST (JSON body).
func (s *Server) parameterizedSearch(t *txn, req *request) response {
	type objSpec struct {
		Name   string   `json:"name"`
		Fields []string `json:"fields"`
		Where  string   `json:"where"`
		Limit  *int     `json:"limit"`
	}
	var in struct {
		Q            string    `json:"q"`
		In           string    `json:"in"`
		Fields       []string  `json:"fields"`
		SObjects     []objSpec `json:"sobjects"`
		OverallLimit *int      `json:"overallLimit"`
		DefaultLimit *int      `json:"defaultLimit"`
	}
	switch req.method {
	case http.MethodPost:
		if err := decodeJSON(req.body, &in); err != nil {
			return errResp(plainErr(400, "JSON_PARSER_ERROR", "Invalid parameterizedSearch body: "+err.Error()))
		}
	case http.MethodGet:
		qv := req.query
		in.Q, in.In = qv.Get("q"), qv.Get("in")
		if f := qv.Get("fields"); f != "" {
			in.Fields = strings.Split(f, ",")
		}
		for _, name := range qv["sobject"] {
			sp := objSpec{Name: name, Where: qv.Get(name + ".where")}
			if f := qv.Get(name + ".fields"); f != "" {
				sp.Fields = strings.Split(f, ",")
			}
			if l := qv.Get(name + ".limit"); l != "" {
				n, err := strconv.Atoi(l)
				if err != nil {
					return errResp(plainErr(400, "INVALID_SEARCH", "invalid limit: "+l))
				}
				sp.Limit = &n
			}
			in.SObjects = append(in.SObjects, sp)
		}
		if l := qv.Get("overallLimit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil {
				return errResp(plainErr(400, "INVALID_SEARCH", "invalid overallLimit: "+l))
			}
			in.OverallLimit = &n
		}
	default:
		return errResp(methodNotAllowed(req.method, "GET, POST"))
	}
	if strings.TrimSpace(in.Q) == "" {
		return errResp(plainErr(400, "MISSING_ARGUMENT", "q not specified"))
	}
	terms, err := parseSearchTerms(in.Q)
	if err != nil {
		return errResp(err)
	}
	sq := &searchQuery{terms: terms, scope: "ALL", limit: 2000, rawTerm: in.Q}
	if in.In != "" {
		sq.scope = strings.ToUpper(in.In)
	}
	if in.OverallLimit != nil {
		sq.limit = *in.OverallLimit
	}
	for _, sp := range in.SObjects {
		o := s.schema.object(sp.Name)
		if o == nil {
			return errResp(invalidType(sp.Name))
		}
		spec := searchSpec{object: o, limit: -1}
		fields := sp.Fields
		if len(fields) == 0 {
			fields = in.Fields
		}
		for _, f := range fields {
			spec.fields = append(spec.fields, fieldPath(strings.Split(strings.TrimSpace(f), ".")))
		}
		if sp.Where != "" {
			toks, lerr := lex(sp.Where)
			if lerr != nil {
				return errResp(plainErr(400, "MALFORMED_SEARCH", lerr.Error()))
			}
			p := &parser{src: sp.Where, toks: toks}
			w, perr := p.condition()
			if perr == nil && p.peek().kind != tkEOF {
				perr = p.unexpected()
			}
			if perr != nil {
				return errResp(plainErr(400, "MALFORMED_SEARCH", perr.Error()))
			}
			spec.where = w
		}
		switch {
		case sp.Limit != nil:
			spec.limit = *sp.Limit
		case in.DefaultLimit != nil:
			spec.limit = *in.DefaultLimit
		}
		sq.specs = append(sq.specs, spec)
	}
	if len(sq.specs) == 0 && len(in.Fields) > 0 {
		// Fields without sobjects apply to every searchable object.
		if err := s.bindSearch(sq); err != nil {
			return errResp(err)
		}
		for i := range sq.specs {
			sq.specs[i].fields = nil
			for _, f := range in.Fields {
				sq.specs[i].fields = append(sq.specs[i].fields, fieldPath{strings.TrimSpace(f)})
			}
		}
	}
	if err := s.bindSearch(sq); err != nil {
		return errResp(err)
	}
	return response{status: 200, body: newOmap().Set("searchRecords", s.runSearch(t, sq, req.version))}
}
