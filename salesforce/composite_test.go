package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCompositeMatchesDocumentedRequest(t *testing.T) {
	f := newFakeOrg(t)
	g := f.replay("composite_success")
	c := f.client()
	req := NewComposite(true)
	acc := req.Create("refAccount", "Account", map[string]any{"Name": "Sample Account"})
	con := req.Create("refContact", "Contact", map[string]any{"LastName": "Sample Contact", "AccountId": acc.ID()})
	cs := req.Upsert("refCase", "Case", "Triage_Key__c", "thr-7f3a", map[string]any{"Subject": "Printer on fire", "ContactId": con.ID()})
	num := req.Get("refCaseNumber", "Case", cs.ID(), "CaseNumber")
	resp, err := c.Composite(context.Background(), req, Critical())
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, f.requests()[0], g)
	sub, ok := resp.Get(cs)
	if !ok || sub.HTTPStatusCode != 201 {
		t.Fatalf("refCase = %+v", sub)
	}
	sr, err := sub.SaveResult()
	if err != nil || sr.ID != "500R0000004dBJ8IAM" || !sr.Created {
		t.Errorf("case save result = %+v, %v", sr, err)
	}
	nsub, _ := resp.Get(num)
	var cn struct{ CaseNumber string }
	if err := json.Unmarshal(nsub.Body, &cn); err != nil || cn.CaseNumber != "00001026" {
		t.Errorf("case number body = %s", nsub.Body)
	}
}

func TestCompositeAllOrNoneFailure(t *testing.T) {
	f := newFakeOrg(t)
	g := f.replay("composite_allornone_failure")
	c := f.client()
	req := NewComposite(true)
	acc := req.Create("NewAccount", "Account", map[string]any{"Name": "Sample Account"})
	req.Create("NewContact", "Contact", map[string]any{"LastName": "Sample Contact", "Email": "Not a real email address", "AccountId": acc.ID()})
	resp, err := c.Composite(context.Background(), req)
	checkRequest(t, f.requests()[0], g)
	if resp == nil || len(resp.CompositeResponse) != 2 {
		t.Fatalf("the full response must come back with the error, got %+v", resp)
	}
	var ce *CompositeError
	if !errors.As(err, &ce) || len(ce.Failures) != 2 {
		t.Fatalf("err = %v, want *CompositeError with 2 failures", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code() != "INVALID_EMAIL_ADDRESS" {
		t.Errorf("root cause = %v, want INVALID_EMAIL_ADDRESS (not PROCESSING_HALTED)", ae)
	}
	if !ce.Permanent() || ce.Temporary() {
		t.Error("invalid email must be permanent")
	}
	if !strings.Contains(err.Error(), "NewContact") || !strings.Contains(err.Error(), "INVALID_EMAIL_ADDRESS") {
		t.Errorf("message = %q", err.Error())
	}
	if sub, _ := resp.Get(acc); sub.Err() == nil || !HasErrorCode(sub.Err(), "PROCESSING_HALTED") {
		t.Errorf("NewAccount sub error = %v", sub.Err())
	}
}

func TestCompositeTransientRootCause(t *testing.T) {
	subs := []SubResponse{
		{ReferenceID: "a", HTTPStatusCode: 400, Body: []byte(`[{"errorCode":"PROCESSING_HALTED","message":"rolled back"}]`)},
		{ReferenceID: "b", HTTPStatusCode: 400, Body: []byte(`[{"errorCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access"}]`)},
	}
	err := compositeErr(subs)
	if ErrorKind(err) != KindTransient {
		t.Errorf("kind = %v, want transient from UNABLE_TO_LOCK_ROW", ErrorKind(err))
	}
}

func TestCompositeBuilderRefusesInvalidRequests(t *testing.T) {
	body := map[string]any{"Name": "x"}
	cases := map[string]func() *CompositeRequest{
		"empty": func() *CompositeRequest { return NewComposite(true) },
		"26 subrequests": func() *CompositeRequest {
			r := NewComposite(true)
			for i := range 26 {
				r.Create(fmt.Sprintf("r%d", i), "Account", body)
			}
			return r
		},
		"duplicate referenceId": func() *CompositeRequest {
			r := NewComposite(true)
			r.Create("a", "Account", body)
			r.Create("a", "Account", body)
			return r
		},
		"unknown reference in body": func() *CompositeRequest {
			r := NewComposite(true)
			r.Create("c", "Contact", map[string]any{"AccountId": Ref("ghost").ID()})
			return r
		},
		"forward reference": func() *CompositeRequest {
			r := NewComposite(true)
			r.Create("c", "Contact", map[string]any{"AccountId": Ref("a").ID()})
			r.Create("a", "Account", body)
			return r
		},
		"unknown reference in URL": func() *CompositeRequest {
			r := NewComposite(true)
			r.Create("a", "Account", body)
			r.Get("g", "Case", Ref("nope").ID())
			return r
		},
		"referenceId with punctuation": func() *CompositeRequest {
			r := NewComposite(true)
			r.Create("a.b", "Account", body)
			return r
		},
		"referenceId starting with a digit": func() *CompositeRequest {
			r := NewComposite(true)
			r.Create("1a", "Account", body)
			return r
		},
		"bad sObject name": func() *CompositeRequest {
			r := NewComposite(true)
			r.Create("a", "Account/../x", body)
			return r
		},
		"bad record id": func() *CompositeRequest {
			r := NewComposite(true)
			r.Update("a", "Account", "123", body)
			return r
		},
		"six queries": func() *CompositeRequest {
			r := NewComposite(false)
			for i := range 6 {
				r.Query(fmt.Sprintf("q%d", i), "SELECT Id FROM Account")
			}
			return r
		},
		"body that is not JSON": func() *CompositeRequest {
			r := NewComposite(false)
			r.Create("a", "Account", map[string]any{"x": make(chan int)})
			return r
		},
	}
	cfg := Config{LoginURL: "http://127.0.0.1:1", Auth: AuthConfig{Flow: FlowClientCredentials, ClientID: "a", ClientSecret: "b"}}
	c, err := New(context.Background(), cfg, WithHTTPClient(failDoer{t}))
	if err != nil {
		t.Fatal(err)
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			req := build()
			if req.Err() == nil {
				t.Fatal("builder accepted an invalid request")
			}
			_, err := c.Composite(context.Background(), req)
			var re *RequestError
			if !errors.As(err, &re) || !re.Permanent() {
				t.Errorf("Composite err = %v, want *RequestError", err)
			}
		})
	}
	// The valid boundary: 25 subrequests with 5 queries referencing earlier ones.
	ok := NewComposite(true)
	prev := ok.Create("r0", "Account", body)
	for i := 1; i < 20; i++ {
		prev = ok.Update(fmt.Sprintf("r%d", i), "Account", prev.ID(), body)
	}
	for i := range 5 {
		ok.Query(fmt.Sprintf("q%d", i), "SELECT Id FROM Contact WHERE AccountId = '"+prev.ID()+"'")
	}
	if err := ok.Err(); err != nil || ok.Len() != 25 {
		t.Errorf("valid 25-subrequest composite refused: %v (len %d)", err, ok.Len())
	}
}

func TestCompositeGraph(t *testing.T) {
	f := newFakeOrg(t)
	g := f.replay("composite_graph_success")
	c := f.client()
	gr := NewComposite(true)
	acc := gr.Create("reference_id_account_1", "Account", map[string]any{"Name": "Cloudy Consulting"})
	gr.Create("reference_id_contact_1", "Contact", map[string]any{"LastName": "Nguyen", "AccountId": acc.ID()})
	req := NewGraph()
	req.Add("1", gr)
	resp, err := c.CompositeGraph(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// The documented request uses trailing slashes on sobjects URLs; ours
	// do not. Compare everything else.
	got := strings.ReplaceAll(string(f.requests()[0].Body), `sobjects/Account"`, `sobjects/Account/"`)
	got = strings.ReplaceAll(got, `sobjects/Contact"`, `sobjects/Contact/"`)
	jsonEqual(t, []byte(got), g.Request.Body)
	if len(resp.Graphs) != 1 || !resp.Graphs[0].IsSuccessful || resp.Graphs[0].Err() != nil {
		t.Errorf("graphs = %+v", resp.Graphs)
	}
	if n := len(resp.Graphs[0].GraphResponse.CompositeResponse); n != 2 {
		t.Errorf("graph subresponses = %d", n)
	}
}

func TestGraphLimits(t *testing.T) {
	body := map[string]any{"Name": "x"}
	big := NewComposite(true)
	for i := range MaxGraphNodes + 1 {
		big.Create(fmt.Sprintf("n%d", i), "Account", body)
	}
	g := NewGraph()
	g.Add("big", big)
	if g.Err() == nil {
		t.Error("501-node graph accepted")
	}
	// 500 nodes in one graph is fine (no 25 cap inside graphs).
	ok := NewComposite(true)
	for i := range MaxGraphNodes {
		ok.Create(fmt.Sprintf("n%d", i), "Account", body)
	}
	g = NewGraph()
	g.Add("g1", ok)
	if err := g.Err(); err != nil {
		t.Errorf("500-node graph refused: %v", err)
	}
	// ... but not 500 more in a second graph of the same payload.
	g.Add("g2", ok)
	if g.Err() == nil {
		t.Error("1000 nodes in one payload accepted")
	}
	g = NewGraph()
	small := NewComposite(true)
	small.Create("a", "Account", body)
	g.Add("x", small)
	g.Add("x", small)
	if g.Err() == nil {
		t.Error("duplicate graphId accepted")
	}
}
