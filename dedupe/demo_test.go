package dedupe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// skipReasons maps the demo's labels to the stage's reason codes.
var skipReasons = map[string][]string{
	"bounce":     {ReasonDeliveryReport, ReasonMailerDaemon, ReasonNullSender},
	"auto_reply": {ReasonAutoSubmitted, ReasonAutoReplyHdr, ReasonPrecedence, ReasonOutOfOffice},
	"newsletter": {ReasonList, ReasonPrecedence},
}

// TestDemoMailbox runs the labelled demo mailbox through the stage against
// the seeded demo org (emulator, real client, HTTP) and checks each decision
// against the label: new case, reply to the right case (reopen or linked
// follow-up), skip with the right kind of reason, activity on the case a
// bounce or auto-reply is about, duplicate.
func TestDemoMailbox(t *testing.T) {
	mails, err := demo.Mail()
	if err != nil {
		t.Fatal(err)
	}
	exp, err := demo.Expected()
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != len(exp) {
		t.Fatalf("%d deliveries, %d expectations", len(mails), len(exp))
	}
	org, err := sfsim.New(sfsim.Options{ClientID: "3MVG9demo", ClientSecret: "demo-secret", Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	sf, err := salesforce.New(context.Background(), salesforce.Config{LoginURL: srv.URL, Auth: salesforce.AuthConfig{
		Flow: salesforce.FlowClientCredentials, ClientID: "3MVG9demo", ClientSecret: "demo-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	st := openStore(t, "", clk.Now)
	cfg := Config{OwnAddresses: []string{demo.Address(demo.MailboxSupport), demo.Address(demo.MailboxBilling)}}
	stage := NewStage(cfg, st, sf, nil, clk.Now)
	ctx := context.Background()

	threadKeys := map[string]string{} // demo thread label → our thread key
	uid := map[string]uint32{}
	for i, m := range mails {
		e := exp[i]
		name := fmt.Sprintf("%s (%s)", m.Name, m.Mailbox)
		sum := sha256.Sum256(m.Raw)
		sha := hex.EncodeToString(sum[:])
		p, perr := ingest.Parse(m.Raw, sha)
		if perr != nil {
			if e.Expect != demo.ExpectDead {
				t.Errorf("%s: parse error %v, expected %s", name, perr, e.Expect)
			}
			continue
		}
		if !p.Date.IsZero() && p.Date.After(clk.Now()) {
			clk.mu.Lock()
			clk.t = p.Date
			clk.mu.Unlock()
		}
		pj, _ := json.Marshal(p)
		uid[m.Mailbox]++
		rec, err := st.RecordMessage(ctx, store.NewMessage{Mailbox: m.Mailbox, Folder: "INBOX", UIDValidity: 1, UID: uid[m.Mailbox],
			Raw: m.Raw, SHA256: sha, Size: int64(len(m.Raw)), MessageID: p.MessageID, Subject: p.Subject, From: p.From.Addr,
			SentAt: p.Date, Parsed: pj})
		if err != nil {
			t.Fatal(err)
		}
		if !rec.New {
			// Byte-identical copy in a second mailbox: the store already made it one message.
			if e.Expect != demo.ExpectDuplicate {
				t.Errorf("%s: recorded as a repeat, expected %s", name, e.Expect)
			}
			continue
		}
		msg, err := st.Message(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		r, err := stage.Process(ctx, msg, p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Logf("%-45s expect %-16s → skip=%v activity=%v reason=%s reply=%v by=%s case=%s parent=%s reopen=%v contact=%s create=%v ambiguous=%v",
			name, e.Expect, r.Skip, r.Activity, r.Reason, r.IsReply, r.MatchedBy, r.CaseID, r.ParentCaseID, r.Reopen, r.ContactID, r.CreateContact != nil, r.AmbiguousContact)
		checkDemo(t, name, e, r, threadKeys)
	}
}

// checkDemo checks one decision against its label; threadKeys maps the
// demo's thread labels to the thread keys seen so far.
func checkDemo(t *testing.T, name string, e demo.Expectation, r Result, threadKeys map[string]string) {
	t.Helper()
	threadOK := func() bool {
		if e.Thread == "" {
			return true
		}
		key := r.ThreadKey
		if r.Activity {
			key = r.AttachToThreadKey
		}
		if prev, ok := threadKeys[e.Thread]; ok {
			return prev == key || (e.Related != "" && (r.CaseID == e.Related || r.AttachToCaseID == e.Related))
		}
		threadKeys[e.Thread] = key
		return true
	}
	switch reason, isSkip := e.Skip(); {
	case isSkip && e.HasTag("about_existing_case"):
		if !r.Activity || r.Skip || !slices.Contains(skipReasons[reason], r.Reason) {
			t.Errorf("%s: want an activity (%s) on its case, got %+v", name, reason, r)
		} else if e.Related != "" && r.AttachToCaseID != e.Related {
			t.Errorf("%s: attached to case %q, want %q", name, r.AttachToCaseID, e.Related)
		} else if !threadOK() {
			t.Errorf("%s: attached to thread %s, not the thread of %s", name, r.AttachToThreadKey, e.Thread)
		}
	case isSkip:
		if !r.Skip || !slices.Contains(skipReasons[reason], r.Reason) {
			t.Errorf("%s: want skip (%s), got %+v", name, reason, r)
		}
	case e.Expect == demo.ExpectDuplicate:
		if !r.Skip || r.Reason != ReasonDuplicate {
			t.Errorf("%s: want duplicate, got %+v", name, r)
		}
	case e.Expect == demo.ExpectReply:
		if r.Skip || r.Activity || !r.IsReply || (e.Related != "" && r.CaseID != e.Related) || !threadOK() {
			t.Errorf("%s: want a reply to %s/%s, got %+v", name, e.Thread, e.Related, r)
		}
		if e.HasTag("reopen") && !r.Reopen {
			t.Errorf("%s: want reopen, got %+v", name, r)
		}
	case e.Expect == demo.ExpectCase:
		if r.Skip || r.Activity || r.CaseID != "" || r.Reopen {
			t.Errorf("%s: want a new case, got %+v", name, r)
		}
		if e.HasTag("reply_to_old_closed_case") && r.ParentCaseID != e.Related {
			t.Errorf("%s: want a new case linked to %s, got %+v", name, e.Related, r)
		}
		if !threadOK() {
			t.Errorf("%s: thread mismatch", name)
		}
	case e.Expect == demo.ExpectDead:
		// Parsed after all (lenient parser): any decision is fine here.
	default:
		t.Errorf("%s: unknown expectation %q", name, e.Expect)
	}
}
