package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Record is one sObject in a Collections request. It marshals to
// {"attributes":{"type":Type},"id":ID,...Fields}.
type Record struct {
	Type   string
	ID     string // set for update, empty for create/upsert
	Fields map[string]any
}

// MarshalJSON writes the Collections wire shape.
func (r Record) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r.Fields)+2)
	for k, v := range r.Fields {
		m[k] = v
	}
	m["attributes"] = map[string]string{"type": r.Type}
	if r.ID != "" {
		m["id"] = r.ID
	}
	return json.Marshal(m)
}

// CollectionError reports the failed records of a Collections call. Index
// is the record's position in the request. Classification follows the first
// real (non-rollback) failure.
type CollectionError struct {
	Op       string
	Failures []CollectionFailure
}

// CollectionFailure is one failed record.
type CollectionFailure struct {
	Index int
	Err   *APIError
}

func (e *CollectionError) root() *APIError {
	for _, f := range e.Failures {
		if !isEchoCode(f.Err.Code()) {
			return f.Err
		}
	}
	if len(e.Failures) > 0 {
		return e.Failures[0].Err
	}
	return &APIError{}
}

func (e *CollectionError) Error() string {
	var parts []string
	for _, f := range e.Failures {
		if isEchoCode(f.Err.Code()) {
			continue
		}
		parts = append(parts, fmt.Sprintf("#%d %s: %s", f.Index, f.Err.Code(), firstMessage(f.Err)))
		if len(parts) == 5 {
			break
		}
	}
	return fmt.Sprintf("salesforce: %s: %d records failed: %s", e.Op, len(e.Failures), strings.Join(parts, "; "))
}

func (e *CollectionError) Unwrap() error             { return e.root() }
func (e *CollectionError) Kind() Kind                { return e.root().Kind() }
func (e *CollectionError) Permanent() bool           { return e.root().Permanent() }
func (e *CollectionError) Temporary() bool           { return e.root().Temporary() }
func (e *CollectionError) RetryAfter() time.Duration { return e.root().RetryAfter() }

func collectionErr(op, method, path string, results []SaveResult) error {
	ce := &CollectionError{Op: op}
	for i, r := range results {
		if !r.Success {
			// Collections answer 200 overall; per-record status is in the body.
			ce.Failures = append(ce.Failures, CollectionFailure{Index: i, Err: &APIError{StatusCode: http.StatusBadRequest, Errors: r.Errors, Method: method, Path: path}})
		}
	}
	if len(ce.Failures) == 0 {
		return nil
	}
	return ce
}

func checkRecords(op string, records []Record, wantID bool) error {
	if len(records) == 0 {
		return &RequestError{Op: op, Reason: "no records"}
	}
	if len(records) > MaxCollectionRecords {
		return &RequestError{Op: op, Reason: fmt.Sprintf("%d records, at most %d allowed", len(records), MaxCollectionRecords)}
	}
	chunks := 0
	for i, r := range records {
		if !nameRE.MatchString(r.Type) {
			return &RequestError{Op: op, Reason: fmt.Sprintf("record #%d: invalid type %q", i, r.Type)}
		}
		if wantID && !recordIDRE.MatchString(r.ID) {
			return &RequestError{Op: op, Reason: fmt.Sprintf("record #%d: update needs a record ID, got %q", i, r.ID)}
		}
		if !wantID && r.ID != "" {
			return &RequestError{Op: op, Reason: fmt.Sprintf("record #%d: must not carry an id", i)}
		}
		for k := range r.Fields {
			if strings.EqualFold(k, "id") || k == "attributes" || !nameRE.MatchString(k) {
				return &RequestError{Op: op, Reason: fmt.Sprintf("record #%d: invalid field name %q", i, k)}
			}
		}
		if i == 0 || records[i-1].Type != r.Type {
			chunks++
		}
	}
	if chunks > maxCollectionChunks {
		return &RequestError{Op: op, Reason: fmt.Sprintf("records switch type %d times; Salesforce processes at most %d chunks: group records by type", chunks, maxCollectionChunks)}
	}
	return nil
}

type collectionBody struct {
	AllOrNone bool     `json:"allOrNone"`
	Records   []Record `json:"records"`
}

func (c *Client) collection(ctx context.Context, op, method, path string, body any, n int, opts []CallOption) ([]SaveResult, error) {
	r := request{method: method, path: path, body: body, opts: opts}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []SaveResult
	if err := decodeJSON(r, resp.body, &out); err != nil {
		return nil, err
	}
	if len(out) != n {
		return out, &RequestError{Op: "answer to " + op, Reason: fmt.Sprintf("%d results for %d records", len(out), n)}
	}
	return out, collectionErr(op, method, path, out)
}

// CreateRecords inserts up to 200 records (POST /composite/sobjects).
// Results are in request order; on any failure the results come back with a
// *CollectionError.
func (c *Client) CreateRecords(ctx context.Context, allOrNone bool, records []Record, opts ...CallOption) ([]SaveResult, error) {
	op := "collections create"
	if err := checkRecords(op, records, false); err != nil {
		return nil, err
	}
	return c.collection(ctx, op, http.MethodPost, c.dataPath("composite/sobjects"), collectionBody{allOrNone, records}, len(records), opts)
}

// UpdateRecords updates up to 200 records by ID (PATCH /composite/sobjects).
func (c *Client) UpdateRecords(ctx context.Context, allOrNone bool, records []Record, opts ...CallOption) ([]SaveResult, error) {
	op := "collections update"
	if err := checkRecords(op, records, true); err != nil {
		return nil, err
	}
	return c.collection(ctx, op, http.MethodPatch, c.dataPath("composite/sobjects"), collectionBody{allOrNone, records}, len(records), opts)
}

// UpsertRecords upserts up to 200 records of one sObject by external ID
// (PATCH /composite/sobjects/{sobject}/{extIDField}); every record must
// carry a distinct, non-empty extIDField value. SaveResult.Created tells
// inserts from updates.
func (c *Client) UpsertRecords(ctx context.Context, sobject, extIDField string, allOrNone bool, records []Record, opts ...CallOption) ([]SaveResult, error) {
	op := "collections upsert"
	if err := checkName(op, "sObject", sobject); err != nil {
		return nil, err
	}
	if err := checkName(op, "external ID field", extIDField); err != nil {
		return nil, err
	}
	if err := checkRecords(op, records, false); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i, r := range records {
		if r.Type != sobject {
			return nil, &RequestError{Op: op, Reason: fmt.Sprintf("record #%d: type %q, all records must be %s", i, r.Type, sobject)}
		}
		v, ok := r.Fields[extIDField]
		s := fmt.Sprint(v)
		if !ok || v == nil || s == "" {
			return nil, &RequestError{Op: op, Reason: fmt.Sprintf("record #%d: missing %s", i, extIDField)}
		}
		if j, dup := seen[s]; dup {
			return nil, &RequestError{Op: op, Reason: fmt.Sprintf("records #%d and #%d share %s value", j, i, extIDField)}
		}
		seen[s] = i
	}
	return c.collection(ctx, op, http.MethodPatch, c.dataPath("composite/sobjects/"+sobject+"/"+extIDField), collectionBody{allOrNone, records}, len(records), opts)
}

// DeleteRecords deletes up to 200 records by ID
// (DELETE /composite/sobjects?ids=...&allOrNone=...).
func (c *Client) DeleteRecords(ctx context.Context, allOrNone bool, ids []string, opts ...CallOption) ([]SaveResult, error) {
	op := "collections delete"
	if len(ids) == 0 || len(ids) > MaxCollectionRecords {
		return nil, &RequestError{Op: op, Reason: fmt.Sprintf("%d ids, 1 to %d allowed", len(ids), MaxCollectionRecords)}
	}
	for _, id := range ids {
		if err := checkID(op, id); err != nil {
			return nil, err
		}
	}
	q := url.Values{"ids": {strings.Join(ids, ",")}, "allOrNone": {fmt.Sprint(allOrNone)}}
	r := request{method: http.MethodDelete, path: c.dataPath("composite/sobjects"), query: q.Encode(), opts: opts}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []SaveResult
	if err := decodeJSON(r, resp.body, &out); err != nil {
		return nil, err
	}
	return out, collectionErr(op, r.method, r.path, out)
}
