package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Documented composite limits.
const (
	MaxCompositeSubrequests = 25  // /composite
	MaxCompositeQueries     = 5   // query or sObject Collections subrequests inside /composite
	MaxGraphNodes           = 500 // per graph and per payload
	MaxGraphs               = 75  // per payload
	MaxCollectionRecords    = 200 // /composite/sobjects
	maxCollectionChunks     = 10  // type changes in one collections create
)

// referenceId: letters, digits, underscores, starting with a letter.
var refIDRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

// refUseRE finds @{ref.field} / @{ref[0].x} references.
var refUseRE = regexp.MustCompile(`@\{([A-Za-z][A-Za-z0-9_]*)[.\[]`)

// refPathRE is a whole reference usable as a record ID in a URL path.
var refPathRE = regexp.MustCompile(`^@\{[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_\[\]]+)+\}$`)

// graphIDRE: Salesforce graph IDs are free-form short strings; keep them tame.
var graphIDRE = regexp.MustCompile(`^[0-9A-Za-z_]{1,40}$`)

// Ref names an earlier subrequest's result inside a composite request.
type Ref string

// ID is "@{ref.id}", the record ID a create/upsert subrequest returned.
func (r Ref) ID() string { return "@{" + string(r) + ".id}" }

// Field is "@{ref.<path>}", e.g. r.Field("records[0].Id") after a query.
func (r Ref) Field(path string) string { return "@{" + string(r) + "." + path + "}" }

// subrequest is one node of a composite request, built by the
// CompositeRequest methods, which validate names and references.
type subrequest struct {
	Method      string
	Path        string // below /services/data/vXX.X/, e.g. "sobjects/Case"
	Query       string // encoded query string, optional
	ReferenceID string
	Body        any
	kind        string // "query", "collection" or "" (counted for the 5-cap)
}

// CompositeRequest builds a /composite (or one graph) payload. Builder
// methods never fail; the first problem is kept and reported by Err and by
// Client.Composite, which refuses to send an invalid request.
type CompositeRequest struct {
	AllOrNone          bool
	CollateSubrequests bool
	subs               []subrequest
	refs               map[string]int
	err                error
}

// NewComposite starts a composite request.
func NewComposite(allOrNone bool) *CompositeRequest {
	return &CompositeRequest{AllOrNone: allOrNone, refs: map[string]int{}}
}

// Len is the number of subrequests.
func (b *CompositeRequest) Len() int { return len(b.subs) }

// Err is the first problem found while building, or a limit breach.
func (b *CompositeRequest) Err() error { return b.validate(MaxCompositeSubrequests, true) }

func (b *CompositeRequest) fail(format string, args ...any) {
	if b.err == nil {
		b.err = &RequestError{Op: "composite request", Reason: fmt.Sprintf(format, args...)}
	}
}

// add validates a subrequest and appends it.
func (b *CompositeRequest) add(s subrequest) Ref {
	if b.refs == nil {
		b.refs = map[string]int{}
	}
	if !refIDRE.MatchString(s.ReferenceID) {
		b.fail("referenceId %q must be letters, digits and underscores, starting with a letter", s.ReferenceID)
		return Ref(s.ReferenceID)
	}
	if _, dup := b.refs[s.ReferenceID]; dup {
		b.fail("duplicate referenceId %q", s.ReferenceID)
		return Ref(s.ReferenceID)
	}
	// Every @{ref...} in the URL or body must name an EARLIER subrequest.
	uses := refUseRE.FindAllStringSubmatch(s.Path+"?"+s.Query, -1)
	if s.Body != nil {
		raw, err := json.Marshal(s.Body)
		if err != nil {
			b.fail("subrequest %q: body does not marshal to JSON: %v", s.ReferenceID, err)
			return Ref(s.ReferenceID)
		}
		uses = append(uses, refUseRE.FindAllStringSubmatch(string(raw), -1)...)
		s.Body = json.RawMessage(raw)
	}
	for _, u := range uses {
		if _, ok := b.refs[u[1]]; !ok {
			b.fail("subrequest %q references %q, which is not an earlier subrequest", s.ReferenceID, u[1])
			return Ref(s.ReferenceID)
		}
	}
	b.refs[s.ReferenceID] = len(b.subs)
	b.subs = append(b.subs, s)
	return Ref(s.ReferenceID)
}

// pathID accepts a record ID or a reference to one.
func pathID(id string) (string, bool) {
	if recordIDRE.MatchString(id) {
		return id, true
	}
	if refPathRE.MatchString(id) {
		return id, true
	}
	return "", false
}

// Create adds POST sobjects/{sobject}.
func (b *CompositeRequest) Create(refID, sobject string, fields any) Ref {
	if !nameRE.MatchString(sobject) {
		b.fail("subrequest %q: invalid sObject %q", refID, sobject)
	}
	return b.add(subrequest{Method: http.MethodPost, Path: "sobjects/" + sobject, ReferenceID: refID, Body: fields})
}

// Update adds PATCH sobjects/{sobject}/{id}; id may be a Ref's ID().
func (b *CompositeRequest) Update(refID, sobject, id string, fields any) Ref {
	p, ok := pathID(id)
	if !nameRE.MatchString(sobject) || !ok {
		b.fail("subrequest %q: invalid sObject %q or record ID %q", refID, sobject, id)
	}
	return b.add(subrequest{Method: http.MethodPatch, Path: "sobjects/" + sobject + "/" + p, ReferenceID: refID, Body: fields})
}

// Upsert adds PATCH sobjects/{sobject}/{extIDField}/{extID}.
func (b *CompositeRequest) Upsert(refID, sobject, extIDField, extID string, fields any) Ref {
	if !nameRE.MatchString(sobject) || !nameRE.MatchString(extIDField) || extID == "" {
		b.fail("subrequest %q: invalid sObject %q, external ID field %q or empty value", refID, sobject, extIDField)
	}
	if err := checkUpsertBody("upsert subrequest "+refID, extIDField, fields); err != nil && b.err == nil {
		b.err = err
	}
	return b.add(subrequest{Method: http.MethodPatch, Path: "sobjects/" + sobject + "/" + extIDField + "/" + url.PathEscape(extID), ReferenceID: refID, Body: fields})
}

// Delete adds DELETE sobjects/{sobject}/{id}.
func (b *CompositeRequest) Delete(refID, sobject, id string) Ref {
	p, ok := pathID(id)
	if !nameRE.MatchString(sobject) || !ok {
		b.fail("subrequest %q: invalid sObject %q or record ID %q", refID, sobject, id)
	}
	return b.add(subrequest{Method: http.MethodDelete, Path: "sobjects/" + sobject + "/" + p, ReferenceID: refID})
}

// Get adds GET sobjects/{sobject}/{id}?fields=...; id may be a Ref's ID().
func (b *CompositeRequest) Get(refID, sobject, id string, fields ...string) Ref {
	p, ok := pathID(id)
	if !nameRE.MatchString(sobject) || !ok {
		b.fail("subrequest %q: invalid sObject %q or record ID %q", refID, sobject, id)
	}
	for _, f := range fields {
		if !nameRE.MatchString(f) {
			b.fail("subrequest %q: invalid field %q", refID, f)
		}
	}
	q := ""
	if len(fields) > 0 {
		q = "fields=" + strings.Join(fields, ",")
	}
	return b.add(subrequest{Method: http.MethodGet, Path: "sobjects/" + sobject + "/" + p, Query: q, ReferenceID: refID})
}

// Query adds GET query?q=...; results are referenced as
// ref.Field("records[0].Id").
func (b *CompositeRequest) Query(refID, soql string) Ref {
	if strings.TrimSpace(soql) == "" {
		b.fail("subrequest %q: empty SOQL", refID)
	}
	return b.add(subrequest{Method: http.MethodGet, Path: "query", Query: "q=" + url.QueryEscape(soql), ReferenceID: refID, kind: "query"})
}

func (b *CompositeRequest) validate(max int, capQueries bool) error {
	if b.err != nil {
		return b.err
	}
	if len(b.subs) == 0 {
		return &RequestError{Op: "composite request", Reason: "no subrequests"}
	}
	if len(b.subs) > max {
		return &RequestError{Op: "composite request", Reason: fmt.Sprintf("%d subrequests, at most %d allowed", len(b.subs), max)}
	}
	if capQueries {
		n := 0
		for _, s := range b.subs {
			if s.kind != "" {
				n++
			}
		}
		if n > MaxCompositeQueries {
			return &RequestError{Op: "composite request", Reason: fmt.Sprintf("%d query/collection subrequests, at most %d allowed", n, MaxCompositeQueries)}
		}
	}
	return nil
}

type wireSub struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	ReferenceID string `json:"referenceId"`
	Body        any    `json:"body,omitempty"`
}

func (b *CompositeRequest) wire(version string) []wireSub {
	out := make([]wireSub, len(b.subs))
	for i, s := range b.subs {
		u := "/services/data/v" + version + "/" + s.Path
		if s.Query != "" {
			u += "?" + s.Query
		}
		out[i] = wireSub{Method: s.Method, URL: u, ReferenceID: s.ReferenceID, Body: s.Body}
	}
	return out
}

// SubResponse is one subrequest's answer.
type SubResponse struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// OK reports a 2xx subresponse.
func (s SubResponse) OK() bool { return s.HTTPStatusCode >= 200 && s.HTTPStatusCode <= 299 }

// Err is the subresponse's failure as *APIError, or nil.
func (s SubResponse) Err() error {
	if s.OK() {
		return nil
	}
	return decodeAPIError("composite", s.ReferenceID, s.HTTPStatusCode, http.Header{}, s.Body)
}

// SaveResult decodes a create/update/upsert subresponse body (Created is
// set by upserts; a 201 counts as created).
func (s SubResponse) SaveResult() (SaveResult, error) {
	var sr SaveResult
	if len(bytes.TrimSpace(s.Body)) == 0 || string(bytes.TrimSpace(s.Body)) == "null" {
		return sr, nil
	}
	if err := json.Unmarshal(s.Body, &sr); err != nil {
		return sr, &RequestError{Op: "composite answer " + s.ReferenceID, Reason: err.Error()}
	}
	if s.HTTPStatusCode == http.StatusCreated {
		sr.Created = true
	}
	return sr, nil
}

// CompositeResponse is the answer to /composite.
type CompositeResponse struct {
	CompositeResponse []SubResponse `json:"compositeResponse"`
}

// Get returns the subresponse for referenceId.
func (r *CompositeResponse) Get(ref Ref) (SubResponse, bool) {
	for _, s := range r.CompositeResponse {
		if s.ReferenceID == string(ref) {
			return s, true
		}
	}
	return SubResponse{}, false
}

// CompositeError reports the failed subrequests of a composite or graph.
// Its classification is the root cause's: PROCESSING_HALTED entries only
// echo another failure and are skipped.
type CompositeError struct {
	Failures []*APIError // one per failed subrequest, in request order; Path holds the referenceId
}

func (e *CompositeError) root() *APIError {
	for _, f := range e.Failures {
		if !isEchoCode(f.Code()) {
			return f
		}
	}
	if len(e.Failures) > 0 {
		return e.Failures[0]
	}
	return &APIError{}
}

func (e *CompositeError) Error() string {
	parts := make([]string, 0, len(e.Failures))
	// Echoes (PROCESSING_HALTED…) are left out when a root cause is listed;
	// when every failure is one (e.g. a reference to a record a query did not
	// find), they are the only explanation there is.
	root := !isEchoCode(e.root().Code())
	for _, f := range e.Failures {
		if isEchoCode(f.Code()) && root {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d %s: %s", f.Path, f.StatusCode, f.Code(), firstMessage(f)))
	}
	return fmt.Sprintf("salesforce: composite: %d of the subrequests failed: %s", len(e.Failures), strings.Join(parts, "; "))
}

func firstMessage(e *APIError) string {
	for _, it := range e.Errors {
		if !isEchoCode(it.ErrorCode) {
			return strings.TrimSpace(it.Message)
		}
	}
	if len(e.Errors) > 0 {
		return strings.TrimSpace(e.Errors[0].Message)
	}
	return ""
}

// Unwrap exposes the root cause to errors.As (e.g. DUPLICATES_DETECTED).
func (e *CompositeError) Unwrap() error             { return e.root() }
func (e *CompositeError) Kind() Kind                { return e.root().Kind() }
func (e *CompositeError) Permanent() bool           { return e.root().Permanent() }
func (e *CompositeError) Temporary() bool           { return e.root().Temporary() }
func (e *CompositeError) RetryAfter() time.Duration { return e.root().RetryAfter() }

func compositeErr(subs []SubResponse) error {
	var ce CompositeError
	for _, s := range subs {
		if err := s.Err(); err != nil {
			ce.Failures = append(ce.Failures, err.(*APIError))
		}
	}
	if len(ce.Failures) == 0 {
		return nil
	}
	return &ce
}

// Composite sends req to /composite as one API call. When subrequests fail
// it returns the full response AND a *CompositeError.
func (c *Client) Composite(ctx context.Context, req *CompositeRequest, opts ...CallOption) (*CompositeResponse, error) {
	if req == nil {
		return nil, &RequestError{Op: "composite request", Reason: "nil request"}
	}
	if err := req.Err(); err != nil {
		return nil, err
	}
	body := struct {
		AllOrNone          bool      `json:"allOrNone"`
		CollateSubrequests bool      `json:"collateSubrequests,omitempty"`
		CompositeRequest   []wireSub `json:"compositeRequest"`
	}{req.AllOrNone, req.CollateSubrequests, req.wire(c.cfg.APIVersion)}
	r := request{method: http.MethodPost, path: c.dataPath("composite"), body: body, opts: opts}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out CompositeResponse
	if err := decodeJSON(r, resp.body, &out); err != nil {
		return nil, err
	}
	return &out, compositeErr(out.CompositeResponse)
}

// GraphRequest is a /composite/graph payload: independent graphs, each
// committed or rolled back as a whole.
type GraphRequest struct {
	graphs []graph
	ids    map[string]bool
	err    error
}

type graph struct {
	id  string
	req *CompositeRequest
}

// NewGraph starts a composite graph request.
func NewGraph() *GraphRequest { return &GraphRequest{ids: map[string]bool{}} }

// Add appends a graph built with NewComposite (its AllOrNone is ignored:
// graphs are always all-or-none).
func (g *GraphRequest) Add(graphID string, req *CompositeRequest) {
	if g.err != nil {
		return
	}
	switch {
	case !graphIDRE.MatchString(graphID):
		g.err = &RequestError{Op: "composite graph", Reason: fmt.Sprintf("invalid graphId %q", graphID)}
	case g.ids[graphID]:
		g.err = &RequestError{Op: "composite graph", Reason: fmt.Sprintf("duplicate graphId %q", graphID)}
	case req == nil:
		g.err = &RequestError{Op: "composite graph", Reason: "nil graph " + graphID}
	default:
		if err := req.validate(MaxGraphNodes, false); err != nil {
			g.err = fmt.Errorf("graph %q: %w", graphID, err)
			return
		}
		g.ids[graphID] = true
		g.graphs = append(g.graphs, graph{graphID, req})
	}
}

// Err reports the first building problem or a breached limit.
func (g *GraphRequest) Err() error {
	if g.err != nil {
		return g.err
	}
	if len(g.graphs) == 0 {
		return &RequestError{Op: "composite graph", Reason: "no graphs"}
	}
	if len(g.graphs) > MaxGraphs {
		return &RequestError{Op: "composite graph", Reason: fmt.Sprintf("%d graphs, at most %d allowed", len(g.graphs), MaxGraphs)}
	}
	n := 0
	for _, gr := range g.graphs {
		n += gr.req.Len()
	}
	if n > MaxGraphNodes {
		return &RequestError{Op: "composite graph", Reason: fmt.Sprintf("%d nodes in the payload, at most %d allowed", n, MaxGraphNodes)}
	}
	return nil
}

// GraphResult is one graph's answer.
type GraphResult struct {
	GraphID       string `json:"graphId"`
	IsSuccessful  bool   `json:"isSuccessful"`
	GraphResponse struct {
		CompositeResponse []SubResponse `json:"compositeResponse"`
	} `json:"graphResponse"`
}

// Err is the graph's failure, or nil.
func (g GraphResult) Err() error {
	if g.IsSuccessful {
		return nil
	}
	if err := compositeErr(g.GraphResponse.CompositeResponse); err != nil {
		return err
	}
	return &CompositeError{Failures: []*APIError{{StatusCode: http.StatusBadRequest, Path: g.GraphID, Errors: []ErrorItem{{ErrorCode: "GRAPH_FAILED", Message: "graph not successful"}}}}}
}

// GraphResponse is the answer to /composite/graph.
type GraphResponse struct {
	Graphs []GraphResult `json:"graphs"`
}

// CompositeGraph sends g as one API call. Failed graphs are reported by
// each GraphResult.Err; the returned error is non-nil only when the call
// itself failed or the request was invalid.
func (c *Client) CompositeGraph(ctx context.Context, g *GraphRequest, opts ...CallOption) (*GraphResponse, error) {
	if g == nil {
		return nil, &RequestError{Op: "composite graph", Reason: "nil request"}
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	type wireGraph struct {
		GraphID          string    `json:"graphId"`
		CompositeRequest []wireSub `json:"compositeRequest"`
	}
	body := struct {
		Graphs []wireGraph `json:"graphs"`
	}{}
	for _, gr := range g.graphs {
		body.Graphs = append(body.Graphs, wireGraph{gr.id, gr.req.wire(c.cfg.APIVersion)})
	}
	r := request{method: http.MethodPost, path: c.dataPath("composite/graph"), body: body, opts: opts}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out GraphResponse
	if err := decodeJSON(r, resp.body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
