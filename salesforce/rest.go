package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
)

// nameRE is what Salesforce accepts as an sObject or field API name
// (Account, Triage_Key__c, ns__Obj__kav). Checking it keeps caller data out
// of URL paths and SELECT lists.
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

// ValidName reports whether s is a well-formed sObject or field API name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

func checkName(op, what, s string) error {
	if !nameRE.MatchString(s) {
		return &RequestError{Op: op, Reason: fmt.Sprintf("%s %q is not a valid API name", what, s)}
	}
	return nil
}

// recordIDRE: 15- or 18-character Salesforce IDs.
var recordIDRE = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)

func checkID(op, id string) error {
	if !recordIDRE.MatchString(id) {
		return &RequestError{Op: op, Reason: fmt.Sprintf("%q is not a Salesforce record ID", id)}
	}
	return nil
}

// SaveResult is the answer to a create/update in REST and Collections.
type SaveResult struct {
	ID      string      `json:"id"`
	Success bool        `json:"success"`
	Errors  []ErrorItem `json:"errors"`
	// Created is set by upserts (true: inserted, false: updated).
	Created bool `json:"created"`
}

// UpsertResult is the outcome of an upsert by external ID. ID is empty when
// an API version before 46.0 answers an update with 204 and no body.
type UpsertResult struct {
	ID      string
	Created bool
}

// Get reads one record's fields into dst (a pointer to a struct or map).
// With no fields, Salesforce returns all fields.
func (c *Client) Get(ctx context.Context, sobject, id string, fields []string, dst any) error {
	op := "get"
	if err := checkName(op, "sObject", sobject); err != nil {
		return err
	}
	if err := checkID(op, id); err != nil {
		return err
	}
	for _, f := range fields {
		if err := checkName(op, "field", f); err != nil {
			return err
		}
	}
	r := request{method: http.MethodGet, path: c.dataPath("sobjects/" + sobject + "/" + id)}
	if len(fields) > 0 {
		r.query = "fields=" + url.QueryEscape(strings.Join(fields, ","))
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return decodeJSON(r, resp.body, dst)
}

// GetByExternalID reads the record whose extIDField equals extID
// (GET sobjects/{sobject}/{field}/{value}). More than one match answers 300:
// an *APIError with MultipleChoices.
func (c *Client) GetByExternalID(ctx context.Context, sobject, extIDField, extID string, fields []string, dst any) error {
	op := "get by external ID"
	if err := checkName(op, "sObject", sobject); err != nil {
		return err
	}
	if err := checkName(op, "external ID field", extIDField); err != nil {
		return err
	}
	if extID == "" {
		return &RequestError{Op: op, Reason: "empty external ID value"}
	}
	for _, f := range fields {
		if err := checkName(op, "field", f); err != nil {
			return err
		}
	}
	r := request{method: http.MethodGet, path: c.dataPath("sobjects/" + sobject + "/" + extIDField + "/" + url.PathEscape(extID))}
	if len(fields) > 0 {
		r.query = "fields=" + url.QueryEscape(strings.Join(fields, ","))
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return decodeJSON(r, resp.body, dst)
}

// Call is the escape hatch for REST resources without a method here. path
// is relative to /services/data/vXX.X/ (e.g. "sobjects/Case/500.../CaseComments");
// body, when non-nil, is sent as JSON; dst, when non-nil, receives the JSON
// answer. Build path segments from data with url.PathEscape.
func (c *Client) Call(ctx context.Context, method, path string, query url.Values, body, dst any, opts ...CallOption) error {
	op := "call"
	if method == "" || strings.ContainsAny(method, " \r\n") {
		return &RequestError{Op: op, Reason: "invalid method"}
	}
	if strings.HasPrefix(path, "/") || strings.Contains(path, "..") || strings.ContainsAny(path, "?#") {
		return &RequestError{Op: op, Reason: fmt.Sprintf("path %q must be relative, without .., query or fragment", path)}
	}
	r := request{method: method, path: c.dataPath(path), body: body, opts: opts}
	if len(query) > 0 {
		r.query = query.Encode()
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if dst == nil || len(strings.TrimSpace(string(resp.body))) == 0 {
		return nil
	}
	return decodeJSON(r, resp.body, dst)
}

// Create inserts a record and returns its ID. fields marshals to a JSON
// object (struct with json tags or map).
func (c *Client) Create(ctx context.Context, sobject string, fields any, opts ...CallOption) (string, error) {
	if err := checkName("create", "sObject", sobject); err != nil {
		return "", err
	}
	r := request{method: http.MethodPost, path: c.dataPath("sobjects/" + sobject + "/"), body: fields, opts: opts}
	resp, err := c.do(ctx, r)
	if err != nil {
		return "", err
	}
	var sr SaveResult
	if err := decodeJSON(r, resp.body, &sr); err != nil {
		return "", err
	}
	if !sr.Success || sr.ID == "" {
		return "", &APIError{StatusCode: resp.status, Errors: sr.Errors, Method: r.method, Path: r.path}
	}
	return sr.ID, nil
}

// Update patches a record (204 on success).
func (c *Client) Update(ctx context.Context, sobject, id string, fields any, opts ...CallOption) error {
	if err := checkName("update", "sObject", sobject); err != nil {
		return err
	}
	if err := checkID("update", id); err != nil {
		return err
	}
	_, err := c.do(ctx, request{method: http.MethodPatch, path: c.dataPath("sobjects/" + sobject + "/" + id), body: fields, opts: opts})
	return err
}

// Delete removes a record (204 on success).
func (c *Client) Delete(ctx context.Context, sobject, id string, opts ...CallOption) error {
	if err := checkName("delete", "sObject", sobject); err != nil {
		return err
	}
	if err := checkID("delete", id); err != nil {
		return err
	}
	_, err := c.do(ctx, request{method: http.MethodDelete, path: c.dataPath("sobjects/" + sobject + "/" + id), opts: opts})
	return err
}

// Upsert inserts or updates the record whose extIDField equals extID.
// 201 → created; 200 created:false (v46.0+) or 204 (older) → updated;
// 300 → *APIError with MultipleChoices (permanent: fix the data).
func (c *Client) Upsert(ctx context.Context, sobject, extIDField, extID string, fields any, opts ...CallOption) (UpsertResult, error) {
	op := "upsert"
	if err := checkName(op, "sObject", sobject); err != nil {
		return UpsertResult{}, err
	}
	if err := checkName(op, "external ID field", extIDField); err != nil {
		return UpsertResult{}, err
	}
	if extID == "" {
		return UpsertResult{}, &RequestError{Op: op, Reason: "empty external ID value"}
	}
	if err := checkUpsertBody(op, extIDField, fields); err != nil {
		return UpsertResult{}, err
	}
	r := request{method: http.MethodPatch, path: c.dataPath("sobjects/" + sobject + "/" + extIDField + "/" + url.PathEscape(extID)), body: fields, opts: opts}
	resp, err := c.do(ctx, r)
	if err != nil {
		return UpsertResult{}, err
	}
	if resp.status == http.StatusNoContent || len(strings.TrimSpace(string(resp.body))) == 0 {
		return UpsertResult{Created: resp.status == http.StatusCreated}, nil
	}
	var sr SaveResult
	if err := decodeJSON(r, resp.body, &sr); err != nil {
		return UpsertResult{}, err
	}
	if !sr.Success {
		return UpsertResult{}, &APIError{StatusCode: resp.status, Errors: sr.Errors, Method: r.method, Path: r.path}
	}
	// A 201 is a creation even if a proxy dropped the created flag.
	return UpsertResult{ID: sr.ID, Created: sr.Created || resp.status == http.StatusCreated}, nil
}

// checkUpsertBody refuses a body carrying Id or the external ID field:
// Salesforce rejects those on upsert (the value belongs in the URL).
func checkUpsertBody(op, extIDField string, fields any) error {
	raw, err := json.Marshal(fields)
	if err != nil {
		return &RequestError{Op: op, Reason: "body does not marshal to JSON: " + err.Error()}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return &RequestError{Op: op, Reason: "body must be a JSON object"}
	}
	for k := range m {
		if strings.EqualFold(k, "Id") || strings.EqualFold(k, extIDField) {
			return &RequestError{Op: op, Reason: fmt.Sprintf("body must not carry %s: the external ID goes in the URL", k)}
		}
	}
	return nil
}

// QueryResult is one page of a SOQL answer.
type QueryResult struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// Query runs SOQL and appends every record of every page to dst, a pointer
// to a slice of structs or maps. Build the SOQL with BuildSOQL/QuoteSOQL.
func (c *Client) Query(ctx context.Context, soql string, dst any) error {
	return c.queryInto(ctx, "query", soql, dst)
}

// QueryAll is Query over queryAll: deleted and archived records included.
func (c *Client) QueryAll(ctx context.Context, soql string, dst any) error {
	return c.queryInto(ctx, "queryAll", soql, dst)
}

// QueryEach calls fn with each record's JSON, following nextRecordsUrl.
// An error from fn stops the iteration and is returned as is.
func (c *Client) QueryEach(ctx context.Context, soql string, fn func(rec json.RawMessage) error) error {
	_, err := c.queryPages(ctx, "query", soql, fn)
	return err
}

// QueryAllEach is QueryEach over queryAll.
func (c *Client) QueryAllEach(ctx context.Context, soql string, fn func(rec json.RawMessage) error) error {
	_, err := c.queryPages(ctx, "queryAll", soql, fn)
	return err
}

// Count runs a SELECT COUNT() query and returns totalSize.
func (c *Client) Count(ctx context.Context, soql string) (int, error) {
	return c.queryPages(ctx, "query", soql, func(json.RawMessage) error { return nil })
}

func (c *Client) queryInto(ctx context.Context, resource, soql string, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Slice {
		return &RequestError{Op: resource, Reason: fmt.Sprintf("dst must be a non-nil pointer to a slice, got %T", dst)}
	}
	slice := rv.Elem()
	elemType := slice.Type().Elem()
	_, err := c.queryPages(ctx, resource, soql, func(rec json.RawMessage) error {
		elem := reflect.New(elemType)
		if err := json.Unmarshal(rec, elem.Interface()); err != nil {
			return &RequestError{Op: "answer to " + resource, Reason: "cannot decode record: " + err.Error()}
		}
		slice.Set(reflect.Append(slice, elem.Elem()))
		return nil
	})
	return err
}

// queryPages walks every page; it returns totalSize.
func (c *Client) queryPages(ctx context.Context, resource, soql string, fn func(json.RawMessage) error) (int, error) {
	if strings.TrimSpace(soql) == "" {
		return 0, &RequestError{Op: resource, Reason: "empty SOQL"}
	}
	r := request{method: http.MethodGet, path: c.dataPath(resource + "/"), query: "q=" + url.QueryEscape(soql)}
	total := 0
	for page := 0; ; page++ {
		resp, err := c.do(ctx, r)
		if err != nil {
			return total, err
		}
		var qr QueryResult
		if err := decodeJSON(r, resp.body, &qr); err != nil {
			return total, err
		}
		total = qr.TotalSize
		for _, rec := range qr.Records {
			if err := fn(rec); err != nil {
				return total, err
			}
		}
		if qr.Done || qr.NextRecordsURL == "" {
			return total, nil
		}
		next, err := c.nextPath(qr.NextRecordsURL)
		if err != nil {
			return total, err
		}
		r = request{method: http.MethodGet, path: next}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// nextPath accepts a nextRecordsUrl only if it is a path under
// /services/data/: the bearer token must not follow an arbitrary URL.
func (c *Client) nextPath(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/services/data/") || strings.Contains(u.Path, "..") {
		return "", &RequestError{Op: "query", Reason: fmt.Sprintf("unexpected nextRecordsUrl %q", next)}
	}
	return u.EscapedPath(), nil
}

// Search runs a SOSL query (FIND {...} ...). Records are appended to dst,
// a pointer to a slice. Build search terms with QuoteSOSL.
func (c *Client) Search(ctx context.Context, sosl string, dst any) error {
	if strings.TrimSpace(sosl) == "" {
		return &RequestError{Op: "search", Reason: "empty SOSL"}
	}
	r := request{method: http.MethodGet, path: c.dataPath("search/"), query: "q=" + url.QueryEscape(sosl)}
	return c.searchInto(ctx, r, dst)
}

// ParameterizedSearch is the POST parameterizedSearch resource: the search
// text travels as data, never spliced into SOSL.
type ParameterizedSearch struct {
	Q            string          `json:"q"`
	In           string          `json:"in,omitempty"` // ALL, NAME, EMAIL, PHONE, SIDEBAR
	Fields       []string        `json:"fields,omitempty"`
	SObjects     []SearchSObject `json:"sobjects,omitempty"`
	OverallLimit int             `json:"overallLimit,omitempty"`
	DefaultLimit int             `json:"defaultLimit,omitempty"`
}

// SearchSObject scopes a parameterized search to one object. Where is a
// SOQL condition: build its literals with QuoteSOQL.
type SearchSObject struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields,omitempty"`
	Where  string   `json:"where,omitempty"`
	Limit  int      `json:"limit,omitempty"`
}

// ParameterizedSearch runs p and appends searchRecords to dst.
func (c *Client) ParameterizedSearch(ctx context.Context, p ParameterizedSearch, dst any) error {
	op := "parameterizedSearch"
	if strings.TrimSpace(p.Q) == "" {
		return &RequestError{Op: op, Reason: "empty q"}
	}
	for _, f := range p.Fields {
		if err := checkName(op, "field", f); err != nil {
			return err
		}
	}
	for _, s := range p.SObjects {
		if err := checkName(op, "sObject", s.Name); err != nil {
			return err
		}
		for _, f := range s.Fields {
			if err := checkName(op, "field", f); err != nil {
				return err
			}
		}
	}
	r := request{method: http.MethodPost, path: c.dataPath("parameterizedSearch/"), body: p}
	return c.searchInto(ctx, r, dst)
}

func (c *Client) searchInto(ctx context.Context, r request, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Slice {
		return &RequestError{Op: "search", Reason: fmt.Sprintf("dst must be a non-nil pointer to a slice, got %T", dst)}
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	var sr struct {
		SearchRecords json.RawMessage `json:"searchRecords"`
	}
	if err := decodeJSON(r, resp.body, &sr); err != nil {
		return err
	}
	if len(sr.SearchRecords) == 0 {
		return nil
	}
	tmp := reflect.New(rv.Elem().Type())
	if err := decodeJSON(r, sr.SearchRecords, tmp.Interface()); err != nil {
		return err
	}
	rv.Elem().Set(reflect.AppendSlice(rv.Elem(), tmp.Elem()))
	return nil
}

// DescribeResult is the part of an sObject describe triage uses.
type DescribeResult struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	KeyPrefix  string          `json:"keyPrefix"`
	Createable bool            `json:"createable"`
	Updateable bool            `json:"updateable"`
	Queryable  bool            `json:"queryable"`
	Fields     []FieldDescribe `json:"fields"`
}

// FieldDescribe describes one field.
type FieldDescribe struct {
	Name           string          `json:"name"`
	Label          string          `json:"label"`
	Type           string          `json:"type"`
	Length         int             `json:"length"`
	Createable     bool            `json:"createable"`
	Updateable     bool            `json:"updateable"`
	Nillable       bool            `json:"nillable"`
	ExternalID     bool            `json:"externalId"`
	Unique         bool            `json:"unique"`
	PicklistValues []PicklistValue `json:"picklistValues"`
	ReferenceTo    []string        `json:"referenceTo"`
}

// PicklistValue is one allowed value of a picklist field.
type PicklistValue struct {
	Value        string `json:"value"`
	Label        string `json:"label"`
	Active       bool   `json:"active"`
	DefaultValue bool   `json:"defaultValue"`
}

// Field returns the named field (case-insensitive, as Salesforce is).
func (d *DescribeResult) Field(name string) (FieldDescribe, bool) {
	for _, f := range d.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return FieldDescribe{}, false
}

// Describe returns the sObject's metadata, cached until InvalidateDescribe.
func (c *Client) Describe(ctx context.Context, sobject string) (*DescribeResult, error) {
	if err := checkName("describe", "sObject", sobject); err != nil {
		return nil, err
	}
	key := strings.ToLower(sobject)
	c.descMu.Lock()
	d, ok := c.describe[key]
	c.descMu.Unlock()
	if ok {
		return d, nil
	}
	r := request{method: http.MethodGet, path: c.dataPath("sobjects/" + sobject + "/describe/")}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	d = &DescribeResult{}
	if err := decodeJSON(r, resp.body, d); err != nil {
		return nil, err
	}
	c.descMu.Lock()
	c.describe[key] = d
	c.descMu.Unlock()
	return d, nil
}

// InvalidateDescribe drops the cached describe of sobject, or of every
// object when sobject is "" (e.g. after an admin deploys new fields).
func (c *Client) InvalidateDescribe(sobject string) {
	c.descMu.Lock()
	defer c.descMu.Unlock()
	if sobject == "" {
		clear(c.describe)
		return
	}
	delete(c.describe, strings.ToLower(sobject))
}

// Limit is one entry of the limits resource.
type Limit struct {
	Max       int64 `json:"Max"`
	Remaining int64 `json:"Remaining"`
}

// Limits returns the org's limits. DailyApiRequests also refreshes the
// budget the governor uses.
func (c *Client) Limits(ctx context.Context) (map[string]Limit, error) {
	r := request{method: http.MethodGet, path: c.dataPath("limits/")}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	// Some entries carry nested per-app maps; decode loosely.
	var raw map[string]json.RawMessage
	if err := decodeJSON(r, resp.body, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]Limit, len(raw))
	for k, v := range raw {
		var l Limit
		if json.Unmarshal(v, &l) == nil {
			out[k] = l
		}
	}
	if l, ok := out["DailyApiRequests"]; ok && l.Max > 0 {
		c.budget.observe(l.Max-l.Remaining, l.Max)
	}
	return out, nil
}

// Version is one entry of GET /services/data/.
type Version struct {
	Label   string `json:"label"`
	URL     string `json:"url"`
	Version string `json:"version"`
}

// Versions lists the API versions the instance serves.
func (c *Client) Versions(ctx context.Context) ([]Version, error) {
	r := request{method: http.MethodGet, path: "/services/data/"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var vs []Version
	return vs, decodeJSON(r, resp.body, &vs)
}
