package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// checkRequest compares a recorded request with a golden request.
func checkRequest(t *testing.T, got recorded, g golden) {
	t.Helper()
	if got.Method != g.Request.Method || got.Path != g.Request.Path {
		t.Errorf("request = %s %s, want %s %s", got.Method, got.Path, g.Request.Method, g.Request.Path)
	}
	if got.Header.Get("Authorization") == "" || !strings.HasPrefix(got.Header.Get("Authorization"), "Bearer ") {
		t.Errorf("missing bearer token")
	}
	if got.Header.Get("Accept") != "application/json" {
		t.Errorf("Accept = %q", got.Header.Get("Accept"))
	}
	if len(g.Request.Body) > 0 {
		if ct := got.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		jsonEqual(t, got.Body, g.Request.Body)
	} else if len(got.Body) != 0 {
		t.Errorf("unexpected body %s", got.Body)
	}
}

func TestCreate(t *testing.T) {
	f := newFakeOrg(t)
	g := f.replay("create_201")
	c := f.client()
	id, err := c.Create(context.Background(), "Account", map[string]any{"Name": "Express Logistics and Transport"})
	if err != nil {
		t.Fatal(err)
	}
	if id != "001D000000IqhSLIAZ" {
		t.Errorf("id = %q", id)
	}
	checkRequest(t, f.requests()[0], g)
	if b := c.Budget(); b.Used != 18 || b.Max != 15000 || b.Calls != 1 {
		t.Errorf("budget = %+v", b)
	}
}

func TestUpdateDelete(t *testing.T) {
	f := newFakeOrg(t)
	gu := loadGolden(t, "update_204")
	gd := loadGolden(t, "delete_204")
	// golden paths use 15-char IDs; both are valid record IDs.
	f.handle(gu.Request.Method+" "+gu.Request.Path, writeGolden(gu))
	f.handle(gd.Request.Method+" "+gd.Request.Path, writeGolden(gd))
	c := f.client()
	if err := c.Update(context.Background(), "Account", "001D000000INjVe", map[string]string{"BillingCity": "San Francisco"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), "Account", "001D000000INjVe"); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	checkRequest(t, reqs[0], gu)
	checkRequest(t, reqs[1], gd)
}

func TestUpsertShapes(t *testing.T) {
	for _, tc := range []struct {
		golden      string
		wantID      string
		wantCreated bool
		wantErrCode string
	}{
		{"upsert_201_created", "00190000001pPvHAAU", true, ""},
		{"upsert_200_updated", "00190000001pPvHAAU", false, ""},
		{"upsert_204_updated_legacy", "", false, ""},
		{"upsert_300_multiple", "", false, "MULTIPLE_CHOICES"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			f := newFakeOrg(t)
			g := f.replay(tc.golden)
			cfg := f.config()
			if strings.Contains(g.Request.Path, "/v45.0/") {
				cfg.APIVersion = "45.0"
			}
			c := f.clientWith(cfg)
			var body map[string]any
			_ = json.Unmarshal(g.Request.Body, &body)
			res, err := c.Upsert(context.Background(), "Account", "customExtIdField__c", "11999", body)
			if tc.wantErrCode != "" {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Code() != tc.wantErrCode || !ae.Permanent() || len(ae.MultipleChoices) != 2 {
					t.Fatalf("err = %v, want permanent %s with 2 choices", err, tc.wantErrCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.ID != tc.wantID || res.Created != tc.wantCreated {
				t.Errorf("result = %+v, want id %q created %v", res, tc.wantID, tc.wantCreated)
			}
			checkRequest(t, f.requests()[0], g)
		})
	}
}

func TestUpsertEscapesExternalID(t *testing.T) {
	f := newFakeOrg(t)
	g := loadGolden(t, "upsert_201_created")
	f.handle("PATCH /services/data/v62.0/sobjects/Case/Triage_Key__c/a%2Fb%20c%3Fd", writeGolden(g))
	c := f.client()
	res, err := c.Upsert(context.Background(), "Case", "Triage_Key__c", "a/b c?d", map[string]string{"Subject": "x"})
	if err != nil || !res.Created {
		t.Fatalf("res=%+v err=%v", res, err)
	}
}

func TestInvalidNamesNeverReachTheNetwork(t *testing.T) {
	cfg := Config{LoginURL: "http://127.0.0.1:1", Auth: AuthConfig{Flow: FlowClientCredentials, ClientID: "a", ClientSecret: "b"}}
	c, err := New(context.Background(), cfg, WithHTTPClient(failDoer{t}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var dst map[string]any
	checks := []error{
		c.Get(ctx, "Account/../x", "001D000000INjVe", nil, &dst),
		c.Get(ctx, "Account", "001D000000INjVe/../../x", nil, &dst),
		c.Get(ctx, "Account", "001D000000INjVe", []string{"Name,(SELECT Id FROM Contacts)"}, &dst),
		c.Update(ctx, "Case", "nope", map[string]any{}),
		c.Delete(ctx, "Case?x=1", "500R0000004dBJ8IAM"),
	}
	_, e1 := c.Create(ctx, "Bad Name", map[string]any{})
	_, e2 := c.Upsert(ctx, "Case", "Key__c/x", "v", map[string]any{})
	_, e3 := c.Upsert(ctx, "Case", "Key__c", "", map[string]any{})
	checks = append(checks, e1, e2, e3)
	for i, err := range checks {
		var re *RequestError
		if !errors.As(err, &re) || !re.Permanent() {
			t.Errorf("check %d: err = %v, want *RequestError", i, err)
		}
	}
}

func TestGetRecord(t *testing.T) {
	f := newFakeOrg(t)
	g := f.replay("get_record")
	c := f.client()
	var acc struct {
		ID                string `json:"Id"`
		AccountNumber     string
		BillingPostalCode string
	}
	if err := c.Get(context.Background(), "Account", "001D000000INjVeIAH", []string{"AccountNumber", "BillingPostalCode"}, &acc); err != nil {
		t.Fatal(err)
	}
	if acc.AccountNumber != "CD656092" || acc.BillingPostalCode != "27215" {
		t.Errorf("acc = %+v", acc)
	}
	r := f.requests()[0]
	checkRequest(t, r, g)
	q, _ := url.ParseQuery(r.RawQuery)
	if q.Get("fields") != "AccountNumber,BillingPostalCode" {
		t.Errorf("fields = %q", q.Get("fields"))
	}
}

func TestQueryFollowsNextRecordsURL(t *testing.T) {
	f := newFakeOrg(t)
	p1 := loadGolden(t, "query_page1")
	f.handle("GET /services/data/v62.0/query/", writeGolden(p1))
	f.handle("GET /services/data/v62.0/queryAll/", writeGolden(p1))
	f.replay("query_page2")
	f.replay("query_page3")
	c := f.client()
	soql := "SELECT Id, Name FROM Account WHERE Name != " + QuoteSOQL("O'Brien & Co") + " ORDER BY Name"
	type acct struct {
		ID   string `json:"Id"`
		Name string
	}
	var got []acct
	if err := c.Query(context.Background(), soql, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"Acme", "Burlington Textiles", "Dickenson plc", "Edge Communications", "Express Logistics"}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i] || got[i].ID == "" {
			t.Errorf("record %d = %+v, want %s", i, got[i], want[i])
		}
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d, want 3 pages", len(reqs))
	}
	q, _ := url.ParseQuery(reqs[0].RawQuery)
	if q.Get("q") != soql {
		t.Errorf("q = %q, want %q", q.Get("q"), soql)
	}
	if reqs[1].Path != "/services/data/v62.0/query/01gD0000002HU6KIAW-2" || reqs[2].Path != "/services/data/v62.0/query/01gD0000002HU6KIAW-4" {
		t.Errorf("pages fetched: %s, %s", reqs[1].Path, reqs[2].Path)
	}

	// Maps work too, and QueryAll uses the queryAll resource.
	var maps []map[string]any
	if err := c.QueryAll(context.Background(), "SELECT Id FROM Account", &maps); err != nil {
		t.Fatal(err)
	}
	if len(maps) != 5 || maps[4]["Name"] != "Express Logistics" {
		t.Errorf("maps = %v", maps)
	}
	if reqs := f.requests(); reqs[3].Path != "/services/data/v62.0/queryAll/" {
		t.Errorf("QueryAll path = %s", reqs[3].Path)
	}

	// QueryEach stops at the callback's error.
	stop := errors.New("stop")
	n := 0
	err := c.QueryEach(context.Background(), "SELECT Id FROM Account", func(json.RawMessage) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("QueryEach err=%v n=%d", err, n)
	}
}

func TestQueryRefusesForeignNextRecordsURL(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /services/data/v62.0/query/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"totalSize":3,"done":false,"nextRecordsUrl":"https://evil.example.com/services/data/v62.0/query/x-2","records":[{"Id":"a"}]}`))
	})
	c := f.client()
	var got []map[string]any
	err := c.Query(context.Background(), "SELECT Id FROM Account", &got)
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want refusal", err)
	}
	if len(f.requests()) != 1 {
		t.Error("followed a foreign nextRecordsUrl")
	}
}

func TestQueryParentRelationshipAndCount(t *testing.T) {
	f := newFakeOrg(t)
	f.replay("query_parent_relationship")
	f.handle("GET /services/data/v62.0/queryAll/", writeGolden(loadGolden(t, "query_count")))
	c := f.client()
	var got []struct {
		ID      string `json:"Id"`
		Email   string
		Account *struct{ Name string }
	}
	soql := MustBuildSOQL("SELECT Id, Email, Account.Name FROM Contact WHERE Email = ?", "ann@example.com")
	if err := c.Query(context.Background(), soql, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Account == nil || got[0].Account.Name != "Acme" || got[1].Account != nil {
		t.Errorf("got = %+v", got)
	}
	if q, _ := url.ParseQuery(f.requests()[0].RawQuery); q.Get("q") != "SELECT Id, Email, Account.Name FROM Contact WHERE Email = 'ann@example.com'" {
		t.Errorf("q = %q", q.Get("q"))
	}
	n, err := c.queryPages(context.Background(), "queryAll", "SELECT COUNT() FROM Case", func(json.RawMessage) error { return nil })
	if err != nil || n != 42 {
		t.Errorf("count = %d, %v", n, err)
	}
}

func TestDescribeCachedAndInvalidated(t *testing.T) {
	f := newFakeOrg(t)
	f.replay("describe_case")
	c := f.client()
	ctx := context.Background()
	d, err := c.Describe(ctx, "Case")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Describe(ctx, "case"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("describe requests = %d, want 1 (cached)", n)
	}
	key, ok := d.Field("triage_key__c")
	if !ok || !key.ExternalID || !key.Unique || key.Length != 64 {
		t.Errorf("Triage_Key__c = %+v", key)
	}
	pri, _ := d.Field("Priority")
	if len(pri.PicklistValues) != 3 || pri.PicklistValues[0].Value != "High" || !pri.PicklistValues[0].Active {
		t.Errorf("Priority picklist = %+v", pri.PicklistValues)
	}
	if se, _ := d.Field("SuppliedEmail"); !se.Createable || se.Updateable {
		t.Errorf("SuppliedEmail = %+v", se)
	}
	c.InvalidateDescribe("Case")
	if _, err := c.Describe(ctx, "Case"); err != nil {
		t.Fatal(err)
	}
	c.InvalidateDescribe("")
	if _, err := c.Describe(ctx, "Case"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("describe requests = %d, want 3 after two invalidations", n)
	}
}

func TestLimitsFeedBudget(t *testing.T) {
	f := newFakeOrg(t)
	g := loadGolden(t, "limits")
	delete(g.Response.Headers, "Sforce-Limit-Info")
	f.handle("GET /services/data/v62.0/limits/", writeGolden(g))
	c := f.client()
	l, err := c.Limits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if l["DailyApiRequests"] != (Limit{Max: 15000, Remaining: 14963}) {
		t.Errorf("DailyApiRequests = %+v", l["DailyApiRequests"])
	}
	if b := c.Budget(); b.Used != 37 || b.Max != 15000 {
		t.Errorf("budget = %+v", b)
	}
}

func TestSearchAndParameterizedSearch(t *testing.T) {
	f := newFakeOrg(t)
	f.replay("search_sosl")
	g := f.replay("search_parameterized")
	c := f.client()
	type art struct {
		ID    string `json:"Id"`
		Title string
	}
	var got []art
	sosl := "FIND " + QuoteSOSL("reset password") + " IN ALL FIELDS RETURNING Knowledge__kav(Id, Title)"
	if err := c.Search(context.Background(), sosl, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Title != "How to reset your password" {
		t.Errorf("search = %+v", got)
	}
	got = nil
	err := c.ParameterizedSearch(context.Background(), ParameterizedSearch{
		Q: "reset password", In: "ALL", Fields: []string{"Id", "Title"},
		SObjects:     []SearchSObject{{Name: "Knowledge__kav", Where: "PublishStatus=" + QuoteSOQL("Online") + " AND Language=" + QuoteSOQL("en_US"), Limit: 5}},
		OverallLimit: 5,
	}, &got)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "ka0D00000004CcQIAU" {
		t.Errorf("parameterizedSearch = %+v", got)
	}
	checkRequest(t, f.requests()[1], g)
}

func TestVersions(t *testing.T) {
	f := newFakeOrg(t)
	f.replay("versions")
	c := f.client()
	vs, err := c.Versions(context.Background())
	if err != nil || len(vs) != 3 || vs[2].Version != "62.0" {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
}

func TestGetByExternalIDAndCall(t *testing.T) {
	f := newFakeOrg(t)
	g := loadGolden(t, "get_record")
	f.handle("GET /services/data/v62.0/sobjects/Case/Triage_Key__c/thr%2F1", writeGolden(g))
	f.handle("POST /services/data/v62.0/sobjects/Case/500R0000004dBJ8IAM/CaseComments", writeGolden(loadGolden(t, "create_201")))
	c := f.client()
	ctx := context.Background()
	var rec map[string]any
	if err := c.GetByExternalID(ctx, "Case", "Triage_Key__c", "thr/1", []string{"Id"}, &rec); err != nil || rec["Id"] != "001D000000INjVeIAH" {
		t.Fatalf("rec = %v, %v", rec, err)
	}
	var sr SaveResult
	if err := c.Call(ctx, http.MethodPost, "sobjects/Case/500R0000004dBJ8IAM/CaseComments", nil, map[string]string{"CommentBody": "x"}, &sr); err != nil || !sr.Success {
		t.Fatalf("call = %+v, %v", sr, err)
	}
	for _, p := range []string{"/services/data/x", "../x", "sobjects?x=1"} {
		var re *RequestError
		if err := c.Call(ctx, http.MethodGet, p, nil, nil, nil); !errors.As(err, &re) {
			t.Errorf("Call(%q) = %v, want refusal", p, err)
		}
	}
}

func TestUpsertRefusesKeyInBody(t *testing.T) {
	cfg := Config{LoginURL: "http://127.0.0.1:1", Auth: AuthConfig{Flow: FlowClientCredentials, ClientID: "a", ClientSecret: "b"}}
	c, err := New(context.Background(), cfg, WithHTTPClient(failDoer{t}))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []any{
		map[string]any{"Triage_Key__c": "k", "Subject": "x"},
		map[string]any{"triage_key__c": "k"},
		map[string]any{"Id": "500R0000004dBJ8IAM"},
		[]string{"not an object"},
	} {
		var re *RequestError
		if _, err := c.Upsert(context.Background(), "Case", "Triage_Key__c", "k", body); !errors.As(err, &re) {
			t.Errorf("Upsert(%v) = %v, want refusal", body, err)
		}
		req := NewComposite(true)
		req.Upsert("c", "Case", "Triage_Key__c", "k", body)
		if req.Err() == nil {
			t.Errorf("composite upsert with %v accepted", body)
		}
	}
}
