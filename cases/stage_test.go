package cases

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/store"
)

func TestNewEmailOneCompositeCall(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	kaID := e.article("How refunds work")
	s := e.stage(Config{})
	in := newEmail("ann@customer.example", "m1@customer.example", "Refund please")
	in.Knowledge = knowledge.Result{Articles: []knowledge.Match{{ArticleID: "x", KnowledgeArticleID: kaID, Title: "How refunds work", Score: 0.8}}}
	before := e.calls()
	r, err := s.Process(ctx, e.msg("m1@customer.example"), in)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.calls() - before; got != 1 || r.APICalls != 1 {
		t.Fatalf("API calls: org counted %d, result %d; want 1", got, r.APICalls)
	}
	if r.Action != ActionCreated || r.CaseID == "" || r.EmailMessageID == "" || r.TaskID == "" || !r.ContactCreated {
		t.Fatalf("result: %+v", r)
	}
	if n := e.count("Case", nil); n != 1 {
		t.Fatalf("%d cases", n)
	}
	if n := e.count("Contact", nil); n != 1 {
		t.Fatalf("%d contacts", n)
	}
	c := e.record("Case", r.CaseID)
	want := map[string]any{
		"Origin": "Email", "SuppliedEmail": "ann@customer.example", "SuppliedName": "Ann Customer", "Status": "New",
		"Priority": "High", "AI_Category__c": "REFUND", "AI_Priority__c": "high", "AI_Sentiment__c": "negative",
		"AI_Language__c": "en", "AI_Summary__c": "Customer wants a refund for order 1234.", "AI_Confidence__c": 93.0,
		"AI_Explanation__c": "Mentions refund and an order number.", "Triage_Key__c": in.Dedupe.ThreadKey, "ContactId": r.ContactID,
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("Case.%s = %#v, want %#v", k, c[k], v)
		}
	}
	if subj, _ := c["Subject"].(string); !strings.HasPrefix(subj, "Refund please") || !strings.Contains(subj, in.Dedupe.ThreadToken) {
		t.Errorf("subject %q lacks the thread token", subj)
	}
	if d, _ := c["Description"].(string); strings.Contains(d, "4111 1111") {
		t.Errorf("card number reached Salesforce: %q", d)
	}
	em := e.record("EmailMessage", r.EmailMessageID)
	for k, v := range map[string]any{"ParentId": r.CaseID, "Incoming": true, "MessageIdentifier": "<m1@customer.example>",
		"FromAddress": "ann@customer.example", "ToAddress": "support@acme.example", "CcAddress": "boss@customer.example",
		"Subject": "Refund please", "Status": "0"} {
		if em[k] != v {
			t.Errorf("EmailMessage.%s = %#v, want %#v", k, em[k], v)
		}
	}
	if em["Headers"] == nil || em["MessageDate"] == nil || em["HtmlBody"] == nil || strings.Contains(em["TextBody"].(string), "4111") {
		t.Errorf("EmailMessage bodies/headers: %v", em)
	}
	if n := e.count("CaseArticle", func(r map[string]any) bool { return r["CaseId"] == c["Id"] && r["KnowledgeArticleId"] == kaID }); n != 1 {
		t.Errorf("%d case articles", n)
	}
	task := e.record("Task", r.TaskID)
	if task["WhatId"] != r.CaseID || !strings.Contains(task["Description"].(string), "REFUND") || task["Status"] != "Completed" {
		t.Errorf("task: %v", task)
	}
	if e.hooks.cases[in.Dedupe.ThreadKey] != r.CaseID || e.hooks.contacts["ann@customer.example"] != r.ContactID {
		t.Errorf("dedupe not told: %+v", e.hooks)
	}
	// Audit trail: one line per write, with the integration user and agent.
	lines, err := e.st.CasesAudit(ctx, store.CasesAuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 5 { // contact, case, email, article, task
		t.Fatalf("%d audit lines", len(lines))
	}
	for _, l := range lines {
		if l.Result != "ok" || l.IntegrationUser != "triage@example.com" || l.Agent != "triage" || l.RecordID == "" {
			t.Errorf("audit line %+v", l)
		}
		if strings.Contains(string(l.Fields), "4111") {
			t.Errorf("audit holds PII: %s", l.Fields)
		}
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	// Processing the same message again (pipeline retry after our commit) sends nothing.
	before = e.calls()
	r2, err := s.Process(ctx, e.msgWithID(r, 101), in)
	if err != nil || r2.CaseID != r.CaseID || e.calls() != before {
		t.Fatalf("second run: %+v %v, calls %d", r2, err, e.calls()-before)
	}
}

func (e *env) msgWithID(_ Result, id int64) store.Message {
	return store.Message{ID: id, State: store.StateEnriched, CreatedAt: e.clock}
}

func TestRetryAfterTimeoutMakesNoDuplicate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	in := newEmail("bob@customer.example", "t1@customer.example", "Where is my order")
	m := e.msg("t1@customer.example")
	e.doer.drop.Store(1)
	if _, err := s.Process(ctx, m, in); err == nil {
		t.Fatal("want the simulated timeout")
	}
	// Salesforce committed everything; the ledger says the outcome is unknown.
	if led, ok, _ := e.st.CasesLedger(ctx, m.ID); !ok || led.State != store.CasesSending {
		t.Fatalf("ledger %+v", led)
	}
	before := e.calls()
	r, err := s.Process(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Recovered || r.CaseID == "" || r.EmailMessageID == "" {
		t.Fatalf("result %+v", r)
	}
	if got := e.calls() - before; got != 1 {
		t.Errorf("recovery used %d calls, want 1 query", got)
	}
	for _, o := range []string{"Case", "EmailMessage", "Task", "Contact"} {
		if n := e.count(o, nil); n != 1 {
			t.Errorf("%d %s records after the retry", n, o)
		}
	}
	if e.hooks.contacts["bob@customer.example"] == "" {
		t.Error("recovered contact not recorded with dedupe")
	}
	// Crash after Salesforce committed but before our own commit: the
	// ledger is left at "sending" (as if the commit never happened).
	led, _, _ := e.st.CasesLedger(ctx, m.ID)
	led.State = store.CasesSending
	if err := e.st.CasesPutLedger(ctx, nil, led); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Process(ctx, m, in); err != nil || !r.Recovered {
		t.Fatalf("after crash: %+v %v", r, err)
	}
	if n := e.count("EmailMessage", nil); n != 1 {
		t.Errorf("%d EmailMessages after the crash", n)
	}
}

func TestLostAnswerBeforeCommitIsResent(t *testing.T) {
	// A "sending" ledger row whose request never reached Salesforce: the
	// recovery query finds nothing and the writes go out once.
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	in := newEmail("cy@customer.example", "lost@customer.example", "Invoice")
	m := e.msg("lost@customer.example")
	if err := e.st.CasesPutLedger(ctx, nil, store.CasesWrite{MessageID: m.ID, State: store.CasesSending, MessageIdentifier: "<lost@customer.example>"}); err != nil {
		t.Fatal(err)
	}
	before := e.calls()
	r, err := s.Process(ctx, m, in)
	if err != nil || r.Recovered || r.CaseID == "" {
		t.Fatalf("%+v %v", r, err)
	}
	if got := e.calls() - before; got != 2 {
		t.Errorf("%d calls, want query + composite", got)
	}
	if n := e.count("EmailMessage", nil); n != 1 {
		t.Errorf("%d EmailMessages", n)
	}
}

func TestDuplicateRuleUsesMatchedContact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	existing, err := e.sf.Create(ctx, "Contact", map[string]any{"LastName": "Dup", "Email": "dup@customer.example"})
	if err != nil {
		t.Fatal(err)
	}
	s := e.stage(Config{})
	// dedupe's cache was stale: it asks for a contact that exists.
	in := newEmail("dup@customer.example", "d1@customer.example", "Hello")
	r, err := s.Process(ctx, e.msg("d1@customer.example"), in)
	if err != nil {
		t.Fatal(err)
	}
	if r.ContactID != existing || r.ContactCreated {
		t.Fatalf("contact %q created=%v, want the matched %s", r.ContactID, r.ContactCreated, existing)
	}
	if n := e.count("Contact", nil); n != 1 {
		t.Errorf("%d contacts", n)
	}
	if c := e.record("Case", r.CaseID); c["ContactId"] != existing {
		t.Errorf("case contact %v", c["ContactId"])
	}
	if r.APICalls != 2 || e.hooks.contacts["dup@customer.example"] != existing {
		t.Errorf("calls %d, hooks %v", r.APICalls, e.hooks.contacts)
	}
}

func TestReplyUpdatesCase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := Config{Status: StatusValues{WaitingOnCustomer: "Escalated"}} // the emulator's picklist has no waiting value
	s := e.stage(cfg)
	first := newEmail("dee@customer.example", "r1@customer.example", "Broken login")
	r1, err := s.Process(ctx, e.msg("r1@customer.example"), first)
	if err != nil {
		t.Fatal(err)
	}
	// An agent set the case to "waiting" (seen by the changes poll).
	if err := e.sf.Update(ctx, "Case", r1.CaseID, map[string]any{"Status": "Escalated"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PollChanges(ctx); err != nil {
		t.Fatal(err)
	}
	in := reply(first, r1.CaseID, r1.ContactID, "r2@customer.example")
	in.Classify.Resolved = false
	in.Classify.Sentiment = "neutral"
	before := e.calls()
	r2, err := s.Process(ctx, e.msg("r2@customer.example"), in)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Action != ActionUpdated || r2.CaseID != r1.CaseID || e.calls()-before != 1 {
		t.Fatalf("reply %+v, calls %d", r2, e.calls()-before)
	}
	c := e.record("Case", r1.CaseID)
	if c["AI_Sentiment__c"] != "neutral" || c["Status"] != "Working" || c["Subject"] != e.record("Case", r1.CaseID)["Subject"] {
		t.Errorf("case after reply: %v", c)
	}
	if n := e.count("EmailMessage", func(r map[string]any) bool { return r["ParentId"] == r1.CaseID }); n != 2 {
		t.Errorf("%d emails on the case", n)
	}
	if n := e.count("Case", nil); n != 1 {
		t.Errorf("%d cases", n)
	}
}

func TestEscalation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{Escalation: EscalationConfig{AutoAssign: true}})
	in := newEmail("eve@customer.example", "e1@customer.example", "Lawyer letter")
	in.Classify.Escalate, in.Classify.EscalationReason = true, "legal_threat"
	r, err := s.Process(ctx, e.msg("e1@customer.example"), in)
	if err != nil || !r.Escalated {
		t.Fatalf("%+v %v", r, err)
	}
	c := e.record("Case", r.CaseID)
	if c["IsEscalated"] != true || c["Status"] != "Escalated" || c["AI_Escalation_Reason__c"] != "legal_threat" {
		t.Errorf("case %v", c)
	}
	if a := e.doer.assign; len(a) != 1 || a[0] != "TRUE" {
		t.Errorf("Sforce-Auto-Assign on the escalation: %q", a)
	}
	// Status only, configurable.
	s2 := e.stage(Config{Escalation: EscalationConfig{SetIsEscalated: boolp(false)}})
	in2 := newEmail("eve2@customer.example", "e2@customer.example", "Angry")
	in2.Classify.Escalate, in2.Classify.EscalationReason = true, "negative_sentiment"
	r2, err := s2.Process(ctx, e.msg("e2@customer.example"), in2)
	if err != nil {
		t.Fatal(err)
	}
	if c := e.record("Case", r2.CaseID); c["IsEscalated"] == true || c["Status"] != "Escalated" {
		t.Errorf("case %v", c)
	}
	if a := e.doer.assign; len(a) != 2 || a[1] != "" {
		t.Errorf("Sforce-Auto-Assign without auto_assign: %q", a)
	}
}

func TestCloseRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	first := newEmail("fay@customer.example", "c0@customer.example", "Refund")
	r0, err := s.Process(ctx, e.msg("c0@customer.example"), first)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.sf.Create(ctx, "Contact", map[string]any{"LastName": "Other", "Email": "other@customer.example"})
	if err != nil {
		t.Fatal(err)
	}
	resolved := func(mid string) Input {
		in := reply(first, r0.CaseID, r0.ContactID, mid)
		in.Classify.Resolved, in.Classify.Confidence = true, 0.96
		return in
	}
	tests := []struct {
		name   string
		mut    func(*Input)
		denied string
	}{
		{"new email", func(in *Input) { in.Dedupe.IsReply, in.Dedupe.CaseID = false, "" }, "new email never closes"},
		{"low confidence", func(in *Input) { in.Classify.Confidence = 0.7 }, "below the automate threshold"},
		{"injection", func(in *Input) { in.Classify.Flags.InjectionSuspected = true }, "injection"},
		{"sensitive", func(in *Input) { in.Classify.Flags.SensitiveData = true }, "sensitive data"},
		{"escalated", func(in *Input) { in.Classify.Escalate = true }, "escalated"},
		{"not the contact", func(in *Input) { in.Dedupe.ContactID = other }, "not the case's contact"},
		{"no contact", func(in *Input) { in.Dedupe.ContactID = "" }, "no contact"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mid := "neg" + string(rune('a'+i)) + "@customer.example"
			in := resolved(mid)
			tt.mut(&in)
			r, err := s.Process(ctx, e.msg(mid), in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Closed || !strings.Contains(r.CloseDenied, tt.denied) {
				t.Fatalf("closed=%v denied=%q, want denial containing %q", r.Closed, r.CloseDenied, tt.denied)
			}
			for _, c := range e.org.Records("Case") {
				if c["Status"] == "Closed" {
					t.Fatalf("case %v closed", c["Id"])
				}
			}
		})
	}
	r, err := s.Process(ctx, e.msg("ok@customer.example"), resolved("ok@customer.example"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Closed || r.CloseReason != "customer_confirmed_resolved" || r.APICalls != 2 {
		t.Fatalf("%+v", r)
	}
	if c := e.record("Case", r0.CaseID); c["Status"] != "Closed" {
		t.Fatalf("case %v", c)
	}
	if d := e.record("Task", r.TaskID)["Description"].(string); !strings.Contains(d, "Closed") {
		t.Errorf("task does not say why: %q", d)
	}
	// Already closed: a second "resolved" reply does nothing more.
	r, err = s.Process(ctx, e.msg("again@customer.example"), resolved("again@customer.example"))
	if err != nil || r.Closed || !strings.Contains(r.CloseDenied, "already closed") {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{DryRun: true})
	in := newEmail("gil@customer.example", "dry@customer.example", "Hi")
	before := e.calls()
	m := e.msg("dry@customer.example")
	r, err := s.Process(ctx, m, in)
	if err != nil {
		t.Fatal(err)
	}
	if e.calls() != before || e.count("Case", nil) != 0 {
		t.Fatalf("dry run touched the org: %d calls", e.calls()-before)
	}
	if !r.DryRun || len(r.Writes) != 4 || r.Writes[1].SObject != "Case" || r.Writes[1].Fields["AI_Category__c"] != "REFUND" {
		t.Fatalf("%+v", r)
	}
	led, ok, _ := e.st.CasesLedger(ctx, m.ID)
	if !ok || led.State != store.CasesDryRun {
		t.Fatalf("ledger %+v", led)
	}
	lines, _ := e.st.CasesAudit(ctx, store.CasesAuditFilter{MessageID: m.ID})
	if len(lines) != 4 || lines[0].Result != "dry_run" {
		t.Fatalf("audit %+v", lines)
	}
	// Offline (no client) behaves the same.
	off := NewStage(Config{}, e.st, nil, nil, e.now)
	if r, err := off.Process(ctx, e.msg("off@x.example"), newEmail("h@x.example", "off@x.example", "x")); err != nil || !r.DryRun {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestActivityTaskOnCase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	first := newEmail("ida@customer.example", "a0@customer.example", "Help")
	r0, err := s.Process(ctx, e.msg("a0@customer.example"), first)
	if err != nil {
		t.Fatal(err)
	}
	ooo := first
	p := *first.Parsed
	p.MessageID, p.Subject, p.Text = "ooo@customer.example", "Out of office", "I am away until Monday."
	ooo.Parsed = &p
	ooo.Dedupe = dedupe0(r0.CaseID)
	r, err := s.Process(ctx, e.msg("ooo@customer.example"), ooo)
	if err != nil || r.Action != ActionActivity || r.CaseID != r0.CaseID {
		t.Fatalf("%+v %v", r, err)
	}
	task := e.record("Task", r.TaskID)
	if task["WhatId"] != r0.CaseID || !strings.Contains(task["Subject"].(string), "auto reply") {
		t.Errorf("task %v", task)
	}
	if n := e.count("EmailMessage", nil); n != 1 {
		t.Errorf("%d email messages", n)
	}
}

func TestPermanentErrorThenFixedReplay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	in := newEmail("lee@customer.example", "perm@customer.example", "Broken")
	in.Knowledge = knowledge.Result{Articles: []knowledge.Match{{KnowledgeArticleID: "kA0000000000000AAA", Title: "gone"}}}
	m := e.msg("perm@customer.example")
	_, err := s.Process(ctx, m, in)
	var perm interface{ Permanent() bool }
	var rs interface{ Reason() string }
	if err == nil || !errors.As(err, &perm) || !perm.Permanent() || !errors.As(err, &rs) || rs.Reason() != "salesforce_malformed_id" {
		t.Fatalf("err %v", err)
	}
	if e.count("Case", nil) != 0 || e.count("Contact", nil) != 0 {
		t.Fatal("allOrNone did not roll back")
	}
	if led, _, _ := e.st.CasesLedger(ctx, m.ID); led.State != store.CasesFailed {
		t.Fatalf("ledger %+v", led)
	}
	if e.hooks.released != 1 {
		t.Errorf("contact claim not released: %d", e.hooks.released)
	}
	lines, _ := e.st.CasesAudit(ctx, store.CasesAuditFilter{MessageID: m.ID})
	if len(lines) == 0 || lines[len(lines)-2].Result != "MALFORMED_ID" {
		t.Fatalf("audit %+v", lines)
	}
	// The article comes back (the cause is fixed); the replay delivers once,
	// without a recovery query (the failure was definite).
	in.Knowledge = knowledge.Result{}
	before := e.calls()
	r, err := s.Process(ctx, m, in)
	if err != nil || e.calls()-before != 1 {
		t.Fatalf("%+v %v, %d calls", r, err, e.calls()-before)
	}
	if e.count("Case", nil) != 1 || e.count("EmailMessage", nil) != 1 {
		t.Fatal("replay did not deliver exactly once")
	}
}

func TestReplyBeforeDedupeKnewTheCase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	first := newEmail("max@customer.example", "q1@customer.example", "Question")
	r1, err := s.Process(ctx, e.msg("q1@customer.example"), first)
	if err != nil {
		t.Fatal(err)
	}
	in := reply(first, "", r1.ContactID, "q2@customer.example") // dedupe ran before the case existed
	before := e.calls()
	r2, err := s.Process(ctx, e.msg("q2@customer.example"), in)
	if err != nil || r2.CaseID != r1.CaseID || r2.Action != ActionUpdated || e.calls()-before != 1 {
		t.Fatalf("%+v %v, %d calls", r2, err, e.calls()-before)
	}
	// Without the ledger's help (another process wrote the case), the
	// upsert finds the case and the plan is rebuilt as an update: 2 calls.
	s2 := NewStage(Config{}, e.st, e.sf, nil, e.now)
	in3 := reply(first, "", r1.ContactID, "q3@customer.example")
	m3 := e.msg("q3@customer.example")
	e.hideLedger(t)
	before = e.calls()
	r3, err := s2.Process(ctx, m3, in3)
	if err != nil || r3.CaseID != r1.CaseID || r3.Action != ActionUpdated || e.calls()-before != 2 {
		t.Fatalf("%+v %v, %d calls", r3, err, e.calls()-before)
	}
	if n := e.count("Case", nil); n != 1 {
		t.Fatalf("%d cases", n)
	}
	c := e.record("Case", r1.CaseID)
	if c["Subject"] == "Re: Question" || c["SuppliedEmail"] != "max@customer.example" {
		t.Errorf("update path overwrote the case's creation fields: %v", c)
	}
}

// hideLedger marks every ledger row failed, as if the case had been written
// by another installation.
func (e *env) hideLedger(t *testing.T) {
	rows, err := e.st.CasesLedgerByState(context.Background(), store.CasesCommitted, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rows {
		w.State = store.CasesFailed
		if err := e.st.CasesPutLedger(context.Background(), nil, w); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReopenAndLinkedCase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	first := newEmail("ola@customer.example", "o1@customer.example", "Printer")
	r1, err := s.Process(ctx, e.msg("o1@customer.example"), first)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sf.Update(ctx, "Case", r1.CaseID, map[string]any{"Status": "Closed"}); err != nil {
		t.Fatal(err)
	}
	// Within the reopen window: the same case opens again.
	in := reply(first, r1.CaseID, r1.ContactID, "o2@customer.example")
	in.Dedupe.Reopen, in.Dedupe.CaseClosed = true, true
	r2, err := s.Process(ctx, e.msg("o2@customer.example"), in)
	if err != nil || !r2.Reopened || r2.CaseID != r1.CaseID {
		t.Fatalf("%+v %v", r2, err)
	}
	if c := e.record("Case", r1.CaseID); c["Status"] != "Working" {
		t.Fatalf("case %v", c["Status"])
	}
	// After the window: a new case linked to the old one.
	late := newEmail("ola@customer.example", "o3@customer.example", "Re: Printer")
	late.Dedupe.IsReply, late.Dedupe.ParentCaseID, late.Dedupe.CreateContact, late.Dedupe.ContactID = true, r1.CaseID, nil, r1.ContactID
	late.Dedupe.ThreadKey = first.Dedupe.ThreadKey + "x"
	r3, err := s.Process(ctx, e.msg("o3@customer.example"), late)
	if err != nil || r3.Action != ActionCreated || r3.CaseID == r1.CaseID {
		t.Fatalf("%+v %v", r3, err)
	}
	if c := e.record("Case", r3.CaseID); c["ParentId"] != r1.CaseID || c["ContactId"] != r1.ContactID {
		t.Fatalf("linked case %v", c)
	}
}

func TestSecondWorkerOnSameMessageWaits(t *testing.T) {
	e := newEnv(t)
	s := e.stage(Config{})
	m := e.msg("busy@x.example")
	s.inflight.Store(m.ID, struct{}{}) // the first worker is still waiting on Salesforce
	_, err := s.Process(context.Background(), m, newEmail("b@x.example", "busy@x.example", "x"))
	var tmp interface{ Temporary() bool }
	if !errors.As(err, &tmp) || !tmp.Temporary() || e.count("Case", nil) != 0 {
		t.Fatalf("err %v", err)
	}
	s.inflight.Delete(m.ID)
	if _, err := s.Process(context.Background(), m, newEmail("b@x.example", "busy@x.example", "x")); err != nil {
		t.Fatal(err)
	}
}

func TestReplyOnDeletedCaseOpensNewOne(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	first := newEmail("pat@customer.example", "z1@customer.example", "Gone")
	r1, err := s.Process(ctx, e.msg("z1@customer.example"), first)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sf.Delete(ctx, "Case", r1.CaseID); err != nil {
		t.Fatal(err)
	}
	r2, err := s.Process(ctx, e.msg("z2@customer.example"), reply(first, r1.CaseID, r1.ContactID, "z2@customer.example"))
	if err != nil {
		t.Fatal(err)
	}
	if r2.CaseID == "" || r2.CaseID == r1.CaseID || r2.Action != ActionCreated || r2.APICalls != 2 {
		t.Fatalf("%+v", r2)
	}
	if c := e.record("Case", r2.CaseID); c["ContactId"] != r1.ContactID || c["Triage_Key__c"] != first.Dedupe.ThreadKey {
		t.Fatalf("%v", c)
	}
	if e.hooks.cases[first.Dedupe.ThreadKey] != r2.CaseID {
		t.Error("dedupe not told about the new case")
	}
}

func TestDryRunShowsClose(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	live := e.stage(Config{})
	first := newEmail("una@customer.example", "dc1@customer.example", "Refund")
	r0, err := live.Process(ctx, e.msg("dc1@customer.example"), first)
	if err != nil {
		t.Fatal(err)
	}
	dry := e.stage(Config{DryRun: true})
	in := reply(first, r0.CaseID, r0.ContactID, "dc2@customer.example")
	in.Classify.Resolved, in.Classify.Confidence = true, 0.97
	before := e.calls()
	r, err := dry.Process(ctx, e.msg("dc2@customer.example"), in)
	if err != nil || !r.Closed || !r.DryRun || r.Writes[0].Fields["Status"] != "Closed" {
		t.Fatalf("%+v %v", r, err)
	}
	if e.calls()-before != 1 || e.record("Case", r0.CaseID)["Status"] == "Closed" {
		t.Fatal("dry run wrote or did not read once")
	}
}
