package sfsim

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/salesforce/sfdx"
)

func TestVersionsAndResources(t *testing.T) {
	e := newEnv(t, Options{APIVersions: []string{"45.0", "60.0", "61.0", "62.0"}})
	r := e.do("GET", "/services/data/", nil)
	if r.status != 200 {
		t.Fatalf("versions: %d", r.status)
	}
	want := []string{"45.0|Spring '19", "60.0|Spring '24", "61.0|Summer '24", "62.0|Winter '25"}
	var got []string
	for _, v := range arr(r.body) {
		m := obj(v)
		if m["url"] != "/services/data/v"+m["version"].(string) {
			t.Errorf("url %v for version %v", m["url"], m["version"])
		}
		got = append(got, fmt.Sprint(m["version"], "|", m["label"]))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("versions = %v, want %v", got, want)
	}
	if r := e.do("GET", "/services/data/v62.0/", nil); r.status != 200 || obj(r.body)["sobjects"] != "/services/data/v62.0/sobjects" {
		t.Errorf("resources: %d %v", r.status, r.body)
	}
	if r := e.do("GET", "/services/data/v30.0/limits", nil); r.status != 404 || errorCode(r.body) != "NOT_FOUND" {
		t.Errorf("unsupported version: %d %v", r.status, r.body)
	}
}

func TestCreateGetUpdateDelete(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do("POST", "/sobjects/Account/", map[string]any{"Name": "Express Logistics and Transport"})
	if r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	id := obj(r.body)["id"].(string)
	if len(id) != 18 || id[:3] != "001" || obj(r.body)["success"] != true || len(arr(obj(r.body)["errors"])) != 0 {
		t.Fatalf("create body: %v", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/services/data/v62.0/sobjects/Account/"+id {
		t.Errorf("Location = %q", loc)
	}
	if !strings.HasPrefix(r.header.Get("Sforce-Limit-Info"), "api-usage=") {
		t.Errorf("Sforce-Limit-Info = %q", r.header.Get("Sforce-Limit-Info"))
	}
	created := e.clock.Now()
	e.clock.Add(time.Minute)
	if r := e.do("PATCH", "/sobjects/Account/"+id[:15], map[string]any{"Phone": "+31 10 555 0100"}); r.status != 204 || r.body != nil {
		t.Fatalf("update via 15-char id: %d %v", r.status, r.body)
	}
	r = e.do("GET", "/sobjects/Account/"+id, nil)
	rec := obj(r.body)
	if r.status != 200 || rec["Phone"] != "+31 10 555 0100" || rec["Name"] != "Express Logistics and Transport" {
		t.Fatalf("get: %d %v", r.status, r.body)
	}
	if a := obj(rec["attributes"]); a["type"] != "Account" || a["url"] != "/services/data/v62.0/sobjects/Account/"+id {
		t.Errorf("attributes: %v", a)
	}
	if rec["CreatedDate"] != formatDatetime(created) || rec["LastModifiedDate"] != formatDatetime(created.Add(time.Minute)) || rec["SystemModstamp"] != rec["LastModifiedDate"] {
		t.Errorf("audit fields: created %v modified %v", rec["CreatedDate"], rec["LastModifiedDate"])
	}
	r = e.do("GET", "/sobjects/Account/"+id+"?fields=Name,Phone", nil)
	if keys := len(obj(r.body)); keys != 4 { // attributes, Name, Phone, Id
		t.Errorf("fields= returned %d keys: %v", keys, r.body)
	}
	if r := e.do("DELETE", "/sobjects/Account/"+id, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r := e.do(m, "/sobjects/Account/"+id, nil); r.status != 404 || errorCode(r.body) != "ENTITY_IS_DELETED" {
			t.Errorf("%s deleted: %d %v", m, r.status, r.body)
		}
	}
	if r := e.do("PATCH", "/sobjects/Account/"+id, map[string]any{"Phone": "1"}); r.status != 404 || errorCode(r.body) != "ENTITY_IS_DELETED" {
		t.Errorf("PATCH deleted: %d %v", r.status, r.body)
	}
	if r := e.do("GET", "/sobjects/Account/001D000000INjVzIAH", nil); r.status != 404 || errorCode(r.body) != "NOT_FOUND" {
		t.Errorf("missing: %d %v", r.status, r.body)
	}
	if r := e.do("GET", "/sobjects/Nope__c/001D000000INjVzIAH", nil); r.status != 404 {
		t.Errorf("unknown object: %d", r.status)
	}
}

func TestEnforcement(t *testing.T) {
	e := newEnv(t, Options{})
	acct := e.mustCreate("Account", map[string]any{"Name": "Acme"})
	tests := []struct {
		name, object string
		body         map[string]any
		status       int
		code         string
		fields       string
	}{
		{"unknown field", "Case", map[string]any{"Subject": "x", "Bogus__c": "y"}, 400, "INVALID_FIELD", ""},
		{"required", "Contact", map[string]any{"FirstName": "Ann"}, 400, "REQUIRED_FIELD_MISSING", "LastName"},
		{"too long", "Case", map[string]any{"Subject": strings.Repeat("x", 256)}, 400, "STRING_TOO_LONG", "Subject"},
		{"email subject 3000 ok", "EmailMessage", nil, 0, "", ""},
		{"restricted picklist", "Case", map[string]any{"Status": "Exploded"}, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status"},
		{"read-only", "Case", map[string]any{"CaseNumber": "1"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "CaseNumber"},
		{"read-only derived", "Case", map[string]any{"IsClosed": true}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "IsClosed"},
		{"bad email", "Contact", map[string]any{"LastName": "X", "Email": "Not a real email address"}, 400, "INVALID_EMAIL_ADDRESS", "Email"},
		{"bad boolean", "Case", map[string]any{"IsEscalated": "maybe"}, 400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "IsEscalated"},
		{"malformed id", "Case", map[string]any{"AccountId": "nope"}, 400, "MALFORMED_ID", "AccountId"},
		{"wrong reference type", "Case", map[string]any{"ContactId": acct}, 400, "FIELD_INTEGRITY_EXCEPTION", "ContactId"},
		{"missing reference", "Case", map[string]any{"AccountId": "001D000000IqhSLIAZ"}, 400, "INVALID_CROSS_REFERENCE_KEY", ""},
		{"percent out of range", "Case", map[string]any{"AI_Confidence__c": 1234.5}, 400, "NUMBER_OUTSIDE_VALID_RANGE", "AI_Confidence__c"},
		{"id on insert", "Case", map[string]any{"Id": "500D000000INjVzIAH"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Id"},
		{"not json object", "Case", nil, 400, "JSON_PARSER_ERROR", ""},
		{"custom long text ok", "Case", map[string]any{"AI_Summary__c": strings.Repeat("s", 32768)}, 201, "", ""},
		{"custom long text too long", "Case", map[string]any{"AI_Summary__c": strings.Repeat("s", 32769)}, 400, "STRING_TOO_LONG", "AI_Summary__c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any = tt.body
			if tt.name == "not json object" {
				body = "[1,2]"
			}
			if tt.object == "EmailMessage" {
				c := e.mustCreate("Case", map[string]any{"Subject": "parent"})
				body = map[string]any{"ParentId": c, "Status": "0", "Subject": strings.Repeat("s", 3000), "TextBody": strings.Repeat("b", 131072), "Incoming": true}
				tt.status = 201
			}
			r := e.do("POST", "/sobjects/"+tt.object, body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %v", r.status, tt.status, r.body)
			}
			if tt.code == "" {
				return
			}
			if got := errorCode(r.body); got != tt.code {
				t.Fatalf("errorCode %q, want %q: %v", got, tt.code, r.body)
			}
			if tt.fields != "" {
				if f := fmt.Sprint(obj(arr(r.body)[0])["fields"]); f != "["+tt.fields+"]" {
					t.Errorf("fields %s, want [%s]", f, tt.fields)
				}
			}
		})
	}
	// Nothing from the failed creates was stored.
	if n := len(e.srv.Records("Contact")); n != 0 {
		t.Errorf("%d contacts stored by failed creates", n)
	}
}

func TestCaseDerivedFields(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.mustCreate("Case", map[string]any{"Subject": "Printer on fire", "SuppliedEmail": "ann@example.com", "Origin": "Email"})
	id2 := e.mustCreate("Case", map[string]any{"Subject": "second"})
	get := func(id string) map[string]any { return obj(e.do("GET", "/sobjects/Case/"+id, nil).body) }
	c := get(id)
	if c["Status"] != "New" || c["Priority"] != "Medium" || c["IsClosed"] != false || c["ClosedDate"] != nil {
		t.Fatalf("defaults: %v", c)
	}
	n1, n2 := c["CaseNumber"].(string), get(id2)["CaseNumber"].(string)
	if len(n1) != 8 || n2 <= n1 {
		t.Errorf("CaseNumber %q then %q", n1, n2)
	}
	e.clock.Add(time.Hour)
	closedAt := formatDatetime(e.clock.Now())
	if r := e.do("PATCH", "/sobjects/Case/"+id, map[string]any{"Status": "Closed"}); r.status != 204 {
		t.Fatal(r.body)
	}
	if c := get(id); c["IsClosed"] != true || c["ClosedDate"] != closedAt {
		t.Errorf("closed: IsClosed %v ClosedDate %v want %v", c["IsClosed"], c["ClosedDate"], closedAt)
	}
	if r := e.do("PATCH", "/sobjects/Case/"+id, map[string]any{"Status": "Working"}); r.status != 204 {
		t.Fatal(r.body)
	}
	if c := get(id); c["IsClosed"] != false || c["ClosedDate"] != nil {
		t.Errorf("reopened: %v %v", c["IsClosed"], c["ClosedDate"])
	}
	// A case's account follows its contact.
	acct := e.mustCreate("Account", map[string]any{"Name": "Acme"})
	ann := e.mustCreate("Contact", map[string]any{"LastName": "Ann", "AccountId": acct})
	withContact := e.mustCreate("Case", map[string]any{"Subject": "s", "ContactId": ann})
	if c := get(withContact); c["AccountId"] != acct {
		t.Errorf("AccountId from contact: %v", c["AccountId"])
	}
	if r := e.do("HEAD", "/sobjects/Case/"+withContact, nil); r.status != 200 || r.body != nil {
		t.Errorf("HEAD: %d %v", r.status, r.body)
	}
	// Create-only: SuppliedEmail cannot be updated.
	if r := e.do("PATCH", "/sobjects/Case/"+id, map[string]any{"SuppliedEmail": "x@example.com"}); r.status != 400 || errorCode(r.body) != "INVALID_FIELD_FOR_INSERT_UPDATE" {
		t.Errorf("create-only update: %d %v", r.status, r.body)
	}
	// Required field cleared on update.
	ct := e.mustCreate("Contact", map[string]any{"LastName": "Smith"})
	if r := e.do("PATCH", "/sobjects/Contact/"+ct, map[string]any{"LastName": nil}); errorCode(r.body) != "REQUIRED_FIELD_MISSING" {
		t.Errorf("clear required: %v", r.body)
	}
}

func TestUpsert(t *testing.T) {
	e := newEnv(t, Options{APIVersions: []string{"45.0", "62.0"}})
	path := "/sobjects/Case/Triage_Key__c/thr-7f3a"
	r := e.do("PATCH", path, map[string]any{"Subject": "first"})
	if r.status != 201 || obj(r.body)["created"] != true {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	id := obj(r.body)["id"].(string)
	r = e.do("PATCH", path, map[string]any{"Subject": "second"})
	if r.status != 200 || obj(r.body)["created"] != false || obj(r.body)["id"] != id {
		t.Fatalf("update v62: %d %v", r.status, r.body)
	}
	r = e.do("PATCH", "/services/data/v45.0"+path, map[string]any{"Subject": "third"})
	if r.status != 204 || r.body != nil {
		t.Fatalf("update v45: %d %v", r.status, r.body)
	}
	if r := e.do("GET", path, nil); obj(r.body)["Subject"] != "third" {
		t.Errorf("get by external id: %v", r.body)
	}
	// External IDs match case-insensitively.
	if r := e.do("PATCH", "/sobjects/Case/Triage_Key__c/THR-7F3A", map[string]any{"Priority": "High"}); r.status != 200 {
		t.Errorf("case-insensitive match: %d", r.status)
	}
	if n := len(e.srv.Records("Case")); n != 1 {
		t.Errorf("%d cases, want 1", n)
	}
	// DUPLICATE_VALUE on the unique external ID.
	r = e.do("POST", "/sobjects/Case", map[string]any{"Subject": "x", "Triage_Key__c": "thr-7f3a"})
	if r.status != 400 || errorCode(r.body) != "DUPLICATE_VALUE" {
		t.Errorf("duplicate value: %d %v", r.status, r.body)
	}
	// Not an external ID field.
	if r := e.do("PATCH", "/sobjects/Case/Subject/x", map[string]any{}); r.status != 404 || errorCode(r.body) != "NOT_FOUND" {
		t.Errorf("non-external field: %d %v", r.status, r.body)
	}
	// 300 on multiple matches (Contact.Email is an idLookup field).
	a := e.mustCreate("Contact", map[string]any{"LastName": "A", "Email": "ann@example.com"})
	b := e.do("POST", "/sobjects/Contact", map[string]any{"LastName": "B", "Email": "ann@example.com"}, "Sforce-Duplicate-Rule-Header", "allowSave=true")
	r = e.do("PATCH", "/sobjects/Contact/Email/ann@example.com", map[string]any{"Title": "CEO"})
	if r.status != 300 || len(arr(r.body)) != 2 || !strings.HasSuffix(arr(r.body)[0].(string), a) || !strings.HasSuffix(arr(r.body)[1].(string), obj(b.body)["id"].(string)) {
		t.Errorf("multiple: %d %v", r.status, r.body)
	}
	// POST /sobjects/X/Id creates.
	if r := e.do("POST", "/sobjects/Account/Id", map[string]any{"Name": "Via Id"}); r.status != 201 || obj(r.body)["created"] != true {
		t.Errorf("POST Id: %d %v", r.status, r.body)
	}
}

func TestContactDuplicateRule(t *testing.T) {
	e := newEnv(t, Options{})
	first := e.mustCreate("Contact", map[string]any{"LastName": "Smith", "Email": "jsmith@example.com"})
	r := e.do("POST", "/sobjects/Contact", map[string]any{"LastName": "Smith", "Email": "JSmith@example.com"})
	if r.status != 400 || errorCode(r.body) != "DUPLICATES_DETECTED" {
		t.Fatalf("duplicate: %d %v", r.status, r.body)
	}
	dr := obj(obj(arr(r.body)[0])["duplicateResult"])
	mr := obj(arr(dr["matchResults"])[0])
	rec := obj(obj(arr(mr["matchRecords"])[0])["record"])
	if dr["allowSave"] != true || dr["duplicateRule"] == "" || rec["Id"] != first || mr["size"] != 1.0 ||
		obj(rec["attributes"])["url"] != "/services/data/v62.0/sobjects/Contact/"+first {
		t.Errorf("duplicateResult: %v", dr)
	}
	r = e.do("POST", "/sobjects/Contact", map[string]any{"LastName": "Smith", "Email": "jsmith@example.com"}, "Sforce-Duplicate-Rule-Header", "allowSave=true")
	if r.status != 201 {
		t.Errorf("allowSave: %d %v", r.status, r.body)
	}
	// A different address is not a duplicate; changing to a taken one is.
	other := e.mustCreate("Contact", map[string]any{"LastName": "Other", "Email": "other@example.com"})
	if r := e.do("PATCH", "/sobjects/Contact/"+other, map[string]any{"Email": "jsmith@example.com"}); errorCode(r.body) != "DUPLICATES_DETECTED" {
		t.Errorf("update into duplicate: %v", r.body)
	}
}

func TestDescribe(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do("GET", "/sobjects/Case/describe/", nil)
	if r.status != 200 {
		t.Fatal(r.status)
	}
	d := obj(r.body)
	if d["name"] != "Case" || d["keyPrefix"] != "500" {
		t.Errorf("describe: %v %v", d["name"], d["keyPrefix"])
	}
	fields := map[string]map[string]any{}
	for _, f := range arr(d["fields"]) {
		fields[obj(f)["name"].(string)] = obj(f)
	}
	// The custom fields come from the DX source, with its lengths.
	custom, err := sfdx.Fields()
	if err != nil {
		t.Fatal(err)
	}
	for _, cf := range custom {
		f := fields[cf.FullName]
		if f == nil {
			t.Errorf("describe lacks %s", cf.FullName)
			continue
		}
		if cf.Length > 0 && f["length"] != float64(cf.Length) {
			t.Errorf("%s length %v, DX says %d", cf.FullName, f["length"], cf.Length)
		}
		if f["externalId"] != cf.ExternalID || f["unique"] != cf.Unique || f["custom"] != true {
			t.Errorf("%s: %v", cf.FullName, f)
		}
	}
	if f := fields["CaseNumber"]; f["createable"] != false || f["updateable"] != false {
		t.Errorf("CaseNumber: %v", f)
	}
	if f := fields["SuppliedEmail"]; f["createable"] != true || f["updateable"] != false || f["type"] != "email" || f["length"] != 80.0 {
		t.Errorf("SuppliedEmail: %v", f)
	}
	if f := fields["Status"]; f["restrictedPicklist"] != true || len(arr(f["picklistValues"])) != 4 {
		t.Errorf("Status: %v", f)
	}
	r = e.do("GET", "/sobjects/", nil)
	if n := len(arr(obj(r.body)["sobjects"])); n != 11 { // 8 + ContentVersion, ContentDocument, ContentDocumentLink
		t.Errorf("describeGlobal lists %d objects", n)
	}
	r = e.do("GET", "/sobjects/EmailMessage/describe", nil)
	for _, f := range arr(obj(r.body)["fields"]) {
		if m := obj(f); m["name"] == "TextBody" && m["length"] != 131072.0 {
			t.Errorf("EmailMessage.TextBody length %v", m["length"])
		}
	}
}

func TestCaseArticleAndKnowledge(t *testing.T) {
	e := newEnv(t, Options{})
	kav := e.mustCreate("Knowledge__kav", map[string]any{"Title": "Reset your password", "UrlName": "reset-password", "Body__c": "<p>Click forgot</p>"})
	k := obj(e.do("GET", "/sobjects/Knowledge__kav/"+kav, nil).body)
	if k["PublishStatus"] != "Draft" || k["VersionNumber"] != 1.0 || k["IsLatestVersion"] != true || !strings.HasPrefix(k["KnowledgeArticleId"].(string), "kA0") {
		t.Fatalf("article: %v", k)
	}
	if r := e.do("POST", "/sobjects/Knowledge__kav", map[string]any{"Title": "Again", "UrlName": "RESET-PASSWORD"}); errorCode(r.body) != "DUPLICATE_VALUE" {
		t.Errorf("UrlName uniqueness: %v", r.body)
	}
	c := e.mustCreate("Case", map[string]any{"Subject": "pw"})
	link := map[string]any{"CaseId": c, "KnowledgeArticleId": k["KnowledgeArticleId"]}
	a1 := e.mustCreate("CaseArticle", link)
	a2 := e.mustCreate("CaseArticle", link)
	if a1 != a2 {
		t.Errorf("creating an existing CaseArticle link returned a new record %s != %s", a2, a1)
	}
	if r := e.do("PATCH", "/sobjects/CaseArticle/"+a1, map[string]any{}); r.status != 400 {
		t.Errorf("CaseArticle update: %d", r.status)
	}
	if r := e.do("POST", "/sobjects/CaseArticle", map[string]any{"CaseId": c, "KnowledgeArticleId": kav}); r.status != 400 {
		t.Errorf("CaseArticle with a version id: %d %v", r.status, r.body)
	}
	// Deleting the case cascades to its article links.
	e.do("DELETE", "/sobjects/Case/"+c, nil)
	if n := len(e.srv.Records("CaseArticle")); n != 0 {
		t.Errorf("%d CaseArticles survive their case", n)
	}
}

func TestExtraFieldsForTests(t *testing.T) {
	e := newEnv(t, Options{ExtraFields: []sfdx.Field{{Object: "Account", FullName: "MyExtId__c", Label: "My Ext Id", Type: "Text", Length: 20, ExternalID: true}}})
	r := e.do("PATCH", "/sobjects/Account/MyExtId__c/AAA", map[string]any{"Name": "One"})
	if r.status != 201 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	if _, err := New(Options{ExtraFields: []sfdx.Field{{Object: "Nope", FullName: "X__c", Label: "X", Type: "Text", Length: 3}}}); err == nil {
		t.Error("extra field on an unknown object accepted")
	}
}

func TestExternalIDEscaping(t *testing.T) {
	e := newEnv(t, Options{})
	for _, key := range []string{"a/b c", "100%25", "<msg+1@example.com>", "é"} {
		r := e.do("PATCH", "/sobjects/Case/Triage_Key__c/"+url.PathEscape(key), map[string]any{"Subject": key})
		if r.status != 201 {
			t.Fatalf("%q: %d %v", key, r.status, r.body)
		}
		q := e.q("SELECT Triage_Key__c FROM Case WHERE Id = '" + obj(r.body)["id"].(string) + "'")
		if got := obj(arr(obj(q.body)["records"])[0])["Triage_Key__c"]; got != key {
			t.Errorf("stored key %q, want %q", got, key)
		}
	}
}

func TestNumericFields(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.mustCreate("Account", map[string]any{"Name": "Big", "AnnualRevenue": "1000000000", "NumberOfEmployees": 5000})
	r := e.do("GET", "/sobjects/Account/"+id, nil)
	if b := obj(r.body); b["AnnualRevenue"] != 1e9 || b["NumberOfEmployees"] != 5000.0 {
		t.Errorf("numbers: %v %v", b["AnnualRevenue"], b["NumberOfEmployees"])
	}
	for _, bad := range []map[string]any{{"NumberOfEmployees": 1.5}, {"AnnualRevenue": "lots"}, {"NumberOfEmployees": 123456789}} {
		bad["Name"] = "x"
		if r := e.do("POST", "/sobjects/Account", bad); r.status != 400 {
			t.Errorf("%v: %d", bad, r.status)
		}
	}
	if r := e.q("SELECT Id FROM Account WHERE AnnualRevenue > 5000 AND NumberOfEmployees >= 5000"); len(arr(obj(r.body)["records"])) != 1 {
		t.Errorf("numeric filter: %v", r.body)
	}
	// Percent keeps its scale: 87.456 rounds to 87.46.
	c := e.mustCreate("Case", map[string]any{"AI_Confidence__c": 87.456})
	if v := obj(e.do("GET", "/sobjects/Case/"+c, nil).body)["AI_Confidence__c"]; v != 87.46 {
		t.Errorf("percent rounding: %v", v)
	}
}

func TestMiscRoutes(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.mustCreate("Contact", map[string]any{"LastName": "A", "Email": "same@example.com"})
	b := obj(e.do("POST", "/sobjects/Contact", map[string]any{"LastName": "B", "Email": "same@example.com"}, "Sforce-Duplicate-Rule-Header", "allowSave=true").body)["id"].(string)
	c := e.mustCreate("Contact", map[string]any{"LastName": "C", "Email": "c@example.com"})
	tests := []struct {
		name, method, path string
		status             int
		check              func(any) bool
	}{
		{"object info", "GET", "/sobjects/Case", 200, func(v any) bool { return obj(obj(v)["objectDescribe"])["keyPrefix"] == "500" }},
		{"object name case-insensitive", "GET", "/sobjects/case/describe", 200, func(v any) bool { return obj(v)["name"] == "Case" }},
		{"get by idLookup", "GET", "/sobjects/Contact/Email/c@example.com", 200, func(v any) bool { return obj(v)["Id"] == c }},
		{"get by idLookup, several", "GET", "/sobjects/Contact/Email/same@example.com", 300, func(v any) bool { return len(arr(v)) == 2 }},
		{"get by idLookup, none", "GET", "/sobjects/Contact/Email/none@example.com", 404, nil},
		{"collections get", "GET", "/composite/sobjects/Contact?ids=" + a + "," + b + ",003D000000QV9n2IAD&fields=LastName", 200,
			func(v any) bool { l := arr(v); return len(l) == 3 && obj(l[0])["LastName"] == "A" && l[2] == nil }},
		{"method not allowed", "PUT", "/sobjects/Contact/" + a, 405, func(v any) bool { return errorCode(v) == "METHOD_NOT_ALLOWED" }},
		{"unknown resource", "GET", "/nope", 404, func(v any) bool { return errorCode(v) == "NOT_FOUND" }},
		{"unknown top-level path", "GET", "/services/apexrest/x", 404, nil},
		{"delete by idLookup", "DELETE", "/sobjects/Contact/Email/c@example.com", 204, nil},
		{"identity", "GET", "/id/x/y", 200, func(v any) bool { return obj(v)["username"] != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r result
			if strings.HasPrefix(tt.path, "/id/") || strings.HasPrefix(tt.path, "/services/") {
				r = e.raw(tt.method, tt.path)
			} else {
				r = e.do(tt.method, tt.path, nil)
			}
			if r.status != tt.status || (tt.check != nil && !tt.check(r.body)) {
				t.Fatalf("%d %v", r.status, r.body)
			}
		})
	}
}
