package sfsim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestDailyAPILimit(t *testing.T) {
	e := newEnv(t, Options{DailyAPILimit: 3})
	for i := 1; i <= 3; i++ {
		r := e.do("GET", "/limits", nil)
		if r.status != 200 || r.header.Get("Sforce-Limit-Info") != fmt.Sprintf("api-usage=%d/3", i) {
			t.Fatalf("call %d: %d %q", i, r.status, r.header.Get("Sforce-Limit-Info"))
		}
		if i == 3 {
			d := obj(obj(r.body)["DailyApiRequests"])
			if d["Max"] != 3.0 || d["Remaining"] != 0.0 {
				t.Errorf("DailyApiRequests %v", d)
			}
		}
	}
	r := e.do("POST", "/sobjects/Account", map[string]any{"Name": "over"})
	if r.status != 403 || errorCode(r.body) != "REQUEST_LIMIT_EXCEEDED" || r.header.Get("Sforce-Limit-Info") != "api-usage=4/3" {
		t.Fatalf("over limit: %d %v %q", r.status, r.body, r.header.Get("Sforce-Limit-Info"))
	}
	if len(e.srv.Records("Account")) != 0 {
		t.Error("a refused call wrote")
	}
	st := e.srv.Stats()
	if st.APICalls != 3 || st.LimitRejections != 1 || st.ByEndpoint["GET /limits"] != 3 {
		t.Errorf("stats %+v", st)
	}
	// The allocation resets with the (injected) day.
	e.clock.Add(24 * time.Hour)
	e.token = e.login() // the 2h session expired overnight
	if r := e.do("GET", "/limits", nil); r.status != 200 || r.header.Get("Sforce-Limit-Info") != "api-usage=1/3" {
		t.Errorf("next day: %d %q", r.status, r.header.Get("Sforce-Limit-Info"))
	}
}

func TestFaultKinds(t *testing.T) {
	e := newEnv(t, Options{MaxHang: time.Millisecond})
	tests := []struct {
		kind   string
		status int
		code   string
	}{
		{"SERVER_UNAVAILABLE", 503, "SERVER_UNAVAILABLE"},
		{"UNABLE_TO_LOCK_ROW", 400, "UNABLE_TO_LOCK_ROW"},
		{"REQUEST_LIMIT_EXCEEDED", 403, "REQUEST_LIMIT_EXCEEDED"},
		{"INVALID_SESSION_ID", 401, "INVALID_SESSION_ID"},
		{"UNKNOWN_EXCEPTION", 500, "UNKNOWN_EXCEPTION"},
		{"BAD_GATEWAY", 502, ""},
		{"timeout", 504, ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			e.srv.SetFaults(Faults{ErrorRate: 1, Errors: []string{tt.kind}})
			before := e.srv.Stats()
			r := e.do("POST", "/sobjects/Account", map[string]any{"Name": "x"})
			if r.status != tt.status || errorCode(r.body) != tt.code {
				t.Fatalf("%d %v, want %d %s", r.status, r.body, tt.status, tt.code)
			}
			after := e.srv.Stats()
			counted := int64(0)
			if tt.kind == "UNABLE_TO_LOCK_ROW" {
				counted = 1 // the org processed the call; other faults never reach it
			}
			if after.FaultsInjected != before.FaultsInjected+1 || after.APICalls != before.APICalls+counted {
				t.Errorf("fault accounting: %+v -> %+v", before, after)
			}
		})
	}
	e.srv.SetFaults(Faults{ErrorRate: 1, Errors: []string{"UNABLE_TO_LOCK_ROW"}})
	if r := e.do("GET", "/limits", nil); r.status != 200 {
		t.Errorf("lock contention on a read: %d", r.status)
	}
	if len(e.srv.Records("Account")) != 0 {
		t.Error("a faulted call wrote")
	}
	// A partial error rate fails some calls and lets others through.
	e.srv.SetFaults(Faults{ErrorRate: 0.3, Errors: []string{"SERVER_UNAVAILABLE"}})
	failed := 0
	for range 100 {
		if e.do("GET", "/limits", nil).status == 503 {
			failed++
		}
	}
	if failed == 0 || failed == 100 {
		t.Errorf("error_rate 0.3: %d/100 failed", failed)
	}
	e.srv.SetFaults(Faults{LatencyMS: 1})
	if r := e.do("GET", "/limits", nil); r.status != 200 {
		t.Errorf("latency only: %d", r.status)
	}
}

func TestFaultsAdminAndOutage(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do("POST", "/_sfsim/faults", `{"error_rate":0.2,"errors":["SERVER_UNAVAILABLE","UNABLE_TO_LOCK_ROW","REQUEST_LIMIT_EXCEEDED","timeout"],"latency_ms":0,"outage_seconds":120}`)
	if r.status != 200 || obj(r.body)["outage_until"] == nil {
		t.Fatalf("set faults: %d %v", r.status, r.body)
	}
	r = e.do("GET", "/_sfsim/faults", nil)
	if b := obj(r.body); b["error_rate"] != 0.2 || len(arr(b["errors"])) != 4 || b["outage_seconds"] != 120.0 {
		t.Errorf("get faults: %v", b)
	}
	if r := e.do("GET", "/limits", nil); r.status != 503 || errorCode(r.body) != "SERVER_UNAVAILABLE" {
		t.Errorf("during outage: %d %v", r.status, r.body)
	}
	if status, _ := e.form("/services/oauth2/token", nil); status != 503 {
		t.Errorf("token endpoint during outage: %d", status)
	}
	e.clock.Add(121 * time.Second)
	e.do("DELETE", "/_sfsim/faults", nil)
	if r := e.do("GET", "/limits", nil); r.status != 200 {
		t.Errorf("after outage: %d", r.status)
	}
	for _, bad := range []string{`{"error_rate":2}`, `{"errors":["EXPLODE"]}`, `{"latency_ms":-1}`, `not json`} {
		if r := e.do("POST", "/_sfsim/faults", bad); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
	r = e.do("GET", "/_sfsim/stats", nil)
	if b := obj(r.body); b["api_calls"] != 1.0 || obj(b["by_endpoint"])["GET /limits"] != 1.0 || b["faults_injected"] != 2.0 {
		t.Errorf("stats: %v", b)
	}
	if _, err := New(Options{Faults: Faults{Errors: []string{"nope"}}}); err == nil {
		t.Error("New accepted an unknown fault")
	}
}

func TestPersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "org.json")
	e := newEnv(t, Options{Seed: "demo", DataFile: file})
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("data file not written at start: %v", err)
	}
	id := e.mustCreate("Case", map[string]any{"Subject": "survives a restart", "AI_Confidence__c": 87.5})
	n1 := e.srv.Records("Case")
	deleted := e.mustCreate("Account", map[string]any{"Name": "gone"})
	e.do("DELETE", "/sobjects/Account/"+deleted, nil)

	e2 := newEnv(t, Options{Seed: "empty", DataFile: file}) // the file wins over the seed
	r := e2.do("GET", "/sobjects/Case/"+id, nil)
	if r.status != 200 || obj(r.body)["Subject"] != "survives a restart" || obj(r.body)["AI_Confidence__c"] != 87.5 {
		t.Fatalf("after restart: %d %v", r.status, r.body)
	}
	if r := e2.do("GET", "/sobjects/Account/"+deleted, nil); errorCode(r.body) != "ENTITY_IS_DELETED" {
		t.Errorf("recycle bin lost: %v", r.body)
	}
	id2 := e2.mustCreate("Case", map[string]any{"Subject": "next"})
	cases := e2.srv.Records("Case")
	if id2 == id || cases[len(cases)-1]["CaseNumber"].(string) <= n1[len(n1)-1]["CaseNumber"].(string) {
		t.Errorf("sequences not persisted: %s %v", id2, cases[len(cases)-1]["CaseNumber"])
	}
	if err := os.WriteFile(file, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{DataFile: file}); err == nil {
		t.Error("corrupt data file accepted")
	}
}

func TestDemoSeed(t *testing.T) {
	e := newEnv(t, Options{Seed: "demo"})
	accts := e.srv.Records("Account")
	contacts := e.srv.Records("Contact")
	if len(accts) < 2 || len(contacts) < 2 {
		t.Fatalf("demo seed: %d accounts, %d contacts", len(accts), len(contacts))
	}
	// Seeded records are queryable through relationships like any other.
	r := e.q("SELECT Id, Name, Account.Name FROM Contact WHERE Email = 'hank@globex.example'")
	if recs := arr(obj(r.body)["records"]); len(recs) != 1 || obj(obj(recs[0])["Account"])["Name"] != "Globex Logistics" {
		t.Errorf("seeded contact: %v", r.body)
	}
	// The issue asks for a realistic demo org: 30+ published articles, open
	// and closed cases.
	r = e.q("SELECT COUNT() FROM Knowledge__kav WHERE PublishStatus = 'Online'")
	if n := obj(r.body)["totalSize"]; n.(float64) < 30 {
		t.Errorf("demo org has %v published articles, want 30+", n)
	}
	open, closed := 0, 0
	for _, c := range e.srv.Records("Case") {
		if c["IsClosed"] == true {
			closed++
		} else {
			open++
		}
	}
	if open == 0 || closed == 0 {
		t.Errorf("demo org has %d open and %d closed cases", open, closed)
	}
	if _, err := New(Options{Seed: "bogus"}); err == nil {
		t.Error("unknown seed accepted")
	}
}

func TestSeedLoaderChecks(t *testing.T) {
	acct := makeID("001", 5)
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"cross-file reference in name order", map[string]string{
			"s/b.json": `{"Contact":[{"Id":"` + makeID("003", 5) + `","LastName":"X","AccountId":"` + acct + `"}]}`,
			"s/a.json": `{"Account":[{"Id":"` + acct + `","Name":"A"}]}`}, ""},
		{"unknown object", map[string]string{"s/a.json": `{"Nope":[]}`}, "unknown object"},
		{"unknown field", map[string]string{"s/a.json": `{"Account":[{"Id":"` + acct + `","Name":"A","Typo":"x"}]}`}, "unknown field Typo"},
		{"wrong prefix", map[string]string{"s/a.json": `{"Account":[{"Id":"` + makeID("003", 5) + `","Name":"A"}]}`}, "not an ID of Account"},
		{"dangling reference", map[string]string{"s/a.json": `{"Contact":[{"Id":"` + makeID("003", 5) + `","LastName":"X","AccountId":"` + acct + `"}]}`}, "invalid cross reference"},
		{"bad picklist", map[string]string{"s/a.json": `{"Case":[{"Id":"` + makeID("500", 5) + `","Status":"Bogus"}]}`}, "restricted picklist"},
		{"missing required", map[string]string{"s/a.json": `{"Contact":[{"Id":"` + makeID("003", 5) + `"}]}`}, "LastName"},
		{"duplicate id", map[string]string{"s/a.json": `{"Account":[{"Id":"` + acct + `","Name":"A"},{"Id":"` + acct + `","Name":"B"}]}`}, "duplicate Id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			fsys := fstest.MapFS{}
			for name, content := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(content)}
			}
			err = s.loadSeed(fsys, "s")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestConcurrentWrites(t *testing.T) {
	e := newEnv(t, Options{})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := e.do("PATCH", fmt.Sprintf("/sobjects/Case/Triage_Key__c/w%d-%d", w, i), map[string]any{"Subject": "concurrent"})
				if r.status != 201 {
					errs <- fmt.Sprint(r.status, r.body)
				}
				if q := e.q("SELECT COUNT() FROM Case"); q.status != 200 {
					errs <- fmt.Sprint(q.status)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	cases := e.srv.Records("Case")
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c["Id"].(string)] || seen[c["CaseNumber"].(string)] {
			t.Fatalf("duplicate id or case number: %v", c)
		}
		seen[c["Id"].(string)], seen[c["CaseNumber"].(string)] = true, true
	}
	if len(cases) != workers*each || e.srv.Stats().APICalls != 2*workers*each {
		t.Errorf("%d cases, %d calls", len(cases), e.srv.Stats().APICalls)
	}
}
