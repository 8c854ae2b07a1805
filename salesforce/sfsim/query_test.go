package sfsim

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// queryOrg builds a small org: two accounts, three contacts, cases at
// different dates.
func queryOrg(t *testing.T, opts Options) (*env, map[string]string) {
	e := newEnv(t, opts)
	ids := map[string]string{}
	ids["acme"] = e.mustCreate("Account", map[string]any{"Name": "Acme"})
	ids["burl"] = e.mustCreate("Account", map[string]any{"Name": "Burlington Textiles"})
	ids["ann"] = e.mustCreate("Contact", map[string]any{"LastName": "Ann", "Email": "ann@example.com", "AccountId": ids["acme"]})
	ids["bob"] = e.mustCreate("Contact", map[string]any{"LastName": "Bob", "Email": "bob_1@example.com", "AccountId": ids["burl"]})
	ids["cat"] = e.mustCreate("Contact", map[string]any{"LastName": "Cat", "Email": "cat@example.org"})
	// Cases: one 40 days ago, one 3 days ago, one today.
	e.clock.Add(-40 * 24 * time.Hour)
	ids["old"] = e.mustCreate("Case", map[string]any{"Subject": "Old printer", "Status": "Closed", "ContactId": ids["ann"], "AccountId": ids["acme"], "Priority": "Low"})
	e.clock.Add(37 * 24 * time.Hour)
	ids["mid"] = e.mustCreate("Case", map[string]any{"Subject": "Invoice 100% wrong", "ContactId": ids["bob"], "Priority": "High", "AI_Confidence__c": 91.5})
	e.clock.Add(3 * 24 * time.Hour)
	ids["new"] = e.mustCreate("Case", map[string]any{"Subject": "Login fails", "Priority": "High", "IsEscalated": true, "AI_Confidence__c": 40})
	return e, ids
}

func recordIDs(body any) []string {
	var out []string
	for _, r := range arr(obj(body)["records"]) {
		out = append(out, obj(r)["Id"].(string))
	}
	return out
}

func TestQueryFilters(t *testing.T) {
	e, ids := queryOrg(t, Options{})
	tests := []struct {
		soql string
		want []string
	}{
		{"SELECT Id FROM Case", []string{"old", "mid", "new"}},
		{"SELECT Id FROM Case WHERE Status = 'new'", []string{"mid", "new"}}, // case-insensitive
		{"SELECT Id FROM Case WHERE IsClosed = true", []string{"old"}},
		{"SELECT Id FROM Case WHERE Priority IN ('High') AND IsEscalated = false", []string{"mid"}},
		{"SELECT Id FROM Case WHERE Priority NOT IN ('High')", []string{"old"}},
		{"SELECT Id FROM Case WHERE (Priority = 'Low' OR IsEscalated = true) AND Status != 'Closed'", []string{"new"}},
		{"SELECT Id FROM Case WHERE NOT Priority = 'High'", []string{"old"}},
		{"SELECT Id FROM Case WHERE Subject LIKE '%printer%'", []string{"old"}},
		{"SELECT Id FROM Case WHERE Subject LIKE '%100\\%%'", []string{"mid"}},
		{"SELECT Id FROM Case WHERE AI_Confidence__c > 50", []string{"mid"}},
		{"SELECT Id FROM Case WHERE AI_Confidence__c <= 40", []string{"new"}},
		{"SELECT Id FROM Case WHERE AI_Confidence__c = null", []string{"old"}},
		{"SELECT Id FROM Case WHERE CreatedDate = TODAY", []string{"new"}},
		{"SELECT Id FROM Case WHERE CreatedDate = LAST_N_DAYS:7", []string{"mid", "new"}},
		{"SELECT Id FROM Case WHERE CreatedDate < LAST_N_DAYS:7", []string{"old"}},
		{"SELECT Id FROM Case WHERE CreatedDate > 2026-02-01T00:00:00Z", []string{"mid", "new"}},
		{"SELECT Id FROM Case WHERE ClosedDate != null", []string{"old"}},
		{"SELECT Id FROM Case WHERE Contact.Email = 'ANN@example.com'", []string{"old"}},
		{"SELECT Id FROM Case WHERE Account.Name LIKE 'Ac%'", []string{"old"}},
		{"SELECT Id FROM Contact WHERE Email LIKE 'bob\\_%'", []string{"bob"}},
		{"SELECT Id FROM Contact WHERE Email LIKE 'bob_%'", []string{"bob"}},
		{"SELECT Id FROM Contact WHERE AccountId = null", []string{"cat"}},
		{"SELECT Id FROM Contact WHERE AccountId = '" + "ACME15" + "'", []string{"ann"}},
		{"SELECT Id FROM Contact ORDER BY LastName DESC LIMIT 2", []string{"cat", "bob"}},
		{"SELECT Id FROM Contact ORDER BY Account.Name NULLS LAST", []string{"ann", "bob", "cat"}},
		{"SELECT Id FROM Contact ORDER BY Account.Name", []string{"cat", "ann", "bob"}},
		{"SELECT Id FROM Contact ORDER BY LastName LIMIT 2 OFFSET 1", []string{"bob", "cat"}},
	}
	for _, tt := range tests {
		t.Run(tt.soql, func(t *testing.T) {
			soql := strings.ReplaceAll(tt.soql, "ACME15", ids["acme"][:15])
			r := e.q(soql)
			if r.status != 200 {
				t.Fatalf("%d %v", r.status, r.body)
			}
			var want []string
			for _, k := range tt.want {
				want = append(want, ids[k])
			}
			if got := recordIDs(r.body); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if obj(r.body)["totalSize"] != float64(len(want)) || obj(r.body)["done"] != true {
				t.Errorf("totalSize/done: %v %v", obj(r.body)["totalSize"], obj(r.body)["done"])
			}
		})
	}
}

func TestQueryShapesAndErrors(t *testing.T) {
	e, ids := queryOrg(t, Options{})
	r := e.q("SELECT Id, Email, Account.Name FROM Contact ORDER BY LastName")
	recs := arr(obj(r.body)["records"])
	if len(recs) != 3 {
		t.Fatalf("%v", r.body)
	}
	first := obj(recs[0])
	if acct := obj(first["Account"]); acct["Name"] != "Acme" || obj(acct["attributes"])["type"] != "Account" {
		t.Errorf("parent relationship: %v", first)
	}
	if v, ok := obj(recs[2])["Account"]; !ok || v != nil {
		t.Errorf("contact without account: Account = %v (present %v), want null", v, ok)
	}
	// Canonical field names whatever the query's case.
	r = e.q("select id, subject from case where id = '" + ids["old"] + "'")
	if rec := obj(arr(obj(r.body)["records"])[0]); rec["Subject"] != "Old printer" {
		t.Errorf("canonical names: %v", rec)
	}
	r = e.q("SELECT COUNT() FROM Case WHERE Priority = 'High'")
	if obj(r.body)["totalSize"] != 2.0 || len(arr(obj(r.body)["records"])) != 0 {
		t.Errorf("count: %v", r.body)
	}
	r = e.q("SELECT COUNT(ContactId) withContact FROM Case")
	if recs := arr(obj(r.body)["records"]); len(recs) != 1 || obj(recs[0])["withContact"] != 2.0 || obj(obj(recs[0])["attributes"])["type"] != "AggregateResult" {
		t.Errorf("COUNT(field): %v", r.body)
	}
	if r := e.q("SELECT COUNT(Id) FROM Case WHERE Priority = 'High'"); obj(arr(obj(r.body)["records"])[0])["expr0"] != 2.0 {
		t.Errorf("COUNT(Id): %v", r.body)
	}
	for _, tc := range []struct{ soql, code string }{
		{"SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"},
		{"SELECT Nope FROM Case", "INVALID_FIELD"},
		{"SELECT Owner.Name FROM Case", "INVALID_FIELD"},
		{"SELECT Id FROM Nope__c", "INVALID_TYPE"},
		{"SELECT Id FROM Case WHERE CreatedDate > '2024-01-01'", "INVALID_FIELD"},
		{"SELECT Id FROM Case WHERE IsClosed = 'true'", "INVALID_FIELD"},
		{"SELECT Id FROM Case WHERE Subject = 5", "INVALID_FIELD"},
		{"SELECT Id FROM Case WHERE IsClosed LIKE 'x'", "INVALID_FIELD"},
	} {
		r := e.q(tc.soql)
		if r.status != 400 || errorCode(r.body) != tc.code {
			t.Errorf("%s: %d %v, want %s", tc.soql, r.status, r.body, tc.code)
		}
	}
}

func TestQueryPaginationAndQueryAll(t *testing.T) {
	e := newEnv(t, Options{PageSize: 2})
	for i := range 5 {
		e.mustCreate("Account", map[string]any{"Name": fmt.Sprintf("Acct %d", i)})
	}
	before := e.srv.Stats().APICalls
	r := e.q("SELECT Id, Name FROM Account ORDER BY Name")
	var names []string
	pages := 0
	for {
		pages++
		b := obj(r.body)
		if b["totalSize"] != 5.0 {
			t.Fatalf("totalSize %v", b["totalSize"])
		}
		for _, rec := range arr(b["records"]) {
			names = append(names, obj(rec)["Name"].(string))
		}
		if b["done"] == true {
			if _, ok := b["nextRecordsUrl"]; ok {
				t.Error("last page has nextRecordsUrl")
			}
			break
		}
		next := b["nextRecordsUrl"].(string)
		if !strings.HasPrefix(next, "/services/data/v62.0/query/01g") {
			t.Fatalf("nextRecordsUrl %q", next)
		}
		r = e.do("GET", next, nil)
	}
	if pages != 3 || strings.Join(names, ",") != "Acct 0,Acct 1,Acct 2,Acct 3,Acct 4" {
		t.Errorf("%d pages: %v", pages, names)
	}
	if calls := e.srv.Stats().APICalls - before; calls != 3 {
		t.Errorf("pagination used %d API calls, want 3", calls)
	}
	if r := e.do("GET", "/query/01gSm0000000999IAA-2", nil); r.status != 400 || errorCode(r.body) != "INVALID_QUERY_LOCATOR" {
		t.Errorf("bad locator: %d %v", r.status, r.body)
	}
	// queryAll includes the recycle bin.
	id := e.srv.Records("Account")[0]["Id"].(string)
	e.do("DELETE", "/sobjects/Account/"+id, nil)
	if n := obj(e.q("SELECT COUNT() FROM Account").body)["totalSize"]; n != 4.0 {
		t.Errorf("query after delete: %v", n)
	}
	r = e.do("GET", "/queryAll?q="+url.QueryEscape("SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true"), nil)
	if recs := arr(obj(r.body)["records"]); len(recs) != 1 || obj(recs[0])["Id"] != id {
		t.Errorf("queryAll: %v", r.body)
	}
}

func TestKnowledgeSearch(t *testing.T) {
	e := newEnv(t, Options{})
	mk := func(title, summary, body, status string) string {
		id := e.mustCreate("Knowledge__kav", map[string]any{"Title": title, "UrlName": strings.ReplaceAll(strings.ToLower(title), " ", "-"), "Summary": summary, "Body__c": body})
		e.srv.orgMu.Lock()
		e.srv.data.Records["Knowledge__kav"][id]["PublishStatus"] = status // publishing is not an API write
		e.srv.orgMu.Unlock()
		return id
	}
	reset := mk("Reset your password", "Forgot your password? Reset it.", "<p>Use the <b>forgot password</b> link.</p>", "Online")
	policy := mk("Password policy", "Rules for passwords", "<p>At least 12 characters.</p>", "Online")
	mk("Shipping times", "How long delivery takes", "<p>Three days.</p>", "Online")
	draft := mk("Reset password draft", "draft", "password reset", "Draft")

	r := e.do("GET", "/search/?q="+url.QueryEscape("FIND {reset password} IN ALL FIELDS RETURNING Knowledge__kav(Id, Title WHERE PublishStatus='Online' AND Language='en_US')"), nil)
	if r.status != 200 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	if got := ids(arr(obj(r.body)["searchRecords"])); fmt.Sprint(got) != fmt.Sprint([]string{reset}) {
		t.Errorf("AND search: %v, want [reset]", got)
	}
	r = e.do("GET", "/search/?q="+url.QueryEscape("FIND {password} RETURNING Knowledge__kav(Id, Title)"), nil)
	got := ids(arr(obj(r.body)["searchRecords"]))
	if len(got) != 2 || got[0] != reset && got[0] != policy {
		t.Errorf("default Online-only search: %v", got)
	}
	for _, id := range got {
		if id == draft {
			t.Error("draft article returned without a PublishStatus filter")
		}
	}
	// Relevance: "passwords policy" ranks the policy article first.
	r = e.do("POST", "/parameterizedSearch/", map[string]any{"q": "password OR policy", "in": "ALL", "fields": []string{"Id", "Title"},
		"sobjects": []any{map[string]any{"name": "Knowledge__kav", "where": "PublishStatus='Online' AND Language='en_US'", "limit": 5}}, "overallLimit": 5})
	got = ids(arr(obj(r.body)["searchRecords"]))
	if len(got) != 2 || got[0] != policy {
		t.Errorf("relevance order: %v, want policy first", got)
	}
	if rec := obj(arr(obj(r.body)["searchRecords"])[0]); rec["Title"] != "Password policy" || obj(rec["attributes"])["type"] != "Knowledge__kav" {
		t.Errorf("search record shape: %v", rec)
	}
	r = e.do("GET", "/parameterizedSearch/?q=shipping&sobject=Knowledge__kav&Knowledge__kav.fields=Id,Title&Knowledge__kav.limit=1", nil)
	if got := arr(obj(r.body)["searchRecords"]); len(got) != 1 || obj(got[0])["Title"] != "Shipping times" {
		t.Errorf("GET parameterizedSearch: %v", r.body)
	}
	for _, q := range []string{"FIND reset", "FIND {x}", "FIND {reset} RETURNING Nope__c"} {
		if r := e.do("GET", "/search/?q="+url.QueryEscape(q), nil); r.status != 400 {
			t.Errorf("%s: %d %v", q, r.status, r.body)
		}
	}
	// A phrase and a prefix.
	r = e.do("GET", "/search/?q="+url.QueryEscape(`FIND {"forgot password"} RETURNING Knowledge__kav(Id)`), nil)
	if got := ids(arr(obj(r.body)["searchRecords"])); fmt.Sprint(got) != fmt.Sprint([]string{reset}) {
		t.Errorf("phrase: %v", got)
	}
	r = e.do("GET", "/search/?q="+url.QueryEscape(`FIND {ship*} RETURNING Knowledge__kav(Id)`), nil)
	if got := arr(obj(r.body)["searchRecords"]); len(got) != 1 {
		t.Errorf("prefix: %v", got)
	}
}

func ids(recs []any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, obj(r)["Id"].(string))
	}
	return out
}

func TestQueryOrgRestrictions(t *testing.T) {
	e := newEnv(t, Options{})
	kav := e.mustCreate("Knowledge__kav", map[string]any{"Title": "T", "UrlName": "t"})
	tests := []struct {
		soql string
		code string // "" means 200
	}{
		{"SELECT Id FROM Knowledge__kav", "MALFORMED_QUERY"},
		{"SELECT Id FROM Knowledge__kav WHERE Title = 'T'", "MALFORMED_QUERY"},
		{"SELECT Id FROM Knowledge__kav WHERE PublishStatus = 'Online' OR Title = 'T'", "MALFORMED_QUERY"},
		{"SELECT Id FROM Knowledge__kav WHERE PublishStatus = 'Draft' AND Language = 'en_US'", ""},
		{"SELECT Id FROM Knowledge__kav WHERE Id = '" + kav + "'", ""},
		{"SELECT Id FROM Knowledge__kav WHERE Id IN ('" + kav + "')", ""},
		{"SELECT Id FROM Case WHERE Description = 'x'", "INVALID_FIELD"},
		{"SELECT Id FROM Case ORDER BY Description", "INVALID_FIELD"},
		{"SELECT Id FROM Case WHERE AI_Summary__c LIKE '%x%'", "INVALID_FIELD"},
	}
	for _, tt := range tests {
		r := e.q(tt.soql)
		if got := errorCode(r.body); got != tt.code || (tt.code == "" && r.status != 200) {
			t.Errorf("%s: %d %v, want %q", tt.soql, r.status, r.body, tt.code)
		}
	}
	if r := e.q("SELECT Id FROM Knowledge__kav WHERE PublishStatus = 'Draft'"); len(arr(obj(r.body)["records"])) != 1 {
		t.Errorf("draft article: %v", r.body)
	}
}

func TestQueryBatchSizeHeader(t *testing.T) {
	e := newEnv(t, Options{})
	for i := range 450 {
		e.srv.orgMu.Lock()
		tx := &txn{s: e.srv, d: e.srv.data, userID: e.srv.userID, now: e.clock.Now()}
		if _, errs := tx.create(e.srv.schema.object("Account"), map[string]any{"Name": fmt.Sprint("A", i)}); errs != nil {
			t.Fatal(errs[0])
		}
		e.srv.orgMu.Unlock()
	}
	r := e.do("GET", "/query?q="+url.QueryEscape("SELECT Id FROM Account"), nil, "Sforce-Query-Options", "batchSize=200")
	sizes := []int{len(arr(obj(r.body)["records"]))}
	for obj(r.body)["done"] == false {
		r = e.do("GET", obj(r.body)["nextRecordsUrl"].(string), nil)
		sizes = append(sizes, len(arr(obj(r.body)["records"])))
	}
	if fmt.Sprint(sizes) != "[200 200 50]" {
		t.Errorf("batches %v, want [200 200 50]", sizes)
	}
}
