package dedupe

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/store"
)

type env struct {
	t     testing.TB
	clock *clock
	st    *store.Store
	sf    *fakeSF
	stage *Stage
	rec   *recorder
}

func newEnv(t testing.TB, cfg Config, online bool) *env {
	e := &env{t: t, clock: newClock()}
	e.st = openStore(t, "", e.clock.Now)
	var api SalesforceAPI
	if online {
		e.sf = newFakeSF()
		api = e.sf
	}
	e.stage = NewStage(cfg, e.st, api, nil, e.clock.Now)
	e.rec = &recorder{st: e.st}
	return e
}

func (e *env) process(p *ingest.Parsed) (store.Message, Result) {
	e.t.Helper()
	if p.Date.IsZero() {
		p.Date = e.clock.Now()
	}
	m := e.rec.record(e.t, p, "INBOX")
	r, err := e.stage.Process(context.Background(), m, p)
	if err != nil {
		e.t.Fatalf("Process %s: %v", p.MessageID, err)
	}
	return m, r
}

func email(id, from, subject string, inReplyTo string, refs ...string) *ingest.Parsed {
	p := &ingest.Parsed{MessageID: id, From: ingest.Address{Addr: from}, Subject: subject, ContentType: "text/plain",
		To: []ingest.Address{{Addr: "support@acme.example"}}, Text: "hello"}
	if inReplyTo != "" {
		p.InReplyTo = []string{inReplyTo}
	}
	p.References = refs
	return p
}

func TestThreading(t *testing.T) {
	cfg := Config{OwnAddresses: []string{"support@acme.example"}}
	const cust, stranger = "Jane Roe <jane@customer.example>", "mallory@evil.example"

	t.Run("by header, token, subject and Salesforce", func(t *testing.T) {
		e := newEnv(t, cfg, true)
		_, r1 := e.process(email("m1@customer.example", cust, "Printer broken", ""))
		if r1.Skip || r1.IsReply || r1.ThreadKey != ThreadKey("m1@customer.example") || len(r1.ThreadKey) != ThreadKeyLen {
			t.Fatalf("first message: %+v", r1)
		}
		if want := "[ref:T-" + r1.ThreadKey + "]"; r1.ThreadToken != want {
			t.Errorf("token %q, want %q", r1.ThreadToken, want)
		}
		caseID := e.sf.add("Case", map[string]any{"Subject": "Printer broken", "IsClosed": false, "Triage_Key__c": r1.ThreadKey})
		if err := e.stage.RecordCase(context.Background(), r1.ThreadKey, caseID, []string{"jane@customer.example"}); err != nil {
			t.Fatal(err)
		}

		steps := []struct {
			name      string
			p         *ingest.Parsed
			reply     bool
			matchedBy string
			rejected  bool
		}{
			{"in-reply-to", email("m2@customer.example", cust, "Re: Printer broken", "m1@customer.example", "m1@customer.example"), true, MatchInReplyTo, false},
			{"changed subject", email("m3@customer.example", cust, "Also the scanner", "m2@customer.example"), true, MatchInReplyTo, false},
			{"references only, parent unknown", email("m4@customer.example", "colleague@customer.example", "Re: Printer broken",
				"", "m1@customer.example", "never-seen@customer.example"), true, MatchReferences, false},
			{"token from participant", email("m5@customer.example", cust, "Re: Anything [ref:T-"+r1.ThreadKey+"]", ""), true, MatchToken, false},
			{"token upper-cased by a client", email("m5b@customer.example", cust, "RE: ANYTHING [REF:T-"+strings.ToUpper(r1.ThreadKey)+"]", ""), true, MatchToken, false},
			{"token from stranger", email("m6@evil.example", stranger, "Re: Printer broken [ref:T-"+r1.ThreadKey+"]", ""), false, "", true},
			{"subject and sender", email("m7@customer.example", cust, "AW: RE: printer  BROKEN", ""), true, MatchSubject, false},
			{"same subject other sender", email("m8@other.example", "bob@other.example", "Printer broken", ""), false, "", false},
			{"forward with references by participant", email("m9@customer.example", cust, "Fwd: Printer broken", "", "m1@customer.example", "m2@customer.example"), true, MatchReferences, false},
			{"forward with token by stranger", email("m10@evil.example", stranger, "Fwd: [ref:T-"+r1.ThreadKey+"] Printer broken again", ""), false, "", true},
		}
		for _, s := range steps {
			_, r := e.process(s.p)
			if r.Skip || r.IsReply != s.reply || r.MatchedBy != s.matchedBy || r.TokenRejected != s.rejected {
				t.Errorf("%s: %+v", s.name, r)
				continue
			}
			if s.reply && (r.ThreadKey != r1.ThreadKey || r.CaseID != caseID) {
				t.Errorf("%s: joined %s/%s, want %s/%s", s.name, r.ThreadKey, r.CaseID, r1.ThreadKey, caseID)
			}
			if !s.reply && (r.ThreadKey == r1.ThreadKey || r.CaseID != "") {
				t.Errorf("%s: must not join the case: %+v", s.name, r)
			}
		}

		// The stranger's message opened its own thread; its reply joins it, not Jane's.
		_, r := e.process(email("m11@evil.example", stranger, "Re: Printer broken [ref:T-"+r1.ThreadKey+"]", "m6@evil.example"))
		if !r.IsReply || r.ThreadKey != ThreadKey("m6@evil.example") {
			t.Errorf("stranger's own reply: %+v", r)
		}

		// A reply to an agent's answer sent from Salesforce (only the org knows its Message-ID).
		e.sf.add("EmailMessage", map[string]any{"MessageIdentifier": "<agent-1@salesforce.example>", "ParentId": caseID})
		_, r = e.process(email("m12@customer.example", cust, "Re: your case", "agent-1@salesforce.example", "agent-1@salesforce.example"))
		if !r.IsReply || r.MatchedBy != MatchSalesforce || r.CaseID != caseID || r.ThreadKey != r1.ThreadKey {
			t.Errorf("reply to Salesforce message: %+v", r)
		}

		// Our own answer (bcc'd to the mailbox) is skipped, but replies to it join the case.
		own := email("agent-2@acme.example", "Support <support@acme.example>", "Re: Printer broken [ref:T-"+r1.ThreadKey+"]", "")
		if _, r := e.process(own); !r.Skip || r.Reason != ReasonOwnOutbound {
			t.Fatalf("own outbound: %+v", r)
		}
		_, r = e.process(email("m14@customer.example", "colleague2@customer.example", "Re: Printer broken", "agent-2@acme.example"))
		if !r.IsReply || r.MatchedBy != MatchInReplyTo || r.ThreadKey != r1.ThreadKey {
			t.Errorf("reply to our own answer: %+v", r)
		}

		// Subject matching has a window.
		e.clock.Advance(80 * time.Hour)
		_, r = e.process(email("m13@customer.example", cust, "Printer broken", ""))
		if r.IsReply {
			t.Errorf("subject matched outside the window: %+v", r)
		}
	})

	t.Run("token of a case unknown locally is checked against the case contact", func(t *testing.T) {
		e := newEnv(t, cfg, true)
		key := ThreadKey("old-root@customer.example")
		contact := e.sf.add("Contact", map[string]any{"Name": "Jane Roe", "Email": "Jane@Customer.example"})
		caseID := e.sf.add("Case", map[string]any{"Triage_Key__c": key, "ContactId": contact, "IsClosed": false})
		_, r := e.process(email("n1@customer.example", cust, "Re: x [ref:T-"+key+"]", ""))
		if !r.IsReply || r.CaseID != caseID || r.ThreadKey != key {
			t.Errorf("contact's token: %+v", r)
		}
		_, r = e.process(email("n2@evil.example", stranger, "Re: x [ref:T-"+key+"]", ""))
		if r.IsReply || !r.TokenRejected {
			t.Errorf("stranger's token: %+v", r)
		}
	})

	t.Run("closed cases", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			behaviour string
			closedAgo time.Duration
			reopen    bool
		}{
			{"within window reopens", ReopenWithinWindow, 2 * 24 * time.Hour, true},
			{"after window opens linked case", ReopenWithinWindow, 30 * 24 * time.Hour, false},
			{"new_linked never reopens", ReopenNever, time.Hour, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := cfg
				c.Reopen.Behaviour = tc.behaviour
				e := newEnv(t, c, true)
				_, r1 := e.process(email("c1@customer.example", cust, "Refund", ""))
				closed := e.clock.Now().Add(-tc.closedAgo).Format("2006-01-02T15:04:05.000+0000")
				caseID := e.sf.add("Case", map[string]any{"IsClosed": true, "ClosedDate": closed, "Triage_Key__c": r1.ThreadKey})
				if err := e.stage.RecordCase(context.Background(), r1.ThreadKey, caseID, nil); err != nil {
					t.Fatal(err)
				}
				_, r := e.process(email("c2@customer.example", cust, "Re: Refund", "c1@customer.example"))
				if !r.IsReply || !r.CaseClosed || r.Reopen != tc.reopen {
					t.Fatalf("reply: %+v", r)
				}
				if tc.reopen {
					if r.CaseID != caseID || r.ThreadKey != r1.ThreadKey || r.ParentCaseID != "" {
						t.Errorf("reopen: %+v", r)
					}
					return
				}
				if r.CaseID != "" || r.ParentCaseID != caseID || r.ThreadKey == r1.ThreadKey {
					t.Fatalf("linked: %+v", r)
				}
				// The next reply in the chain joins the new thread, not the closed case.
				_, r3 := e.process(email("c3@customer.example", cust, "Re: Refund", "c2@customer.example", "c1@customer.example", "c2@customer.example"))
				if r3.ThreadKey != r.ThreadKey || r3.ParentCaseID != caseID || r3.CaseClosed {
					t.Errorf("follow-up of linked case: %+v", r3)
				}
			})
		}
	})

	t.Run("offline", func(t *testing.T) {
		e := newEnv(t, cfg, false)
		_, r1 := e.process(email("o1@customer.example", cust, "Login", ""))
		_, r2 := e.process(email("o2@customer.example", cust, "Re: Login", "o1@customer.example"))
		if r1.Skip || r2.ThreadKey != r1.ThreadKey || !r2.IsReply || r2.CreateContact == nil || r2.CreateContact.Email != "jane@customer.example" {
			t.Errorf("offline: %+v %+v", r1, r2)
		}
	})
}

func TestDuplicateFetch(t *testing.T) {
	e := newEnv(t, Config{}, false)
	p := email("dup@customer.example", "jane@customer.example", "Order", "")
	p.Date = e.clock.Now()
	m1 := e.rec.record(t, p, "INBOX")
	m2 := e.rec.record(t, p, "Archive") // other bytes (another folder's copy)
	r1, err := e.stage.Process(context.Background(), m1, p)
	if err != nil || r1.Skip {
		t.Fatalf("first copy: %+v %v", r1, err)
	}
	r2, err := e.stage.Process(context.Background(), m2, p)
	if err != nil || !r2.Skip || r2.Reason != ReasonDuplicate || r2.DuplicateOf != m1.ID {
		t.Fatalf("second copy: %+v %v", r2, err)
	}
	// Same Message-ID from another sender is a different message (a broken mailer).
	q := *p
	q.From = ingest.Address{Addr: "other@else.example"}
	m3 := e.rec.record(t, &q, "INBOX")
	if r3, err := e.stage.Process(context.Background(), m3, &q); err != nil || r3.Skip {
		t.Fatalf("same id, other sender: %+v %v", r3, err)
	}
	// Processing a message again (a retry) gives the same answer.
	if again, err := e.stage.Process(context.Background(), m2, p); err != nil || again.Reason != ReasonDuplicate {
		t.Fatalf("retry: %+v %v", again, err)
	}
}

func TestAutoReplyAttachesToCase(t *testing.T) {
	e := newEnv(t, Config{}, true)
	_, r1 := e.process(email("a1@customer.example", "jane@customer.example", "Invoice wrong", ""))
	caseID := e.sf.add("Case", map[string]any{"IsClosed": false, "Triage_Key__c": r1.ThreadKey})
	if err := e.stage.RecordCase(context.Background(), r1.ThreadKey, caseID, []string{"jane@customer.example"}); err != nil {
		t.Fatal(err)
	}
	ooo := email("a2@customer.example", "jane@customer.example", "Automatic reply: Re: Invoice wrong [ref:T-"+r1.ThreadKey+"]", "")
	ooo.Headers = map[string][]string{"Auto-Submitted": {"auto-replied"}}
	_, r := e.process(ooo)
	if r.Skip || !r.Activity || r.AttachToCaseID != caseID || r.AttachToThreadKey != r1.ThreadKey || r.Reason != ReasonAutoSubmitted {
		t.Errorf("OOO about a case: %+v", r)
	}
	bounce := email("a3@mx.example", "MAILER-DAEMON@mx.example", "Undeliverable", "a1@customer.example")
	bounce.ContentType = "multipart/report"
	_, r = e.process(bounce)
	if r.Skip || !r.Activity || r.AttachToCaseID != caseID || r.Reason != ReasonDeliveryReport {
		t.Errorf("bounce about a case: %+v", r)
	}
	lone := email("a4@customer.example", "bob@customer.example", "Out of Office: hello", "")
	_, r = e.process(lone)
	if !r.Skip || r.Activity || r.Reason != ReasonOutOfOffice {
		t.Errorf("OOO about nothing: %+v", r)
	}
}

// TestReplyOvertakesParent: a reply processed before its parent (the parent
// waits for a retry) still lands in the parent's thread.
func TestReplyOvertakesParent(t *testing.T) {
	e := newEnv(t, Config{}, false)
	parent := email("p1@customer.example", "jane@customer.example", "Broken", "")
	parent.Date = e.clock.Now()
	pm := e.rec.record(t, parent, "INBOX")
	_, r := e.process(email("p2@customer.example", "jane@customer.example", "Different words", "p1@customer.example"))
	if !r.IsReply || r.MatchedBy != MatchInReplyTo || r.ThreadKey != ThreadKey("p1@customer.example") {
		t.Fatalf("reply first: %+v", r)
	}
	rp, err := e.stage.Process(context.Background(), pm, parent)
	if err != nil || rp.ThreadKey != r.ThreadKey {
		t.Fatalf("parent after: %+v %v", rp, err)
	}
}

// TestTransition: the stage's result goes into the state change.
func TestTransition(t *testing.T) {
	e := newEnv(t, Config{}, false)
	ctx := context.Background()
	for _, tc := range []struct {
		p    *ingest.Parsed
		want store.State
	}{
		{email("t1@customer.example", "jane@customer.example", "Help", ""), store.StateDeduped},
		{email("t2@customer.example", "MAILER-DAEMON@customer.example", "Undeliverable", ""), store.StateSkipped},
	} {
		m, r := e.process(tc.p)
		if err := e.st.Advance(ctx, e.stage.Transition(m, r)); err != nil {
			t.Fatal(err)
		}
		got, err := e.st.Message(ctx, m.ID)
		if err != nil || got.State != tc.want || (tc.want == store.StateSkipped && got.Reason != r.Reason) {
			t.Fatalf("%s: state %s reason %q, want %s: %v", tc.p.MessageID, got.State, got.Reason, tc.want, err)
		}
		var back Result
		if ok, err := e.st.StageData(ctx, m.ID, StageName, &back); !ok || err != nil || back.Reason != r.Reason || back.ThreadKey != r.ThreadKey {
			t.Fatalf("stage data: %+v %v %v", back, ok, err)
		}
	}
}

func TestReferenceIDsBounded(t *testing.T) {
	p := &ingest.Parsed{MessageID: "self@x", InReplyTo: []string{"<parent@x>"}}
	for i := range 1000 {
		p.References = append(p.References, fmt.Sprintf("<r%d@x>", i))
	}
	ids := referenceIDs(p)
	if len(ids) != maxRefs || ids[0] != "parent@x" || ids[1] != "r999@x" || ids[len(ids)-1] != "r0@x" {
		t.Fatalf("got %d ids: first %v last %v", len(ids), ids[:2], ids[len(ids)-1])
	}
	if rootID(p) != "r0@x" {
		t.Fatalf("root %q", rootID(p))
	}
}
