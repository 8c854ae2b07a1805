package dedupe

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

// simStage runs the stage against the emulated org over real HTTP with the
// real client: the SOQL dedupe writes must be accepted by a Salesforce parser.
func simStage(t *testing.T, cfg Config) (*env, *salesforce.Client) {
	t.Helper()
	org, err := sfsim.New(sfsim.Options{ClientID: "3MVG9dedupe", ClientSecret: "dedupe-secret"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	c, err := salesforce.New(context.Background(), salesforce.Config{LoginURL: srv.URL, Auth: salesforce.AuthConfig{
		Flow: salesforce.FlowClientCredentials, ClientID: "3MVG9dedupe", ClientSecret: "dedupe-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, cfg, false)
	e.stage = NewStage(cfg, e.st, c, nil, e.clock.Now)
	return e, c
}

func TestSimConcurrentContactCreation(t *testing.T) {
	e, c := simStage(t, Config{})
	ctx := context.Background()
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("Brand.New+%d@Customer.example", i)
			r, err := e.stage.ResolveContact(ctx, "brand.new@customer.example", "Brand New", addr)
			switch {
			case err != nil:
				errs[i] = err
			case r.ContactID != "":
				ids[i] = r.ContactID
			case r.Create == nil:
				errs[i] = fmt.Errorf("neither contact nor create: %+v", r)
			default:
				nc := *r.Create
				nc.Email = addr
				ids[i], errs[i] = e.stage.EnsureContact(ctx, nc)
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("goroutine %d got %q, goroutine 0 %q", i, ids[i], ids[0])
		}
	}
	var contacts []struct {
		ID    string `json:"Id"`
		Email string
	}
	if err := c.Query(ctx, "SELECT Id, Email FROM Contact WHERE Email = "+salesforce.QuoteSOQL("brand.new@customer.example"), &contacts); err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 1 || contacts[0].ID != ids[0] {
		t.Fatalf("contacts in the org: %+v", contacts)
	}
}

func TestSimResolveAndThread(t *testing.T) {
	e, c := simStage(t, Config{AlternateEmailFields: nil})
	ctx := context.Background()
	acc, err := c.Create(ctx, "Account", map[string]any{"Name": "Initech", "Website": "https://initech.example"})
	if err != nil {
		t.Fatal(err)
	}
	peter, err := c.Create(ctx, "Contact", map[string]any{"LastName": "Gibbons", "FirstName": "Peter", "Email": "peter@initech.example", "AccountId": acc})
	if err != nil {
		t.Fatal(err)
	}
	// Duplicate rule in the org: a second contact with Peter's address is refused
	// and EnsureContact uses the match.
	id, err := e.stage.EnsureContact(ctx, NewContact{Email: "peter@initech.example", LastName: "Gibbons"})
	if err != nil || id != peter {
		t.Fatalf("EnsureContact on an existing address: %q %v", id, err)
	}

	_, r := e.process(email("sim1@initech.example", "Peter Gibbons <peter@initech.example>", "TPS reports", ""))
	if r.Skip || r.ContactID != peter || r.AccountID != acc || r.ContactSource != SourceCache && r.ContactSource != SourceEmail {
		t.Fatalf("known contact: %+v", r)
	}
	if r.AccountContext == nil || r.AccountContext.AccountName != "Initech" {
		t.Errorf("account context: %+v", r.AccountContext)
	}
	_, r = e.process(email("sim2@initech.example", "Michael Bolton <michael@initech.example>", "Printer", ""))
	if r.CreateContact == nil || r.CreateContact.AccountID != acc || r.CreateContact.LastName != "Bolton" {
		t.Fatalf("new colleague: %+v", r)
	}
	// A reply through the token of a case known to the org only.
	key := ThreadKey("sim-old@initech.example")
	caseID, err := c.Create(ctx, "Case", map[string]any{"Subject": "Old", "Triage_Key__c": key, "ContactId": peter, "SuppliedEmail": "peter@initech.example"})
	if err != nil {
		t.Fatal(err)
	}
	_, r = e.process(email("sim3@initech.example", "peter@initech.example", "Re: Old [ref:T-"+key+"]", ""))
	if !r.IsReply || r.CaseID != caseID || r.MatchedBy != MatchToken {
		t.Fatalf("token of an org-only case: %+v", r)
	}
	// A reply to an agent's answer the org sent (only EmailMessage knows its id).
	if _, err := c.Create(ctx, "EmailMessage", map[string]any{"ParentId": caseID, "MessageIdentifier": "<agent-7@org.example>",
		"Subject": "Re: Old", "Incoming": false, "Status": "3"}); err != nil {
		t.Fatal(err)
	}
	_, r = e.process(email("sim4@initech.example", "peter@initech.example", "Re: Re: Old", "agent-7@org.example", "agent-7@org.example"))
	if !r.IsReply || r.CaseID != caseID || r.MatchedBy != MatchSalesforce {
		t.Fatalf("reply to an org email: %+v", r)
	}
	if err := e.stage.PollChanges(ctx); err != nil {
		t.Fatalf("poll: %v", err)
	}
}
