package sfsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

const (
	maxCompositeSubrequests = 25
	maxGraphNodes           = 500
	maxGraphs               = 75
	maxCollectionRecords    = 200
)

type subrequest struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        json.RawMessage   `json:"body"`
	HTTPHeaders map[string]string `json:"httpHeaders"`
}

var refIDRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// reference expressions: @{refId.path.to[0].field}
var refExprRe = regexp.MustCompile(`@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[[0-9]+\])*)\}`)

func apiInputErr(msg string) response {
	return errResp(plainErr(http.StatusBadRequest, "INVALID_API_INPUT", msg))
}

func (s *Server) composite(t *txn, req *request) response {
	if req.method != http.MethodPost {
		return errResp(methodNotAllowed(req.method, "POST"))
	}
	var in struct {
		AllOrNone          bool         `json:"allOrNone"`
		CollateSubrequests bool         `json:"collateSubrequests"`
		CompositeRequest   []subrequest `json:"compositeRequest"`
	}
	if err := decodeJSON(req.body, &in); err != nil {
		return errResp(plainErr(400, "JSON_PARSER_ERROR", "Invalid composite request body: "+err.Error()))
	}
	if len(in.CompositeRequest) == 0 {
		return apiInputErr("compositeRequest: the request must contain at least one subrequest")
	}
	if len(in.CompositeRequest) > maxCompositeSubrequests {
		return apiInputErr(fmt.Sprintf("compositeRequest: a composite request can contain at most %d subrequests, got %d", maxCompositeSubrequests, len(in.CompositeRequest)))
	}
	if msg := checkSubrequests(in.CompositeRequest); msg != "" {
		return apiInputErr(msg)
	}
	results, _ := s.runSubrequests(t, req, in.CompositeRequest, in.AllOrNone)
	return response{status: 200, body: newOmap().Set("compositeResponse", results)}
}

func checkSubrequests(subs []subrequest) string {
	seen := map[string]bool{}
	for i, sr := range subs {
		if !refIDRe.MatchString(sr.ReferenceID) {
			return fmt.Sprintf("compositeRequest[%d].referenceId: must be a non-empty string of letters, digits and underscores", i)
		}
		if seen[sr.ReferenceID] {
			return fmt.Sprintf("Duplicate referenceId provided in the request: %s", sr.ReferenceID)
		}
		seen[sr.ReferenceID] = true
		switch strings.ToUpper(sr.Method) {
		case "GET", "POST", "PATCH", "PUT", "DELETE":
		default:
			return fmt.Sprintf("compositeRequest[%d].method: unsupported method %q", i, sr.Method)
		}
	}
	return ""
}

// runSubrequests executes subrequests in order in one transaction; with
// allOrNone a failure rolls everything back and every other subrequest
// answers PROCESSING_HALTED. ok is false when something failed.
func (s *Server) runSubrequests(t *txn, outer *request, subs []subrequest, allOrNone bool) ([]any, bool) {
	mark := t.mark()
	type result struct {
		status int
		body   any
		header map[string]string
	}
	results := make([]result, len(subs))
	done := map[string]any{} // referenceId → generic JSON body of a successful subrequest
	failed := false
	outerAllow := t.allowDup
	for i, sr := range subs {
		if failed && allOrNone {
			results[i] = result{status: 400, body: restBody([]*apiError{processingHalted()})}
			continue
		}
		resp := s.runSubrequest(t, outer, sr, done)
		t.allowDup = outerAllow
		results[i] = result{resp.status, resp.body, resp.header}
		if resp.status >= 300 {
			failed = true
			continue
		}
		var generic any
		if raw, err := marshal(resp.body); err == nil && resp.body != nil {
			_ = decodeJSON(raw, &generic)
		}
		done[sr.ReferenceID] = generic
	}
	if failed && allOrNone {
		t.rollbackTo(mark)
		for i := range results {
			if results[i].status < 300 {
				results[i] = result{status: 400, body: restBody([]*apiError{processingHalted()})}
			}
		}
	}
	out := make([]any, len(subs))
	for i, r := range results {
		hdr := newOmap()
		for k, v := range r.header {
			hdr.Set(k, v)
		}
		out[i] = newOmap().Set("body", r.body).Set("httpHeaders", hdr).Set("httpStatusCode", r.status).Set("referenceId", subs[i].ReferenceID)
	}
	return out, !failed
}

func (s *Server) runSubrequest(t *txn, outer *request, sr subrequest, done map[string]any) response {
	rawURL, err := substituteString(sr.URL, done, true)
	if err != nil {
		return errResp(err)
	}
	u, perr := url.Parse(rawURL)
	if perr != nil || !strings.HasPrefix(u.Path, "/services/data/v") {
		return errResp(plainErr(400, "INVALID_API_INPUT", "The URL of a subrequest must start with /services/data/vXX.X/: "+sr.URL))
	}
	version, rest, ok := splitVersion(u.EscapedPath()) // route unescapes each segment once
	if !ok || !s.supported(version) {
		return errResp(notFound())
	}
	var body []byte
	if len(sr.Body) > 0 && string(sr.Body) != "null" {
		var generic any
		if err := decodeJSON(sr.Body, &generic); err != nil {
			return errResp(plainErr(400, "JSON_PARSER_ERROR", err.Error()))
		}
		generic, aerr := substituteAny(generic, done)
		if aerr != nil {
			return errResp(aerr)
		}
		b, merr := marshal(generic)
		if merr != nil {
			return errResp(plainErr(400, "JSON_PARSER_ERROR", merr.Error()))
		}
		body = b
	}
	hdr := http.Header{}
	for k, v := range sr.HTTPHeaders {
		hdr.Set(k, v)
	}
	if allowSave(hdr) {
		t.allowDup = true
	}
	return s.route(t, &request{method: strings.ToUpper(sr.Method), path: rest, query: u.Query(), body: body, header: hdr, version: version, sub: true})
}

// substituteAny replaces references inside every string of a JSON value; a
// string that is exactly one reference takes the referenced value's type.
func substituteAny(v any, done map[string]any) (any, *apiError) {
	switch x := v.(type) {
	case string:
		if m := refExprRe.FindStringSubmatch(x); m != nil && m[0] == x {
			return resolveRef(m[1], m[2], done)
		}
		return substituteString(x, done, false)
	case map[string]any:
		for k, e := range x {
			r, err := substituteAny(e, done)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := substituteAny(e, done)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}

func substituteString(s string, done map[string]any, escape bool) (string, *apiError) {
	var firstErr *apiError
	out := refExprRe.ReplaceAllStringFunc(s, func(expr string) string {
		m := refExprRe.FindStringSubmatch(expr)
		v, err := resolveRef(m[1], m[2], done)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return expr
		}
		str := fmt.Sprint(v)
		if n, ok := v.(json.Number); ok {
			str = n.String()
		}
		if escape {
			str = url.PathEscape(str)
		}
		return str
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

var pathPartRe = regexp.MustCompile(`\.([A-Za-z0-9_]+)|\[([0-9]+)\]`)

func resolveRef(refID, path string, done map[string]any) (any, *apiError) {
	fail := func() *apiError {
		return plainErr(400, "PROCESSING_HALTED", fmt.Sprintf("Invalid reference specified. No value for %s%s found in %s. Provided referenceId ('%s') is incorrect.", refID, path, refID, refID))
	}
	cur, ok := done[refID]
	if !ok {
		return nil, fail()
	}
	for _, m := range pathPartRe.FindAllStringSubmatch(path, -1) {
		switch {
		case m[1] != "":
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, fail()
			}
			if cur, ok = obj[m[1]]; !ok {
				return nil, fail()
			}
		default:
			arr, ok := cur.([]any)
			n, _ := strconv.Atoi(m[2])
			if !ok || n >= len(arr) {
				return nil, fail()
			}
			cur = arr[n]
		}
	}
	if cur == nil {
		return nil, fail()
	}
	return cur, nil
}

func (s *Server) graph(t *txn, req *request) response {
	if req.method != http.MethodPost {
		return errResp(methodNotAllowed(req.method, "POST"))
	}
	var in struct {
		Graphs []struct {
			GraphID          string       `json:"graphId"`
			CompositeRequest []subrequest `json:"compositeRequest"`
		} `json:"graphs"`
	}
	if err := decodeJSON(req.body, &in); err != nil {
		return errResp(plainErr(400, "JSON_PARSER_ERROR", "Invalid graph request body: "+err.Error()))
	}
	if len(in.Graphs) == 0 || len(in.Graphs) > maxGraphs {
		return apiInputErr(fmt.Sprintf("graphs: a request must contain 1 to %d graphs", maxGraphs))
	}
	nodes := 0
	ids := map[string]bool{}
	for i, g := range in.Graphs {
		if g.GraphID == "" || ids[g.GraphID] {
			return apiInputErr(fmt.Sprintf("graphs[%d].graphId: must be present and unique", i))
		}
		ids[g.GraphID] = true
		if len(g.CompositeRequest) == 0 {
			return apiInputErr(fmt.Sprintf("graphs[%d].compositeRequest: a graph must contain at least one node", i))
		}
		if msg := checkSubrequests(g.CompositeRequest); msg != "" {
			return apiInputErr(msg)
		}
		nodes += len(g.CompositeRequest)
	}
	if nodes > maxGraphNodes {
		return apiInputErr(fmt.Sprintf("graphs: a request can contain at most %d nodes, got %d", maxGraphNodes, nodes))
	}
	var out []any
	for _, g := range in.Graphs {
		results, ok := s.runSubrequests(t, req, g.CompositeRequest, true)
		out = append(out, newOmap().Set("graphId", g.GraphID).
			Set("graphResponse", newOmap().Set("compositeResponse", results)).
			Set("isSuccessful", ok))
	}
	return response{status: 200, body: newOmap().Set("graphs", out)}
}

// collections serves /composite/sobjects[/{Object}[/{ExternalIdField}]].
func (s *Server) collections(t *txn, req *request, seg []string) response {
	if req.method == http.MethodDelete {
		return s.collectionDelete(t, req)
	}
	if req.method == http.MethodGet && len(seg) == 1 {
		return s.collectionGet(t, req, seg[0])
	}
	var upsertObj *sobject
	var extField string
	switch {
	case len(seg) == 0 && (req.method == http.MethodPost || req.method == http.MethodPatch):
	case len(seg) == 2 && req.method == http.MethodPatch:
		if upsertObj = s.schema.object(seg[0]); upsertObj == nil {
			return errResp(notFound())
		}
		f := upsertObj.field(seg[1])
		if f == nil || !(f.ExternalID || f.IDLookup) {
			return errResp(plainErr(http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+seg[1]))
		}
		extField = f.Name
	default:
		return errResp(methodNotAllowed(req.method, "GET, POST, PATCH, DELETE"))
	}
	var in struct {
		AllOrNone bool             `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := decodeJSON(req.body, &in); err != nil {
		return errResp(plainErr(400, "JSON_PARSER_ERROR", "Invalid collection request body: "+err.Error()))
	}
	if len(in.Records) > maxCollectionRecords {
		return errResp(plainErr(400, "EXCEEDED_ID_LIMIT", fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", maxCollectionRecords)))
	}
	type res struct {
		id      string
		created bool
		errs    []*apiError
	}
	mark := t.mark()
	results := make([]res, len(in.Records))
	failed := false
	for i, rec := range in.Records {
		o, err := recordType(s, rec)
		if err != nil {
			results[i], failed = res{errs: []*apiError{err}}, true
			continue
		}
		if upsertObj != nil && o != upsertObj {
			results[i], failed = res{errs: []*apiError{recordErr("INVALID_TYPE", "Records must all be of type "+upsertObj.Name)}}, true
			continue
		}
		body := map[string]any{}
		var id string
		for k, v := range rec {
			if strings.EqualFold(k, "id") {
				id, _ = v.(string)
				continue
			}
			body[k] = v
		}
		switch {
		case upsertObj != nil:
			val, _ := rec[extField]
			if val == nil {
				for k, v := range rec {
					if strings.EqualFold(k, extField) {
						val = v
					}
				}
			}
			if val == nil {
				results[i], failed = res{errs: []*apiError{recordErr("MISSING_ARGUMENT", extField+" not specified", extField)}}, true
				continue
			}
			ur, errs := t.upsert(o, extField, fmt.Sprint(val), body)
			if ur.Matches != nil {
				errs = []*apiError{recordErr("DUPLICATE_EXTERNAL_ID", fmt.Sprintf("Provided External ID field: %s matches multiple records: %s", extField, strings.Join(ur.Matches, ", ")), extField)}
			}
			results[i] = res{id: ur.ID, created: ur.Created, errs: errs}
		case req.method == http.MethodPost:
			if id != "" {
				results[i], failed = res{errs: []*apiError{recordErr("INVALID_FIELD", "cannot specify Id in an insert call", "Id")}}, true
				continue
			}
			nid, errs := t.create(o, body)
			results[i] = res{id: nid, errs: errs}
		default:
			if id == "" {
				results[i], failed = res{errs: []*apiError{recordErr("MISSING_ARGUMENT", "Id not specified in an update call", "Id")}}, true
				continue
			}
			errs := t.update(o, id, body)
			results[i] = res{id: id, errs: errs}
		}
		if results[i].errs != nil {
			failed = true
		}
	}
	if failed && in.AllOrNone {
		t.rollbackTo(mark)
	}
	out := make([]any, len(results))
	for i, r := range results {
		m := newOmap()
		switch {
		case r.errs != nil:
			m.Set("success", false).Set("errors", collectionBody(r.errs))
		case failed && in.AllOrNone:
			m.Set("success", false).Set("errors", collectionBody([]*apiError{recordErr("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header")}))
		default:
			m.Set("id", r.id).Set("success", true).Set("errors", []any{})
		}
		if upsertObj != nil {
			m.Set("created", r.created && r.errs == nil && !(failed && in.AllOrNone))
		}
		out[i] = m
	}
	return response{status: 200, body: out}
}

func recordType(s *Server, rec map[string]any) (*sobject, *apiError) {
	attrs, _ := rec["attributes"].(map[string]any)
	typ, _ := attrs["type"].(string)
	if typ == "" {
		return nil, recordErr("INVALID_TYPE", "Must send a concrete entity type.")
	}
	o := s.schema.object(typ)
	if o == nil || !s.objAllowed(o, "read") {
		return nil, recordErr("INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", typ))
	}
	return o, nil
}

func (s *Server) collectionDelete(t *txn, req *request) response {
	ids := strings.Split(req.query.Get("ids"), ",")
	if req.query.Get("ids") == "" {
		return errResp(plainErr(400, "MISSING_ARGUMENT", "ids not specified"))
	}
	if len(ids) > maxCollectionRecords {
		return errResp(plainErr(400, "EXCEEDED_ID_LIMIT", fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", maxCollectionRecords)))
	}
	allOrNone, _ := strconv.ParseBool(req.query.Get("allOrNone"))
	mark := t.mark()
	errsAt := make([][]*apiError, len(ids))
	failed := false
	for i, raw := range ids {
		id, ok := normalizeID(strings.TrimSpace(raw))
		var o *sobject
		if ok {
			o = s.schema.byPrefix[id[:3]]
		}
		if o == nil {
			errsAt[i], failed = []*apiError{recordErr("MALFORMED_ID", "malformed id "+raw)}, true
			continue
		}
		if errs := t.remove(o, id); errs != nil {
			errsAt[i], failed = errs, true
		}
		ids[i] = id
	}
	if failed && allOrNone {
		t.rollbackTo(mark)
	}
	out := make([]any, len(ids))
	for i, id := range ids {
		switch {
		case errsAt[i] != nil:
			out[i] = newOmap().Set("id", id).Set("success", false).Set("errors", collectionBody(errsAt[i]))
		case failed && allOrNone:
			out[i] = newOmap().Set("id", id).Set("success", false).Set("errors", collectionBody([]*apiError{recordErr("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header")}))
		default:
			out[i] = newOmap().Set("id", id).Set("success", true).Set("errors", []any{})
		}
	}
	return response{status: 200, body: out}
}

func (s *Server) collectionGet(t *txn, req *request, object string) response {
	o := s.schema.object(object)
	if o == nil {
		return errResp(notFound())
	}
	fields := strings.Split(req.query.Get("fields"), ",")
	if req.query.Get("fields") == "" || req.query.Get("ids") == "" {
		return errResp(plainErr(400, "MISSING_ARGUMENT", "ids and fields are required"))
	}
	var paths []fieldPath
	for _, f := range fields {
		ff := o.field(strings.TrimSpace(f))
		if ff == nil {
			return errResp(invalidField(strings.TrimSpace(f), o.Name))
		}
		paths = append(paths, fieldPath{ff.Name})
	}
	var out []any
	for _, raw := range strings.Split(req.query.Get("ids"), ",") {
		r, err := t.find(o, strings.TrimSpace(raw))
		if err != nil {
			out = append(out, nil)
			continue
		}
		out = append(out, s.project(t, o, r, paths, req.version))
	}
	return response{status: 200, body: out}
}
