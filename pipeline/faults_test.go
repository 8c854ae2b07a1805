package pipeline_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfdx"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// TestSalesforceFaults runs the demo mailbox against an org that fails 20% of
// calls with transient errors and goes down completely for a while in the
// middle of the run (the schedule is shortened so the test takes seconds):
// everything lands once the org is back, nothing is duplicated.
func TestSalesforceFaults(t *testing.T) {
	e := newE2E(t, imaptest.StartMemServer(t))
	// The production schedule (200ms → 1s → 5s → 30s → 5m) outlasts a
	// 2-minute outage; this one, scaled down, outlasts the 3-second one.
	// An attempt that misses the prefetch cache makes several calls, each
	// failing 20% of the time, so it takes more steps than production's five.
	e.cfg.Pipeline.RetrySchedule = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}
	for range 16 {
		e.cfg.Pipeline.RetrySchedule = append(e.cfg.Pipeline.RetrySchedule, time.Second)
	}
	e.cfg.Salesforce.Timeout = 2 * time.Second
	app := e.app(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := app.Knowledge.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	emailsBefore := len(e.sim.Records("EmailMessage"))
	e.sim.SetFaults(sfsim.Faults{ErrorRate: 0.2, Errors: []string{"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "BAD_GATEWAY"}})
	// The outage starts once some cases exist and lasts 3 s.
	go func() {
		for ctx.Err() == nil && len(e.sim.Records("EmailMessage")) < emailsBefore+10 {
			time.Sleep(20 * time.Millisecond)
		}
		e.sim.SetFaults(sfsim.Faults{ErrorRate: 0.2, Errors: []string{"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"}, OutageSeconds: 3})
	}()
	sum, err := app.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.ByState[store.StateDead] != 0 {
		t.Errorf("transient faults killed messages: %+v", sum.Counts.ByState)
		logDead(t, app)
	}
	if got := e.sim.Stats().FaultsInjected; got == 0 {
		t.Fatal("no fault was injected: the test proves nothing")
	} else {
		t.Logf("%d faults injected; %s", got, sum)
	}
	exp, _ := demo.Expected()
	checkOrg(t, e, exp, emailsBefore)
}

// TestPermanentErrorDeadLetterAndReplay: a write Salesforce rejects for good
// goes to the dead-letter queue at once with its reason; after the cause is
// fixed in the org, a replay delivers it exactly once.
func TestPermanentErrorDeadLetterAndReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	imap := imaptest.StartMemServer(t)
	imap.Append(t, "INBOX", []byte("From: Liam <liam.oconnor@outlook.com>\r\nTo: support@northwind.example\r\n"+
		"Subject: Order never came\r\nMessage-ID: <permanent@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nMy order never came.\r\n"))
	// An admin added a required field to Case that the app doesn't fill:
	// every case write is refused with REQUIRED_FIELD_MISSING.
	orgFile := filepath.Join(t.TempDir(), "org.json")
	sim, err := sfsim.New(sfsim.Options{ClientID: "cid", ClientSecret: "secret", DataFile: orgFile,
		ExtraFields: []sfdx.Field{{Object: "Case", FullName: "Region__c", Label: "Region", Type: "Text", Length: 40, Required: true}}})
	if err != nil {
		t.Fatal(err)
	}
	org := httptest.NewServer(sim)
	cfg := &pipeline.Config{
		Store:     store.Config{Path: filepath.Join(t.TempDir(), "triage.db")},
		Mailboxes: []ingest.MailboxConfig{{Name: "support", Address: imap.Addr, TLS: "none", Username: imap.Username, Password: imap.Password}},
		Salesforce: &salesforce.Config{LoginURL: org.URL, Auth: salesforce.AuthConfig{
			Flow: salesforce.FlowClientCredentials, ClientID: "cid", ClientSecret: "secret"}},
	}
	cfg.Pipeline.MetricsAddr, cfg.Review.Addr = "off", "127.0.0.1:0"
	cfg.SetDefaults()
	app, err := pipeline.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var id int64
	var state, reason, lastErr string
	if err := app.Store.DB().QueryRowContext(ctx, `SELECT id, state, reason, last_error FROM messages WHERE message_id = 'permanent@example.com'`).
		Scan(&id, &state, &reason, &lastErr); err != nil {
		t.Fatal(err)
	}
	if state != "dead" || !strings.Contains(lastErr, "REQUIRED_FIELD_MISSING") {
		t.Fatalf("want dead with REQUIRED_FIELD_MISSING, got %s %s %q", state, reason, lastErr)
	}
	if m, _ := app.Store.Message(ctx, id); m.Attempts > 0 {
		t.Errorf("a permanent error was retried %d times", m.Attempts)
	}
	app.Close()
	org.Close()

	// The fix: the admin makes the field optional (same org data, new schema).
	sim, err = sfsim.New(sfsim.Options{ClientID: "cid", ClientSecret: "secret", DataFile: orgFile,
		ExtraFields: []sfdx.Field{{Object: "Case", FullName: "Region__c", Label: "Region", Type: "Text", Length: 40}}})
	if err != nil {
		t.Fatal(err)
	}
	org = httptest.NewServer(sim)
	defer org.Close()
	cfg.Salesforce.LoginURL = org.URL
	app, err = pipeline.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ids, err := app.Store.Replay(ctx, store.ReplayFilter{Reason: reason}, "test")
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("replay: %v %v", ids, err)
	}
	if _, err := app.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := app.Store.Message(ctx, id); m.State != store.StateDone {
		t.Fatalf("after replay: %s %s", m.State, m.LastError)
	}
	// Replaying again (nothing dead) is a no-op, and the email exists once.
	if ids, _ := app.Store.Replay(ctx, store.ReplayFilter{ID: id}, "test"); len(ids) != 0 {
		t.Errorf("a done message was replayed")
	}
	n := 0
	for _, em := range sim.Records("EmailMessage") {
		if id, _ := em["MessageIdentifier"].(string); strings.Contains(id, "permanent@example.com") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d EmailMessages for the replayed email, want 1", n)
	}
}

func logDead(t *testing.T, app *pipeline.App) {
	rows, _ := app.Store.DB().Query(`SELECT id, subject, reason, last_error FROM messages WHERE state='dead'`)
	defer rows.Close()
	for rows.Next() {
		var id int64
		var subj, reason, lastErr string
		rows.Scan(&id, &subj, &reason, &lastErr)
		t.Logf("dead: %d %q %s: %s", id, subj, reason, lastErr)
	}
}
