package dedupe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestResolveContact(t *testing.T) {
	ctx := context.Background()
	cfg := Config{AlternateEmailFields: []string{"Secondary_Email__c"}, AlternateEmailWritable: true}
	e := newEnv(t, cfg, true)
	acme := e.sf.add("Account", map[string]any{"Name": "Acme", "Website": "https://www.acme.example"})
	globex := e.sf.add("Account", map[string]any{"Name": "Globex", "Website": "globex.example"})
	jane := e.sf.add("Contact", map[string]any{"Name": "Jane Roe", "Email": "Jane.Roe+work@Acme.example", "AccountId": acme})
	alt := e.sf.add("Contact", map[string]any{"Name": "Al Tern", "Email": "al@elsewhere.example", "Secondary_Email__c": "al@acme.example", "AccountId": acme})
	e.sf.add("Contact", map[string]any{"Name": "Twin", "Email": "twin@shared.example"})
	e.sf.add("Contact", map[string]any{"Name": "Twin Two", "Email": "TWIN@shared.example"})
	bob := e.sf.add("Contact", map[string]any{"Name": "Bob Müller", "Email": "bob@old.example", "AccountId": acme})
	e.sf.add("Contact", map[string]any{"Name": "Sam Lee", "Email": "sam1@globex.example", "AccountId": globex})
	e.sf.add("Contact", map[string]any{"Name": "Sam Lee", "Email": "sam2@globex.example", "AccountId": globex})

	tests := []struct {
		name, addr, display, asWritten string
		contact, account, source       string
		ambiguous, create              bool
	}{
		{"email, as written with tag", "jane.roe@acme.example", "Jane", "Jane.Roe+work@Acme.example", jane, acme, SourceEmail, false, false},
		{"alternate field", "al@acme.example", "", "", alt, acme, SourceAlternate, false, false},
		{"same address on two contacts", "twin@shared.example", "", "", "", "", "", true, false},
		{"domain and name (accents, order)", "bob@acme.example", "Muller, Bob", "", bob, acme, SourceAccountName, false, false},
		{"domain, two contacts with the name", "sam@globex.example", "Sam Lee", "", "", globex, "", true, false},
		{"domain, unknown name", "newbie@acme.example", "New Bie", "", "", acme, "", false, true},
		{"free mail never matches an account", "bob.muller@gmail.com", "Bob Müller", "", "", "", "", false, true},
		{"nothing", "x@nowhere.example", "", "", "", "", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.stage.ResolveContact(ctx, tt.addr, tt.display, tt.asWritten)
			if err != nil {
				t.Fatal(err)
			}
			if r.ContactID != tt.contact || r.AccountID != tt.account || r.Source != tt.source || r.Ambiguous != tt.ambiguous || (r.Create != nil) != tt.create {
				t.Fatalf("got %+v", r)
			}
			if tt.ambiguous && (len(r.Candidates) != 2 || r.Why == "") {
				t.Errorf("ambiguous without candidates and why: %+v", r)
			}
			if tt.create && (r.Create.Email != tt.addr || r.Create.AccountID != tt.account || r.Create.LastName == "") {
				t.Errorf("create: %+v", r.Create)
			}
		})
	}
	// The name match recorded the new address on Bob (alternate field writable).
	if len(e.sf.updates) != 1 || !strings.Contains(e.sf.updates[0], bob) || !strings.Contains(e.sf.updates[0], `"Secondary_Email__c":"bob@acme.example"`) {
		t.Errorf("updates: %v", e.sf.updates)
	}
	for _, q := range e.sf.queries {
		if strings.Contains(q, "gmail.com'") && strings.Contains(q, "FROM Account") {
			t.Errorf("free-mail domain looked up on Account: %s", q)
		}
	}

	// Cached: no query; after the TTL, asked again; a change polled drops it.
	n := len(e.sf.queries)
	if r, _ := e.stage.ResolveContact(ctx, "jane.roe@acme.example", "", ""); r.Source != SourceCache || len(e.sf.queries) != n {
		t.Fatalf("cache: %+v, %d new queries", r, len(e.sf.queries)-n)
	}
	e.clock.Advance(2 * time.Hour)
	if r, _ := e.stage.ResolveContact(ctx, "jane.roe@acme.example", "", ""); r.Source != SourceEmail {
		t.Fatalf("after TTL: %+v", r)
	}
	if r, _ := e.stage.ResolveContact(ctx, "jane.roe@acme.example", "", ""); r.Source != SourceCache {
		t.Fatalf("re-cached: %+v", r)
	}
	e.sf.mu.Lock()
	for _, c := range e.sf.objects["Contact"] {
		if c["Id"] == jane {
			c["Email"] = "jane@newjob.example"
			c["SystemModstamp"] = e.clock.Now().Format("2006-01-02T15:04:05.000+0000")
		}
	}
	e.sf.mu.Unlock()
	if err := e.stage.PollChanges(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := e.stage.ResolveContact(ctx, "jane.roe@acme.example", "Jane Roe", "")
	if err != nil {
		t.Fatal(err)
	}
	// Dropped by the poll, so resolved afresh: no longer by email, but by
	// name on the account of the sender's domain.
	if r.Source != SourceAccountName || r.ContactID != jane {
		t.Fatalf("after the poll: %+v", r)
	}
}

func TestEnsureContactConcurrent(t *testing.T) {
	e := newEnv(t, Config{}, true)
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Different spellings of one address.
			addr := fmt.Sprintf("New.Customer+%d@Example.COM", i)
			r, err := e.stage.ResolveContact(context.Background(), "new.customer@example.com", "New Customer", addr)
			if err != nil {
				errs[i] = err
				return
			}
			if r.ContactID != "" { // another goroutine finished first
				ids[i] = r.ContactID
				return
			}
			if r.Create == nil {
				errs[i] = fmt.Errorf("resolve: neither contact nor create: %+v", r)
				return
			}
			nc := *r.Create
			nc.Email = addr
			ids[i], errs[i] = e.stage.EnsureContact(context.Background(), nc)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("goroutine %d got %q, goroutine 0 %q", i, ids[i], ids[0])
		}
	}
	if c := e.sf.createCount(); c != 1 {
		t.Fatalf("%d contacts created, want 1", c)
	}
	if r, _ := e.stage.ResolveContact(context.Background(), "new.customer@example.com", "", ""); r.ContactID != ids[0] {
		t.Fatalf("after creation: %+v", r)
	}
}

func TestEnsureContactDuplicateRuleAndCrash(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{}, true)
	e.sf.dupRules = true
	// A contact our query cannot see but the org's fuzzy duplicate rule does.
	hidden := e.sf.add("Contact", map[string]any{"Email": "fuzzy@example.com", "_hidden": true})
	id, err := e.stage.EnsureContact(ctx, NewContact{Email: "fuzzy@example.com", LastName: "Fuzzy"})
	if err != nil || id != hidden || e.sf.createCount() != 0 {
		t.Fatalf("DUPLICATES_DETECTED: id %q (want %q), err %v, creates %d", id, hidden, err, e.sf.createCount())
	}

	// A creator crashed after Salesforce saved the contact but before
	// recording it: its claim expires, and the next creator finds the contact.
	if _, owned, err := e.st.DedupeClaimContact(ctx, "crash@example.com", "dead-worker", claimLease, e.clock.Now()); err != nil || !owned {
		t.Fatalf("claim: %v %v", owned, err)
	}
	saved := e.sf.add("Contact", map[string]any{"Email": "crash@example.com", "LastName": "Crash"})
	e.clock.Advance(claimLease + time.Second)
	id, err = e.stage.EnsureContact(ctx, NewContact{Email: "crash@example.com", LastName: "Crash"})
	if err != nil || id != saved || e.sf.createCount() != 0 {
		t.Fatalf("after crash: id %q (want %q), err %v, creates %d", id, saved, err, e.sf.createCount())
	}

	// Offline: no claim is left behind.
	off := newEnv(t, Config{}, false)
	if _, err := off.stage.EnsureContact(ctx, NewContact{Email: "a@b.example", LastName: "A"}); err == nil {
		t.Fatal("offline EnsureContact succeeded")
	}
	if row, ok, _ := off.st.DedupeContactByAddress(ctx, "a@b.example"); ok {
		t.Fatalf("claim left behind: %+v", row)
	}
}

func TestAccountContext(t *testing.T) {
	cfg := Config{Context: ContextConfig{TierField: "Tier__c", SensitiveFields: []string{"AnnualRevenue"}}}
	e := newEnv(t, cfg, true)
	acme := e.sf.add("Account", map[string]any{"Name": "Acme", "Tier__c": "Gold", "AnnualRevenue": 1e9, "Website": "acme.example"})
	e.sf.add("Contact", map[string]any{"Name": "Jane Roe", "Email": "jane@acme.example", "AccountId": acme})
	e.sf.add("Case", map[string]any{"AccountId": acme, "IsClosed": false, "Subject": "First"})
	e.sf.add("Case", map[string]any{"AccountId": acme, "IsClosed": true, "Subject": "Second"})
	_, r := e.process(email("ctx@acme.example", "Jane Roe <jane@acme.example>", "Help", ""))
	ac := r.AccountContext
	if ac == nil || ac.AccountName != "Acme" || ac.Tier != "Gold" || ac.OpenCases != 1 || len(ac.RecentSubjects) != 2 {
		t.Fatalf("context: %+v", ac)
	}
	countAccountReads := func() (n int) {
		for _, q := range e.sf.queries {
			if strings.Contains(q, "FROM Account WHERE Id =") {
				n++
			}
		}
		return n
	}
	before := countAccountReads()
	_, r2 := e.process(email("ctx2@acme.example", "Jane Roe <jane@acme.example>", "Help again", ""))
	if countAccountReads() != before || r2.AccountContext == nil || r2.AccountContext.Tier != "Gold" {
		t.Errorf("context not served from memory: %d → %d reads, %+v", before, countAccountReads(), r2.AccountContext)
	}
	e.clock.Advance(contextTTL + time.Second)
	e.process(email("ctx3@acme.example", "Jane Roe <jane@acme.example>", "Help a third time", ""))
	if countAccountReads() != before+1 {
		t.Errorf("context not re-read after %s", contextTTL)
	}
	for _, q := range e.sf.queries {
		if strings.Contains(q, "AnnualRevenue") {
			t.Errorf("sensitive field selected: %s", q)
		}
	}
}

// TestSOQLQuoting: hostile addresses and names never break out of a literal.
func TestSOQLQuoting(t *testing.T) {
	e := newEnv(t, Config{}, true)
	hostile := []string{`o'brien@acme.example`, `x\'@acme.example`, `a'OR'1'='1@acme.example`}
	for _, a := range hostile {
		if _, err := e.stage.ResolveContact(context.Background(), a, `Robert'); DROP`, a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, q := range e.sf.queries {
		if strings.Contains(q, "'1'='1") {
			t.Errorf("unescaped literal: %s", q)
		}
	}
}

func TestClaimContactComposite(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{}, true)
	existing, tok, owned, err := e.stage.ClaimContact(ctx, "New@Example.com")
	if err != nil || !owned || existing != "" || tok == "" {
		t.Fatalf("first claim: %q %q %v %v", existing, tok, owned, err)
	}
	if _, _, owned2, err := e.stage.ClaimContact(ctx, "new+x@example.com"); owned2 || !errors.Is(err, ErrContactPending) {
		t.Fatalf("second claim while the first is live: %v %v", owned2, err)
	}
	var temp interface{ Temporary() bool }
	if !errors.As(ErrContactPending, &temp) || !temp.Temporary() {
		t.Fatal("ErrContactPending must be temporary")
	}
	if err := e.stage.FinishContact(ctx, "new@example.com", tok, "003COMPOSITE", "", true); err != nil {
		t.Fatal(err)
	}
	if existing, _, owned, err := e.stage.ClaimContact(ctx, "NEW@example.com"); existing != "003COMPOSITE" || owned || err != nil {
		t.Fatalf("after finish: %q %v %v", existing, owned, err)
	}
	// A released claim can be taken again at once.
	_, tok, _, _ = e.stage.ClaimContact(ctx, "other@example.com")
	if err := e.stage.ReleaseContact(ctx, "other@example.com", tok); err != nil {
		t.Fatal(err)
	}
	if _, _, owned, err := e.stage.ClaimContact(ctx, "other@example.com"); !owned || err != nil {
		t.Fatalf("after release: %v %v", owned, err)
	}
}
