package sfsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// route dispatches a data API request (path relative to /services/data/vXX.X).
func (s *Server) route(t *txn, req *request) response {
	t.version = req.version
	seg := strings.Split(strings.TrimPrefix(req.path, "/"), "/")
	for i, p := range seg {
		if u, err := url.PathUnescape(p); err == nil {
			seg[i] = u
		}
	}
	switch seg[0] {
	case "":
		if req.method != http.MethodGet {
			return errResp(methodNotAllowed(req.method, "GET, HEAD"))
		}
		return s.resources(req)
	case "limits":
		if req.method != http.MethodGet {
			return errResp(methodNotAllowed(req.method, "GET, HEAD"))
		}
		return s.limits()
	case "sobjects":
		return s.sobjects(t, req, seg[1:])
	case "query", "queryAll":
		if req.method != http.MethodGet {
			return errResp(methodNotAllowed(req.method, "GET, HEAD"))
		}
		if len(seg) == 2 {
			return s.nextPage(seg[0], seg[1], req.version)
		}
		return s.query(t, req, seg[0] == "queryAll")
	case "search":
		if req.method != http.MethodGet {
			return errResp(methodNotAllowed(req.method, "GET, HEAD"))
		}
		return s.search(t, req)
	case "parameterizedSearch":
		return s.parameterizedSearch(t, req)
	case "composite":
		if req.sub && (len(seg) == 1 || seg[1] == "graph") {
			return errResp(plainErr(400, "INVALID_API_INPUT", "A composite request can't contain another composite or graph request"))
		}
		switch {
		case len(seg) == 1:
			return s.composite(t, req)
		case seg[1] == "graph":
			return s.graph(t, req)
		case seg[1] == "sobjects":
			return s.collections(t, req, seg[2:])
		}
	}
	return errResp(notFound())
}

func (s *Server) resources(req *request) response {
	p := "/services/data/v" + req.version + "/"
	m := newOmap()
	for _, r := range []string{"limits", "parameterizedSearch", "query", "queryAll", "search", "sobjects", "composite"} {
		m.Set(r, p+r)
	}
	return response{status: 200, body: m}
}

func (s *Server) limits() response {
	s.mu.Lock()
	used, limit := s.usedToday, s.opts.DailyAPILimit
	s.mu.Unlock()
	lim := func(max, rem int) *omap { return newOmap().Set("Max", max).Set("Remaining", rem) }
	return response{status: 200, body: newOmap().
		Set("DailyApiRequests", lim(limit, max(limit-used, 0))).
		Set("DailyAsyncApexExecutions", lim(250000, 250000)).
		Set("DailyBulkApiBatches", lim(15000, 15000)).
		Set("DataStorageMB", lim(5, 5)).
		Set("SingleEmail", lim(15, 15))}
}

func (s *Server) decodeBody(req *request) (map[string]any, *apiError) {
	var in map[string]any
	if err := decodeJSON(req.body, &in); err != nil || in == nil {
		return nil, plainErr(400, "JSON_PARSER_ERROR", "Unexpected character or end of input: the request body must be a JSON object")
	}
	return in, nil
}

func (s *Server) sobjects(t *txn, req *request, seg []string) response {
	if len(seg) == 0 {
		if req.method != http.MethodGet {
			return errResp(methodNotAllowed(req.method, "GET, HEAD"))
		}
		return s.describeGlobal(req.version)
	}
	o := s.schema.object(seg[0])
	if o == nil || !s.objAllowed(o, "read") {
		return errResp(notFound())
	}
	switch len(seg) {
	case 1:
		switch req.method {
		case http.MethodGet:
			return response{status: 200, body: newOmap().Set("objectDescribe", s.objectSummary(o, req.version)).Set("recentItems", []any{})}
		case http.MethodPost:
			if o.Name == "ContentVersion" {
				return s.postContentVersion(t, req, o)
			}
			if req.blob != nil {
				return errResp(plainErr(400, "INVALID_MULTIPART_REQUEST", o.Name+" has no blob field"))
			}
			in, err := s.decodeBody(req)
			if err != nil {
				return errResp(err)
			}
			id, errs := t.create(o, in)
			if errs != nil {
				return errResp(errs...)
			}
			return response{status: 201, body: saveResult(id), header: map[string]string{"Location": recordURL(req.version, o.Name, id)}}
		}
		return errResp(methodNotAllowed(req.method, "GET, HEAD, POST"))
	case 2:
		if seg[1] == "describe" {
			if req.method != http.MethodGet {
				return errResp(methodNotAllowed(req.method, "GET, HEAD"))
			}
			return response{status: 200, body: s.describe(o, req.version)}
		}
		switch req.method {
		case http.MethodGet:
			r, err := t.find(o, seg[1])
			if err != nil {
				return errResp(err)
			}
			return s.getRecord(o, r, req)
		case http.MethodPatch:
			in, err := s.decodeBody(req)
			if err != nil {
				return errResp(err)
			}
			if errs := t.update(o, seg[1], in); errs != nil {
				return errResp(errs...)
			}
			return response{status: 204}
		case http.MethodDelete:
			if errs := t.remove(o, seg[1]); errs != nil {
				return errResp(errs...)
			}
			return response{status: 204}
		case http.MethodPost:
			if strings.EqualFold(seg[1], "Id") { // POST /sobjects/X/Id: create, Id as the external ID
				in, err := s.decodeBody(req)
				if err != nil {
					return errResp(err)
				}
				id, errs := t.create(o, in)
				if errs != nil {
					return errResp(errs...)
				}
				return response{status: 201, body: upsertBody(id, true), header: map[string]string{"Location": recordURL(req.version, o.Name, id)}}
			}
		}
		return errResp(methodNotAllowed(req.method, "GET, HEAD, PATCH, DELETE"))
	case 3:
		return s.byExternalID(t, req, o, seg[1], seg[2])
	}
	return errResp(notFound())
}

func recordURL(version, object, id string) string {
	return "/services/data/v" + version + "/sobjects/" + object + "/" + id
}

func saveResult(id string) *omap {
	return newOmap().Set("id", id).Set("success", true).Set("errors", []any{})
}

func upsertBody(id string, created bool) *omap {
	return saveResult(id).Set("created", created)
}

func (s *Server) getRecord(o *sobject, r record, req *request) response {
	m := newOmap().Set("attributes", attributes(o.Name, r.str("Id"), req.version))
	if fl := req.query.Get("fields"); fl != "" {
		names := strings.Split(fl, ",")
		for _, n := range names {
			f := o.field(strings.TrimSpace(n))
			if f == nil || !s.fieldAllowed(o, f, false) {
				return errResp(invalidField(strings.TrimSpace(n), o.Name))
			}
			m.Set(f.Name, outValue(f, r[f.Name]))
		}
		if _, ok := m.Get("Id"); !ok {
			m.Set("Id", r.str("Id"))
		}
		return response{status: 200, body: m}
	}
	for _, f := range o.Fields {
		if s.fieldAllowed(o, f, false) {
			m.Set(f.Name, outValue(f, r[f.Name]))
		}
	}
	return response{status: 200, body: m}
}

// byExternalID serves /sobjects/{Object}/{Field}/{value}: GET, upsert
// (PATCH, or POST for Id), DELETE.
func (s *Server) byExternalID(t *txn, req *request, o *sobject, fieldName, value string) response {
	f := o.field(fieldName)
	if f == nil || !(f.ExternalID || f.IDLookup) {
		return errResp(plainErr(http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+fieldName))
	}
	multiple := func(ids []string) response {
		urls := make([]any, len(ids))
		for i, id := range ids {
			urls[i] = recordURL(req.version, o.Name, id)
		}
		return response{status: http.StatusMultipleChoices, body: urls}
	}
	switch req.method {
	case http.MethodGet, http.MethodDelete:
		var ids []string
		if f.Name == "Id" {
			r, err := t.find(o, value)
			if err != nil {
				return errResp(err)
			}
			ids = []string{r.str("Id")}
		} else {
			ids = t.matchField(o, f, value)
		}
		switch {
		case len(ids) == 0:
			return errResp(notFound())
		case len(ids) > 1:
			return multiple(ids)
		}
		if req.method == http.MethodDelete {
			if errs := t.remove(o, ids[0]); errs != nil {
				return errResp(errs...)
			}
			return response{status: 204}
		}
		return s.getRecord(o, t.d.Records[o.Name][ids[0]], req)
	case http.MethodPatch:
		in, err := s.decodeBody(req)
		if err != nil {
			return errResp(err)
		}
		res, errs := t.upsert(o, f.Name, value, in)
		if errs != nil {
			return errResp(errs...)
		}
		if res.Matches != nil {
			return multiple(res.Matches)
		}
		hdr := map[string]string{"Location": recordURL(req.version, o.Name, res.ID)}
		switch {
		case res.Created:
			return response{status: 201, body: upsertBody(res.ID, true), header: hdr}
		case versionNum(req.version) >= 46:
			return response{status: 200, body: upsertBody(res.ID, false), header: hdr}
		default: // before API 46.0 an update by upsert answers 204 without a body
			return response{status: 204}
		}
	}
	return errResp(methodNotAllowed(req.method, "GET, HEAD, PATCH, DELETE"))
}

// describeGlobal serves GET /sobjects.
func (s *Server) describeGlobal(version string) response {
	var objs []any
	for _, name := range s.schema.names {
		if o := s.schema.object(name); s.objAllowed(o, "read") {
			objs = append(objs, s.objectSummary(o, version))
		}
	}
	return response{status: 200, body: newOmap().Set("encoding", "UTF-8").Set("maxBatchSize", 200).Set("sobjects", objs)}
}

func (s *Server) objectSummary(o *sobject, version string) *omap {
	base := "/services/data/v" + version + "/sobjects/" + o.Name
	return newOmap().
		Set("name", o.Name).Set("label", o.Label).Set("labelPlural", o.LabelPlural).
		Set("keyPrefix", o.KeyPrefix).Set("custom", o.Custom).
		Set("createable", o.Createable && s.objAllowed(o, "create")).
		Set("updateable", o.Updateable && s.objAllowed(o, "edit")).
		Set("deletable", o.Deletable && s.objAllowed(o, "delete")).
		Set("queryable", true).Set("searchable", o.Searchable).Set("retrieveable", true).
		Set("urls", newOmap().Set("sobject", base).Set("describe", base+"/describe").Set("rowTemplate", base+"/{ID}"))
}

// describe serves GET /sobjects/{Object}/describe.
func (s *Server) describe(o *sobject, version string) *omap {
	m := s.objectSummary(o, version)
	fields := make([]any, 0, len(o.Fields))
	for _, f := range o.Fields {
		if !s.fieldAllowed(o, f, false) {
			continue
		}
		picks := []any{}
		for _, v := range f.Picklist {
			label := v
			if o.Name == "EmailMessage" && f.Name == "Status" {
				n, _ := strconv.Atoi(v)
				label = []string{"New", "Read", "Replied", "Sent", "Forwarded", "Draft"}[n]
			}
			picks = append(picks, newOmap().Set("active", true).Set("defaultValue", v == f.Default).
				Set("label", label).Set("validFor", nil).Set("value", v))
		}
		refTo := f.ReferenceTo
		if refTo == nil {
			refTo = []string{}
		}
		var rel any
		if f.RelName != "" {
			rel = f.RelName
		}
		fields = append(fields, newOmap().
			Set("name", f.Name).Set("label", f.Label).Set("type", f.Type).
			Set("length", f.Length).Set("precision", f.Precision).Set("scale", f.Scale).
			Set("createable", f.Createable).Set("updateable", f.Updateable).Set("nillable", f.Nillable).
			Set("defaultedOnCreate", f.Defaulted).Set("externalId", f.ExternalID).Set("unique", f.Unique).
			Set("idLookup", f.IDLookup).Set("autoNumber", f.AutoNumber).Set("calculated", f.Calculated).
			Set("custom", f.Custom).Set("filterable", f.filterable()).
			Set("sortable", f.filterable()).
			Set("picklistValues", picks).Set("restrictedPicklist", f.Restricted).
			Set("referenceTo", refTo).Set("relationshipName", rel).
			Set("soapType", soapType(f.Type)))
	}
	return m.Set("fields", fields)
}

func soapType(t string) string {
	switch t {
	case tID, tReference:
		return "tns:ID"
	case tBoolean:
		return "xsd:boolean"
	case tDouble, tPercent, tCurrency:
		return "xsd:double"
	case tInt:
		return "xsd:int"
	case tDate:
		return "xsd:date"
	case tDatetime:
		return "xsd:dateTime"
	}
	return "xsd:string"
}

// cursor holds the remaining rows of a paginated query.
type cursor struct {
	rows  []any
	total int
	size  int // batch size chosen by the first request
}

func (s *Server) query(t *txn, req *request, all bool) response {
	q := req.query.Get("q")
	b, err := s.parseQuery(q)
	if err != nil {
		return errResp(err)
	}
	total, rows := s.execute(t, b, all, req.version)
	if b.q.count {
		return response{status: 200, body: newOmap().Set("totalSize", total).Set("done", true).Set("records", []any{})}
	}
	return s.page(rows, total, 0, "", req, all)
}

// page answers one batch; the locator is "<cursor id>-<offset>".
func (s *Server) page(rows []any, total, offset int, cursorID string, req *request, all bool) response {
	size := s.opts.PageSize
	if c := s.cursors[cursorID]; c != nil {
		size = c.size
	} else if opt := req.header.Get("Sforce-Query-Options"); opt != "" {
		if _, v, ok := strings.Cut(opt, "batchSize="); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 200 && n <= 2000 {
				size = n
			}
		}
	}
	end := min(offset+size, len(rows))
	m := newOmap().Set("totalSize", total).Set("done", end >= len(rows))
	if end < len(rows) {
		if cursorID == "" {
			s.curSeq++
			cursorID = makeID("01g", s.curSeq)
			s.cursors[cursorID] = &cursor{rows: rows, total: total, size: size}
			if len(s.cursors) > 1000 { // bound memory: drop an arbitrary old cursor
				for k := range s.cursors {
					if k != cursorID {
						delete(s.cursors, k)
						break
					}
				}
			}
		}
		kind := "query"
		if all {
			kind = "queryAll"
		}
		m.Set("nextRecordsUrl", fmt.Sprintf("/services/data/v%s/%s/%s-%d", req.version, kind, cursorID, end))
	} else if cursorID != "" {
		delete(s.cursors, cursorID)
	}
	return response{status: 200, body: m.Set("records", rows[offset:end])}
}

func (s *Server) nextPage(kind, locator, version string) response {
	id, off, ok := strings.Cut(locator, "-")
	n, err := strconv.Atoi(off)
	c := s.cursors[id]
	if !ok || err != nil || c == nil || n < 0 || n > len(c.rows) {
		return errResp(plainErr(400, "INVALID_QUERY_LOCATOR", "invalid query locator"))
	}
	return s.page(c.rows, c.total, n, id, &request{version: version, header: http.Header{}}, kind == "queryAll")
}
