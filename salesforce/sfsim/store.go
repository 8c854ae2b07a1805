package sfsim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// record is one row: canonical field name → string, float64, bool or nil.
// Dates are "2006-01-02" and date-times "2006-01-02T15:04:05.000+0000".
type record map[string]any

func (r record) str(name string) string {
	s, _ := r[name].(string)
	return s
}

func (r record) clone() record {
	c := make(record, len(r))
	for k, v := range r {
		c[k] = v
	}
	return c
}

// orgData is everything persisted for an org.
type orgData struct {
	Records map[string]map[string]record `json:"records"` // object → id → record
	Deleted map[string]map[string]record `json:"deleted"` // the recycle bin
	Seq     map[string]int64             `json:"seq"`     // id, CaseNumber, ArticleNumber counters

	idx map[idxKey]fieldIndex // lookups by field value (index.go); not persisted
}

func newOrgData() *orgData {
	return &orgData{Records: map[string]map[string]record{}, Deleted: map[string]map[string]record{}, Seq: map[string]int64{}}
}

const (
	sfDatetime = "2006-01-02T15:04:05.000-0700"
	sfDate     = "2006-01-02"
)

func formatDatetime(t time.Time) string { return t.UTC().Format(sfDatetime) }

// parseDatetime accepts the forms Salesforce accepts for dateTime values.
func parseDatetime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// txn is a unit of work on the org under the org lock. Every change is logged
// so allOrNone composites and collections can roll back.
type txn struct {
	s        *Server
	d        *orgData
	undo     []undoEntry
	userID   string
	allowDup bool // Sforce-Duplicate-Rule-Header: allowSave=true
	now      time.Time
	version  string // API version of the current (sub)request, for URLs
	dirty    bool
}

type undoEntry struct {
	obj, id       string
	live, deleted record // previous states (nil: absent)
}

func (t *txn) remember(obj, id string) {
	t.dirty = true
	t.undo = append(t.undo, undoEntry{obj: obj, id: id, live: t.d.Records[obj][id], deleted: t.d.Deleted[obj][id]})
}

// mark/rollbackTo implement savepoints.
func (t *txn) mark() int { return len(t.undo) }

func (t *txn) rollbackTo(m int) {
	for i := len(t.undo) - 1; i >= m; i-- {
		u := t.undo[i]
		t.d.setLive(u.obj, u.id, u.live)
		setOrDelete(t.d.Deleted, u.obj, u.id, u.deleted)
	}
	t.undo = t.undo[:m]
}

func setOrDelete(m map[string]map[string]record, obj, id string, r record) {
	if r == nil {
		delete(m[obj], id)
		return
	}
	if m[obj] == nil {
		m[obj] = map[string]record{}
	}
	m[obj][id] = r
}

func (t *txn) put(obj string, r record) {
	id := r.str("Id")
	t.remember(obj, id)
	t.d.setLive(obj, id, r)
}

func (t *txn) nextSeq(name string, start int64) int64 {
	if t.d.Seq[name] < start {
		t.d.Seq[name] = start
	}
	t.d.Seq[name]++
	return t.d.Seq[name]
}

// newID allocates the next ID for a key prefix, skipping IDs a seed took.
func (t *txn) newID(prefix string) string {
	obj := ""
	if o := t.s.schema.byPrefix[prefix]; o != nil {
		obj = o.Name
	}
	for {
		id := makeID(prefix, t.nextSeq("id", 100000))
		if t.d.Records[obj][id] == nil && t.d.Deleted[obj][id] == nil {
			return id
		}
	}
}

// find looks a record up by ID in live records, then in the recycle bin.
func (t *txn) find(o *sobject, rawID string) (record, *apiError) {
	id, ok := normalizeID(rawID)
	if !ok || id[:3] != o.KeyPrefix {
		return nil, notFound()
	}
	if r := t.d.Records[o.Name][id]; r != nil {
		return r, nil
	}
	if t.d.Deleted[o.Name][id] != nil {
		return nil, entityDeleted()
	}
	return nil, notFound()
}

// lookupAny finds a live record of any object by ID.
func (t *txn) lookupAny(id string) (*sobject, record, bool) {
	o := t.s.schema.byPrefix[id[:3]]
	if o == nil {
		return nil, nil, false
	}
	r := t.d.Records[o.Name][id]
	return o, r, r != nil
}

var emailRe = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// coerce converts one JSON input value to the stored form of f.
func coerce(f *field, v any) (any, *apiError) {
	if v == nil {
		if f.Type == tBoolean {
			return false, nil
		}
		return nil, nil
	}
	badType := func() *apiError {
		return recordErr("INVALID_TYPE_ON_FIELD_IN_RECORD", fmt.Sprintf("%s: value not of required type: %v", f.Label, v), f.Name)
	}
	switch v.(type) {
	case map[string]any, []any:
		return nil, plainErr(http.StatusBadRequest, "JSON_PARSER_ERROR", fmt.Sprintf("Cannot deserialize instance of %s from %s value for field %s", f.Type, jsonKind(v), f.Name))
	}
	switch f.Type {
	case tBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
		return nil, badType()
	case tDouble, tPercent, tCurrency, tInt:
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case string:
			s = strings.TrimSpace(x)
			if s == "" {
				return nil, nil
			}
		default:
			return nil, badType()
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, badType()
		}
		if f.Type == tInt && n != math.Trunc(n) {
			return nil, badType()
		}
		if f.Precision > 0 {
			p := math.Pow(10, float64(f.Scale))
			n = math.Round(n*p) / p
			if math.Abs(n) >= math.Pow(10, float64(f.Precision-f.Scale)) {
				return nil, recordErr("NUMBER_OUTSIDE_VALID_RANGE", fmt.Sprintf("%s: value outside of valid range on numeric field: %s", f.Label, s), f.Name)
			}
		}
		return n, nil
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		s = strconv.FormatBool(x)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return nil, badType()
	}
	switch f.Type {
	case tDate:
		if s == "" {
			return nil, nil
		}
		if d, err := time.Parse(sfDate, s); err == nil {
			return d.Format(sfDate), nil
		}
		if t, ok := parseDatetime(s); ok {
			return t.Format(sfDate), nil
		}
		return nil, badType()
	case tDatetime:
		if s == "" {
			return nil, nil
		}
		if t, ok := parseDatetime(s); ok {
			return formatDatetime(t), nil
		}
		if d, err := time.Parse(sfDate, s); err == nil {
			return formatDatetime(d), nil
		}
		return nil, badType()
	case tID, tReference:
		if s == "" {
			return nil, nil
		}
		id, ok := normalizeID(s)
		if !ok {
			return nil, recordErr("MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, s), f.Name)
		}
		return id, nil
	}
	if s == "" { // Salesforce stores empty text as null
		return nil, nil
	}
	if f.Length > 0 && utf8.RuneCountInString(s) > f.Length {
		return nil, recordErr("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, s, f.Length), f.Name)
	}
	switch f.Type {
	case tEmail:
		if !emailRe.MatchString(s) {
			return nil, recordErr("INVALID_EMAIL_ADDRESS", fmt.Sprintf("%s: invalid email address: %s", f.Label, s), f.Name)
		}
	case tPicklist:
		if f.Restricted {
			for _, p := range f.Picklist {
				if strings.EqualFold(p, s) {
					return p, nil
				}
			}
			return nil, recordErr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label, s), f.Name)
		}
	}
	return s, nil
}

func jsonKind(v any) string {
	if _, ok := v.([]any); ok {
		return "START_ARRAY"
	}
	return "START_OBJECT"
}

// writeOp says which permission a write needs.
type writeOp int

const (
	opCreate writeOp = iota
	opUpdate
)

// convertInput checks field names and access and converts values. Keys the
// caller handles itself ("attributes", and for updates "Id") are skipped.
func convertInput(o *sobject, in map[string]any, op writeOp) (record, []*apiError) {
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := record{}
	var denied []string
	for _, k := range keys {
		if k == "attributes" {
			continue
		}
		f := o.field(k)
		if f == nil {
			return nil, []*apiError{invalidField(k, o.Name)}
		}
		if f.Name == "Id" {
			if op == opCreate {
				return nil, []*apiError{recordErr("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", "Id")}
			}
			continue
		}
		if (op == opCreate && !f.Createable) || (op == opUpdate && !f.Updateable) {
			denied = append(denied, f.Name)
			continue
		}
		v, err := coerce(f, in[k])
		if err != nil {
			return nil, []*apiError{err}
		}
		out[f.Name] = v
	}
	if len(denied) > 0 {
		return nil, []*apiError{recordErr("INVALID_FIELD_FOR_INSERT_UPDATE",
			fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", joinFields(denied)), denied...)}
	}
	return out, nil
}

// create inserts a record and returns its ID.
func (t *txn) create(o *sobject, in map[string]any) (string, []*apiError) {
	if !o.Createable {
		return "", []*apiError{recordErr("INVALID_TYPE_FOR_OPERATION", "entity type "+o.Name+" does not support insert")}
	}
	if !t.s.objAllowed(o, "create") {
		return "", []*apiError{insufficientAccess()}
	}
	vals, errs := convertInput(o, in, opCreate)
	if errs != nil {
		return "", errs
	}
	if errs := t.checkFLS(o, vals); errs != nil {
		return "", errs
	}
	r := record{}
	for _, f := range o.Fields {
		r[f.Name] = nil
		if f.Type == tBoolean {
			r[f.Name] = false
		}
		if f.Default != "" {
			r[f.Name] = f.Default
		}
	}
	for k, v := range vals {
		if v == nil && o.field(k).Default != "" {
			continue // an explicit null on create still gets the default
		}
		r[k] = v
	}
	if errs := t.checkRequired(o, r, nil); errs != nil {
		return "", errs
	}
	if o.Name == "CaseArticle" {
		// Creating a link that exists returns the existing record (documented).
		for id, x := range t.d.Records[o.Name] {
			if x.str("CaseId") == r.str("CaseId") && x.str("KnowledgeArticleId") == r.str("KnowledgeArticleId") {
				return id, nil
			}
		}
	}
	if errs := t.checkRecord(o, r, ""); errs != nil {
		return "", errs
	}
	id := t.newID(o.KeyPrefix)
	r["Id"] = id
	stamp := formatDatetime(t.now)
	r["CreatedDate"], r["LastModifiedDate"], r["SystemModstamp"] = stamp, stamp, stamp
	r["CreatedById"], r["LastModifiedById"] = t.userID, t.userID
	if f := o.field("OwnerId"); f != nil && r["OwnerId"] == nil {
		r["OwnerId"] = t.userID
	}
	t.deriveOnCreate(o, r)
	t.derive(o, r, nil)
	t.put(o.Name, r)
	return id, nil
}

// update changes fields of an existing record.
func (t *txn) update(o *sobject, rawID string, in map[string]any) []*apiError {
	old, err := t.find(o, rawID)
	if err != nil {
		return []*apiError{err}
	}
	if !o.Updateable {
		return []*apiError{recordErr("INVALID_TYPE_FOR_OPERATION", "entity type "+o.Name+" does not support update")}
	}
	if !t.s.objAllowed(o, "edit") {
		return []*apiError{insufficientAccess()}
	}
	vals, errs := convertInput(o, in, opUpdate)
	if errs != nil {
		return errs
	}
	if errs := t.checkFLS(o, vals); errs != nil {
		return errs
	}
	r := old.clone()
	for k, v := range vals {
		r[k] = v
	}
	if errs := t.checkRequired(o, r, vals); errs != nil {
		return errs
	}
	if errs := t.checkRecord(o, r, old.str("Id")); errs != nil {
		return errs
	}
	stamp := formatDatetime(t.now)
	r["LastModifiedDate"], r["SystemModstamp"], r["LastModifiedById"] = stamp, stamp, t.userID
	t.derive(o, r, old)
	t.put(o.Name, r)
	return nil
}

// checkFLS refuses writes to fields the user cannot edit.
func (t *txn) checkFLS(o *sobject, vals record) []*apiError {
	var denied []string
	for k := range vals {
		if f := o.field(k); !t.s.fieldAllowed(o, f, true) {
			denied = append(denied, f.Name)
		}
	}
	if denied == nil {
		return nil
	}
	sort.Strings(denied)
	return []*apiError{recordErr("INVALID_FIELD_FOR_INSERT_UPDATE",
		fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", joinFields(denied)), denied...)}
}

// upsertResult is the outcome of an upsert by external ID.
type upsertResult struct {
	ID      string
	Created bool
	Matches []string // more than one: 300 Multiple Choices
}

func (t *txn) upsert(o *sobject, fieldName, value string, in map[string]any) (upsertResult, []*apiError) {
	if strings.EqualFold(fieldName, "Id") {
		if value == "" {
			id, errs := t.create(o, in)
			return upsertResult{ID: id, Created: true}, errs
		}
		r, err := t.find(o, value)
		if err != nil {
			return upsertResult{}, []*apiError{err}
		}
		return upsertResult{ID: r.str("Id")}, t.update(o, r.str("Id"), in)
	}
	f := o.field(fieldName)
	if f == nil || !(f.ExternalID || f.IDLookup) {
		return upsertResult{}, []*apiError{plainErr(http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+fieldName)}
	}
	body := make(map[string]any, len(in)+1)
	for k, v := range in {
		if strings.EqualFold(k, f.Name) {
			if s := fmt.Sprint(v); !strings.EqualFold(s, value) {
				return upsertResult{}, []*apiError{recordErr("INVALID_FIELD", fmt.Sprintf("%s: the value in the request body (%s) does not match the external ID in the URL (%s)", f.Name, s, value), f.Name)}
			}
			continue
		}
		body[k] = v
	}
	matches := t.matchField(o, f, value)
	switch len(matches) {
	case 0:
		body[f.Name] = value
		id, errs := t.create(o, body)
		return upsertResult{ID: id, Created: true}, errs
	case 1:
		return upsertResult{ID: matches[0]}, t.update(o, matches[0], body)
	default:
		return upsertResult{Matches: matches}, nil
	}
}

// matchField returns the IDs of live records whose field equals value
// (case-insensitively, as external IDs are by default), sorted.
func (t *txn) matchField(o *sobject, f *field, value string) []string {
	var ids []string
	for _, id := range t.d.index(o.Name, f.Name).candidates(value) {
		r := t.d.Records[o.Name][id]
		if s, ok := r[f.Name].(string); ok && strings.EqualFold(s, value) {
			ids = append(ids, id)
		} else if n, ok := r[f.Name].(float64); ok && strconv.FormatFloat(n, 'f', -1, 64) == value {
			ids = append(ids, id)
		}
	}
	return ids // candidates are sorted
}

// remove moves a record (and the records that cascade with it) to the
// recycle bin.
func (t *txn) remove(o *sobject, rawID string) []*apiError {
	r, err := t.find(o, rawID)
	if err != nil {
		return []*apiError{err}
	}
	if !o.Deletable {
		return []*apiError{recordErr("INVALID_TYPE_FOR_OPERATION", "entity type "+o.Name+" does not support delete")}
	}
	if !t.s.objAllowed(o, "delete") {
		return []*apiError{insufficientAccess()}
	}
	t.moveToBin(o, r)
	return nil
}

// cascades lists the master-detail style deletions Salesforce performs.
var cascades = map[string][][2]string{
	"Case":    {{"EmailMessage", "ParentId"}, {"CaseComment", "ParentId"}, {"CaseArticle", "CaseId"}},
	"Account": {{"Contact", "AccountId"}, {"Case", "AccountId"}},
}

func (t *txn) moveToBin(o *sobject, r record) {
	id := r.str("Id")
	t.remember(o.Name, id)
	d := r.clone()
	d["IsDeleted"] = true
	stamp := formatDatetime(t.now)
	d["SystemModstamp"], d["LastModifiedDate"] = stamp, stamp
	t.d.setLive(o.Name, id, nil)
	setOrDelete(t.d.Deleted, o.Name, id, d)
	for _, c := range cascades[o.Name] {
		child := t.s.schema.object(c[0])
		for _, cr := range t.sortedRecords(c[0]) {
			if cr.str(c[1]) == id {
				t.moveToBin(child, cr)
			}
		}
	}
}

func (t *txn) sortedRecords(obj string) []record {
	rs := make([]record, 0, len(t.d.Records[obj]))
	for _, r := range t.d.Records[obj] {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].str("Id") < rs[j].str("Id") })
	return rs
}

// checkRequired reports required fields without a value. On update only the
// fields the request set are checked (others were valid already).
func (t *txn) checkRequired(o *sobject, r record, changed record) []*apiError {
	var missing []string
	for _, f := range o.Fields {
		if !f.required() {
			continue
		}
		if changed != nil {
			if _, set := changed[f.Name]; !set {
				continue
			}
		}
		if v := r[f.Name]; v == nil || v == "" {
			missing = append(missing, f.Name)
		}
	}
	if missing != nil {
		return []*apiError{recordErr("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+joinFields(missing)+"]", missing...)}
	}
	return nil
}

// checkRecord enforces references, uniqueness and duplicate rules. self is
// the record's own ID on update.
func (t *txn) checkRecord(o *sobject, r record, self string) []*apiError {
	for _, f := range o.Fields {
		if f.Type != tReference || r[f.Name] == nil || !(f.Createable || f.Updateable) {
			continue
		}
		if err := t.checkReference(f, r.str(f.Name)); err != nil {
			return []*apiError{err}
		}
	}
	for _, f := range o.Fields {
		if !f.Unique || r[f.Name] == nil {
			continue
		}
		for _, id := range t.matchField(o, f, fmt.Sprint(r[f.Name])) {
			if id != self {
				return []*apiError{recordErr("DUPLICATE_VALUE", fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", f.Name, id[:15]))}
			}
		}
	}
	if o.Name == "Knowledge__kav" {
		// UrlName is unique per language among an article's versions.
		for id, x := range t.d.Records[o.Name] {
			if id != self && x.str("KnowledgeArticleId") != r.str("KnowledgeArticleId") &&
				strings.EqualFold(x.str("UrlName"), r.str("UrlName")) && x.str("Language") == r.str("Language") {
				return []*apiError{recordErr("DUPLICATE_VALUE", fmt.Sprintf("duplicate value found: UrlName duplicates value on record with id: %s", id[:15]), "UrlName")}
			}
		}
	}
	if o.Name == "Contact" && !t.allowDup && r["Email"] != nil {
		if err := t.contactDuplicateRule(r, self); err != nil {
			return []*apiError{err}
		}
	}
	return nil
}

func (t *txn) checkReference(f *field, id string) *apiError {
	for _, to := range f.ReferenceTo {
		switch to {
		case "User":
			if strings.HasPrefix(id, "005") {
				return nil
			}
			continue
		case "KnowledgeArticle":
			if !strings.HasPrefix(id, "kA0") {
				continue
			}
			for _, x := range t.d.Records["Knowledge__kav"] {
				if x.str("KnowledgeArticleId") == id {
					return nil
				}
			}
			return recordErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
		}
		target := t.s.schema.object(to)
		if target == nil || !strings.HasPrefix(id, target.KeyPrefix) {
			continue
		}
		if t.d.Records[target.Name][id] != nil {
			return nil
		}
		if t.d.Deleted[target.Name][id] != nil {
			return recordErr("ENTITY_IS_DELETED", "entity is deleted")
		}
		return recordErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
	}
	return recordErr("FIELD_INTEGRITY_EXCEPTION", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, id), f.Name)
}

// contactDuplicateRule emulates the standard Contact duplicate rule (action
// "Allow" with an alert), reduced to an exact e-mail match: the API refuses
// the duplicate unless the caller acknowledges the alert with
// Sforce-Duplicate-Rule-Header: allowSave=true, so duplicateResult.allowSave
// is true (the rule allows saving).
func (t *txn) contactDuplicateRule(r record, self string) *apiError {
	email := r.str("Email")
	var matches []any
	for _, id := range t.d.index("Contact", "Email").candidates(email) {
		x := t.d.Records["Contact"][id]
		if x.str("Id") != self && strings.EqualFold(x.str("Email"), email) {
			id := x.str("Id")
			matches = append(matches, newOmap().
				Set("additionalInformation", []any{}).
				Set("fieldDiffs", []any{}).
				Set("matchConfidence", 100.0).
				Set("record", newOmap().Set("attributes", attributes("Contact", id, t.versionOrDefault())).Set("Id", id)))
		}
	}
	if len(matches) == 0 {
		return nil
	}
	const msg = "You're creating a duplicate record. We recommend you use an existing record instead."
	dup := newOmap().
		Set("allowSave", true).
		Set("duplicateRule", "Standard_Contact_Duplicate_Rule").
		Set("duplicateRuleEntityType", "Contact").
		Set("errorMessage", msg).
		Set("matchResults", []any{newOmap().
			Set("entityType", "Contact").
			Set("errors", []any{}).
			Set("matchEngine", "ExactMatchEngine").
			Set("matchRecords", matches).
			Set("rule", "Standard_Contact_Match_Rule_v1_1").
			Set("size", len(matches)).
			Set("success", true)})
	e := recordErr("DUPLICATES_DETECTED", msg)
	e.Dup = dup
	return e
}

func (t *txn) versionOrDefault() string {
	if t.version != "" {
		return t.version
	}
	return t.s.defaultVersion
}

// deriveOnCreate fills the system-assigned fields of a new record.
func (t *txn) deriveOnCreate(o *sobject, r record) {
	switch o.Name {
	case "Case":
		r["CaseNumber"] = fmt.Sprintf("%08d", t.nextSeq("CaseNumber", 1000))
	case "Knowledge__kav":
		if r["KnowledgeArticleId"] == nil {
			r["KnowledgeArticleId"] = t.newID("kA0")
		}
		if r["ArticleNumber"] == nil {
			r["ArticleNumber"] = fmt.Sprintf("%09d", t.nextSeq("ArticleNumber", 1000))
		}
		if r["VersionNumber"] == nil {
			r["VersionNumber"] = 1.0
		}
		r["IsLatestVersion"] = true
	case "CaseArticle":
		for _, x := range t.d.Records["Knowledge__kav"] {
			if x.str("KnowledgeArticleId") == r.str("KnowledgeArticleId") && x["IsLatestVersion"] == true {
				r["ArticleLanguage"] = x["Language"]
				if r["ArticleVersionNumber"] == nil {
					r["ArticleVersionNumber"] = x["VersionNumber"]
				}
			}
		}
	}
}

// derive keeps computed fields consistent (IsClosed, ClosedDate, Name).
func (t *txn) derive(o *sobject, r, old record) {
	switch o.Name {
	case "Case":
		// The case's account follows its contact unless the caller set one.
		if cid := r.str("ContactId"); cid != "" && r["AccountId"] == nil && (old == nil || old.str("ContactId") != cid) {
			if c := t.d.Records["Contact"][cid]; c != nil && c["AccountId"] != nil {
				r["AccountId"] = c["AccountId"]
			}
		}
		closed := r.str("Status") == "Closed"
		r["IsClosed"] = closed
		wasClosed := old != nil && old["IsClosed"] == true
		switch {
		case closed && (!wasClosed || r["ClosedDate"] == nil):
			r["ClosedDate"] = formatDatetime(t.now)
		case !closed:
			r["ClosedDate"] = nil
		}
	case "Contact":
		r["Name"] = strings.TrimSpace(r.str("FirstName") + " " + r.str("LastName"))
	case "Task":
		r["IsClosed"] = r.str("Status") == "Completed"
	}
}
