package cases

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// reviewCase runs a new email through the stage against the emulator and
// returns the stored message and the stage's result.
func reviewCase(t *testing.T, e *env, s *Stage, in Input) (store.Message, Result) {
	t.Helper()
	ctx := context.Background()
	e.nextID++
	res, err := e.st.RecordMessage(ctx, store.NewMessage{Mailbox: "support", Folder: "INBOX", UIDValidity: 1, UID: uint32(e.nextID),
		Raw: []byte("Subject: x\r\n\r\nx"), SHA256: strings.Repeat("0", 60) + string(rune('a'+e.nextID%26)) + "000",
		MessageID: in.Parsed.MessageID, Subject: in.Parsed.Subject, From: "Ann Customer <" + in.Parsed.From.Addr + ">", State: store.StateReceived})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.st.Message(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Process(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

// lastAudit is the newest audit row of a message; it checks the chain.
func lastAudit(t *testing.T, e *env, s *Stage, msgID int64) (store.CasesAuditEntry, int) {
	t.Helper()
	ctx := context.Background()
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	rows, err := e.st.CasesAudit(ctx, store.CasesAuditFilter{MessageID: msgID})
	if err != nil || len(rows) == 0 {
		t.Fatalf("audit rows: %d, %v", len(rows), err)
	}
	return rows[len(rows)-1], len(rows)
}

func checkCase(t *testing.T, c map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if c[k] != v {
			t.Errorf("Case.%s = %#v, want %#v", k, c[k], v)
		}
	}
}

func TestReviewCorrect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	in := newEmail("ann@customer.example", "rc1@customer.example", "Refund please")
	// The classifier was not trusted with Priority: the stage left it alone.
	in.Classify.Automation = map[string]classify.Level{}
	m, r := reviewCase(t, e, s, in)
	if c := e.record("Case", r.CaseID); c["Priority"] == "High" || c["IsEscalated"] == true {
		t.Fatalf("precondition: %v", c)
	}

	tests := []struct {
		name string
		c    Correction
		want map[string]any
	}{
		{"escalate", Correction{Category: "BILLING", Priority: "urgent", Escalate: true, EscalationReason: "VIP customer", Note: "wrong queue", Actor: "alice"},
			map[string]any{"AI_Category__c": "BILLING", "Priority": "High", "AI_Priority__c": "urgent", "IsEscalated": true,
				"Status": "Escalated", "AI_Escalation_Reason__c": "VIP customer"}},
		// Taking the escalation back returns the case the app escalated to working.
		{"de-escalate", Correction{Category: "REFUND", Priority: "low", Actor: "bob"},
			map[string]any{"AI_Category__c": "REFUND", "Priority": "Low", "AI_Priority__c": "low", "IsEscalated": false, "Status": "Working"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, nBefore := lastAudit(t, e, s, m.ID)
			before := e.calls()
			tc.c.MessageID = m.ID
			if err := s.Correct(ctx, tc.c); err != nil {
				t.Fatal(err)
			}
			if got := e.calls() - before; got != 1 {
				t.Errorf("%d API calls, want 1", got)
			}
			checkCase(t, e.record("Case", r.CaseID), tc.want)
			a, n := lastAudit(t, e, s, m.ID)
			if n != nBefore+1 || a.Action != "update" || a.SObject != "Case" || a.RecordID != r.CaseID || a.Result != "ok" ||
				a.Agent != tc.c.Actor+" via triage" || a.IntegrationUser != "triage@example.com" || !strings.Contains(a.Detail, tc.c.Note) ||
				!strings.Contains(string(a.Fields), `"AI_Priority__c":"`+tc.c.Priority+`"`) {
				t.Errorf("audit row %d (was %d): %+v fields %s", n, nBefore, a, a.Fields)
			}
		})
	}
}

func TestReviewCloseReopen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{Status: StatusValues{Working: "Working"}})
	m, r := reviewCase(t, e, s, newEmail("ann@customer.example", "rc2@customer.example", "Printer"))
	steps := []struct {
		name   string
		do     func() error
		status string
		closed bool
	}{
		{"close", func() error { return s.CloseCase(ctx, m.ID, "answered by phone", "alice") }, "Closed", true},
		{"reopen", func() error { return s.ReopenCase(ctx, m.ID, "alice") }, "Working", false},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		c := e.record("Case", r.CaseID)
		if c["Status"] != st.status || c["IsClosed"] != st.closed {
			t.Errorf("%s: Status %v IsClosed %v", st.name, c["Status"], c["IsClosed"])
		}
		a, _ := lastAudit(t, e, s, m.ID)
		if a.Result != "ok" || a.RecordID != r.CaseID || a.Agent != "alice via triage" || !strings.Contains(string(a.Fields), st.status) {
			t.Errorf("%s: audit %+v", st.name, a)
		}
		if tc, ok, err := e.st.CasesTouchedCase(ctx, r.CaseID); err != nil || !ok || tc.Status != st.status || tc.IsClosed != st.closed {
			t.Errorf("%s: touched %+v %v %v", st.name, tc, ok, err)
		}
	}
	if a, _ := lastAudit(t, e, s, m.ID); strings.Contains(a.Detail, "phone") {
		t.Errorf("reopen detail carries the close reason: %q", a.Detail)
	}
	rows, _ := e.st.CasesAudit(ctx, store.CasesAuditFilter{MessageID: m.ID})
	if !strings.Contains(rows[len(rows)-2].Detail, "answered by phone") {
		t.Errorf("close reason not in the audit trail: %q", rows[len(rows)-2].Detail)
	}
}

func TestReviewPickContact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	m, r := reviewCase(t, e, s, newEmail("ann@customer.example", "rc3@customer.example", "Which Ann?"))
	acct, err := e.sf.Create(ctx, "Account", map[string]any{"Name": "Customer Ltd"})
	if err != nil {
		t.Fatal(err)
	}
	right, err := e.sf.Create(ctx, "Contact", map[string]any{"LastName": "Customer", "FirstName": "Ann", "Email": "ann.customer@customer.example", "AccountId": acct})
	if err != nil {
		t.Fatal(err)
	}
	// Refused before anything is written or recorded.
	_, nBefore := lastAudit(t, e, s, m.ID)
	for _, bad := range []string{"", "not-an-id", r.CaseID, "003000000000999AAA"} {
		err := s.PickContact(ctx, m.ID, bad, "alice")
		var p interface{ Permanent() bool }
		if !errors.As(err, &p) || !p.Permanent() {
			t.Errorf("PickContact(%q) = %v, want a permanent error", bad, err)
		}
	}
	if _, n := lastAudit(t, e, s, m.ID); n != nBefore {
		t.Errorf("refused picks wrote %d audit rows", n-nBefore)
	}

	if err := s.PickContact(ctx, m.ID, right, "alice"); err != nil {
		t.Fatal(err)
	}
	checkCase(t, e.record("Case", r.CaseID), map[string]any{"ContactId": right, "AccountId": acct})
	a, _ := lastAudit(t, e, s, m.ID)
	if a.Result != "ok" || a.Agent != "alice via triage" || !strings.Contains(string(a.Fields), right) || !strings.Contains(a.Detail, "ann@customer.example") {
		t.Errorf("audit %+v fields %s", a, a.Fields)
	}
	link, ok, err := e.st.DedupeContactByAddress(ctx, "ann@customer.example")
	if err != nil || !ok || link.ContactID != right || link.AccountID != acct || link.Source != "review" {
		t.Errorf("dedupe link %+v ok %v err %v", link, ok, err)
	}
}

func TestReviewDryRunRecordsOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{DryRun: true})
	m, _ := reviewCase(t, e, s, newEmail("ann@customer.example", "rc4@customer.example", "Shadow"))
	before := e.calls()
	if err := s.Correct(ctx, Correction{MessageID: m.ID, Category: "BILLING", Priority: "high", Escalate: true, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseCase(ctx, m.ID, "", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := e.calls() - before; got != 0 {
		t.Errorf("dry-run made %d API calls", got)
	}
	if n := e.count("Case", nil); n != 0 {
		t.Errorf("dry-run wrote %d cases", n)
	}
	rows, err := e.st.CasesAudit(ctx, store.CasesAuditFilter{MessageID: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	var dry int
	for _, a := range rows {
		if a.Agent == "alice via triage" {
			if a.Result != store.CasesDryRun || !strings.Contains(string(a.Fields), "Triage_Key__c=") {
				t.Errorf("dry-run audit row %+v fields %s", a, a.Fields)
			}
			dry++
		}
	}
	if dry != 2 {
		t.Errorf("%d dry-run rows by alice, want 2", dry)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReviewActionErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	// A message the stage never wrote has no case.
	err := s.CloseCase(ctx, 4242, "", "alice")
	var p interface{ Permanent() bool }
	if !errors.As(err, &p) || !p.Permanent() {
		t.Errorf("no case: %v, want permanent", err)
	}
	if err := s.ReopenCase(ctx, 4242, ""); err == nil {
		t.Error("an action without a user name was accepted")
	}

	// Salesforce refuses the value: the error comes back and is audited.
	bad := e.stage(Config{Status: StatusValues{Closed: "Shredded"}})
	m, r := reviewCase(t, e, bad, newEmail("ann@customer.example", "rc5@customer.example", "Refused"))
	if err := bad.CloseCase(ctx, m.ID, "", "alice"); err == nil {
		t.Fatal("a refused status was reported as done")
	}
	if c := e.record("Case", r.CaseID); c["Status"] == "Shredded" {
		t.Errorf("case status %v", c["Status"])
	}
	a, _ := lastAudit(t, e, bad, m.ID)
	if a.Result == "ok" || a.Result == "" || a.Agent != "alice via triage" {
		t.Errorf("refusal audit %+v", a)
	}
}

// The Salesforce client has the single-record update the review actions
// prefer and the streamed upload the attachments use (no WithUploader needed).
var (
	_ recordUpdater = (*salesforce.Client)(nil)
	_ FileUploader  = (*salesforce.Client)(nil)
)
