package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/triage-dev/triage/salesforce"
)

// RecordIDs are the Salesforce records a message is about.
type RecordIDs struct {
	ContactID, AccountID, CaseID string
}

// CustomRecords are the rows of one configured object read for a message.
type CustomRecords struct {
	Object  string           `json:"object"`
	Records []map[string]any `json:"records"`
}

// ReadCustom reads each configured custom object's read_fields for the
// records the message is about (one query per object that has a matching
// id), for the classifier's context. Nothing but read_fields is selected.
func (s *Stage) ReadCustom(ctx context.Context, ids RecordIDs) ([]CustomRecords, error) {
	if s.sf == nil {
		return nil, nil
	}
	var out []CustomRecords
	for _, o := range s.cfg.CustomObjects {
		if len(o.ReadFields) == 0 {
			continue
		}
		id := map[string]string{"contact": ids.ContactID, "account": ids.AccountID, "case": ids.CaseID}[o.Match]
		if id == "" {
			continue
		}
		fields := make([]string, 0, len(o.ReadFields))
		for _, f := range o.ReadFields {
			if !salesforce.ValidName(f) {
				return out, permanentError{fmt.Errorf("cases: custom object %s: bad field %q", o.Object, f)}
			}
			fields = append(fields, f)
		}
		q, err := salesforce.BuildSOQL("SELECT "+strings.Join(fields, ", ")+" FROM ? WHERE ? = ? LIMIT ?",
			salesforce.Ident(o.Object), salesforce.Ident(o.MatchField), id, o.Limit)
		if err != nil {
			return out, permanentError{err}
		}
		var rows []map[string]any
		if err := s.sf.Query(ctx, q, &rows); err != nil {
			return out, fmt.Errorf("cases: read %s: %w", o.Object, err)
		}
		for _, r := range rows {
			delete(r, "attributes")
		}
		out = append(out, CustomRecords{Object: o.Object, Records: rows})
	}
	return out, nil
}

// ErrFieldNotAllowed is returned by WriteCustom for a field outside the
// object's write_fields (or an object not configured).
var ErrFieldNotAllowed = errors.New("cases: field not in the configured write_fields")

// WriteCustom updates one record of a configured custom object. Only fields
// listed in its write_fields are accepted; the write is audited. In dry-run
// it is only recorded.
func (s *Stage) WriteCustom(ctx context.Context, msgID int64, object, id string, fields map[string]any) error {
	var co *CustomObject
	for i := range s.cfg.CustomObjects {
		if strings.EqualFold(s.cfg.CustomObjects[i].Object, object) {
			co = &s.cfg.CustomObjects[i]
		}
	}
	if co == nil {
		return permanentError{fmt.Errorf("%w: object %s is not configured", ErrFieldNotAllowed, object)}
	}
	for k := range fields {
		if !slices.ContainsFunc(co.WriteFields, func(f string) bool { return strings.EqualFold(f, k) }) {
			return permanentError{fmt.Errorf("%w: %s.%s", ErrFieldNotAllowed, co.Object, k)}
		}
	}
	w := Write{Ref: "custom", Op: "update", SObject: co.Object, ID: id, Fields: fields}
	if s.DryRun() {
		return s.audit(ctx, msgID, []auditItem{{Write: w, RecordID: id, Result: "dry_run"}})
	}
	req := salesforce.NewComposite(true)
	addTo(req, []Write{w})
	_, err := s.sf.Composite(ctx, req)
	res := "ok"
	if err != nil {
		res = "error"
		var ae *salesforce.APIError
		if errors.As(err, &ae) {
			res = ae.Code()
		}
	}
	if aerr := s.audit(ctx, msgID, []auditItem{{Write: w, RecordID: id, Result: res}}); aerr != nil {
		return aerr
	}
	if err != nil {
		return withReason(fmt.Errorf("cases: write %s %s: %w", co.Object, id, err))
	}
	return nil
}
