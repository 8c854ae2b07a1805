package pipeline_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// e2e is one end-to-end fixture: a real IMAP server holding the demo mail in
// two folders (support → INBOX, billing → Billing), the Salesforce emulator
// with the demo org, and a pipeline configured against both.
type e2e struct {
	imap *imaptest.Server
	sim  *sfsim.Server
	org  *httptest.Server
	cfg  *pipeline.Config
	mail []demo.Email
}

var folderOf = map[string]string{demo.MailboxSupport: "INBOX", demo.MailboxBilling: "Billing"}

func newE2E(t *testing.T, imap *imaptest.Server) *e2e {
	t.Helper()
	mail, err := demo.Mail()
	if err != nil {
		t.Fatal(err)
	}
	imap.CreateFolder(t, "Billing")
	for _, m := range mail {
		imap.Append(t, folderOf[m.Mailbox], m.Raw)
	}
	sim, err := sfsim.New(sfsim.Options{ClientID: "cid", ClientSecret: "secret", Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	org := httptest.NewServer(sim)
	t.Cleanup(org.Close)
	cfg := &pipeline.Config{
		Store: store.Config{Path: filepath.Join(t.TempDir(), "triage.db")},
		Mailboxes: []ingest.MailboxConfig{{
			Name: "support", Address: imap.Addr, TLS: "none", Username: imap.Username, Password: imap.Password,
			Folders: []string{"INBOX", "Billing"},
		}},
		Salesforce: &salesforce.Config{LoginURL: org.URL, Auth: salesforce.AuthConfig{
			Flow: salesforce.FlowClientCredentials, ClientID: "cid", ClientSecret: "secret"}},
	}
	cfg.Knowledge.Sources.Salesforce.Enabled = true
	cfg.Pipeline.MetricsAddr = "127.0.0.1:0"
	cfg.Review.Addr = "127.0.0.1:0"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &e2e{imap: imap, sim: sim, org: org, cfg: cfg, mail: mail}
}

func (e *e2e) app(t *testing.T) *pipeline.App {
	t.Helper()
	app, err := pipeline.New(context.Background(), e.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

func TestEndToEndMemServer(t *testing.T) {
	testEndToEnd(t, imaptest.StartMemServer(t))
}

func TestEndToEndDovecot(t *testing.T) {
	testEndToEnd(t, imaptest.StartDovecot(t))
}

func testEndToEnd(t *testing.T, imap *imaptest.Server) {
	e := newE2E(t, imap)
	app := e.app(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := app.Knowledge.Sync(ctx); err != nil {
		t.Fatalf("knowledge sync: %v", err)
	}
	callsBefore := e.sim.Stats().APICalls
	emailsBefore := len(e.sim.Records("EmailMessage"))
	sum, err := app.RunOnce(ctx)
	if err != nil {
		t.Fatalf("run once: %v", err)
	}
	if sum.Fetched != len(e.mail) {
		t.Errorf("fetched %d, want %d", sum.Fetched, len(e.mail))
	}
	// The duplicate delivered to both folders is one message.
	if sum.Counts.Total != len(e.mail)-1 {
		t.Errorf("recorded %d messages, want %d", sum.Counts.Total, len(e.mail)-1)
	}
	exp, err := demo.Expected()
	if err != nil {
		t.Fatal(err)
	}
	byMsgID := map[string]store.Message{}
	rows, err := app.Store.DB().QueryContext(ctx, `SELECT id FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		m, err := app.Store.Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !m.State.Final() {
			t.Errorf("message %d (%s) left in %s", m.ID, m.Subject, m.State)
		}
		byMsgID[m.MessageID] = m
	}
	for _, x := range exp {
		if x.MessageID == "" || x.Expect == demo.ExpectDuplicate {
			continue // no Message-ID to find it by; the duplicate is checked by the count above
		}
		m, ok := byMsgID[x.MessageID]
		if !ok {
			t.Errorf("%s: not recorded", x.File)
			continue
		}
		var d dedupe.Result
		_, _ = app.Store.StageData(ctx, m.ID, dedupe.StageName, &d)
		switch reason, skip := x.Skip(); {
		case skip:
			// Auto-mail about a known case joins that case as an activity instead of being skipped.
			if m.State != store.StateSkipped && !d.Activity {
				t.Errorf("%s: want skipped (%s) or attached as activity, got %s %q", x.File, reason, m.State, m.Reason)
			}
		case x.Expect == demo.ExpectDead:
			// Broken MIME is parsed best-effort (with warnings) or filed dead; never lost.
			if m.State != store.StateDead && m.State != store.StateDone {
				t.Errorf("%s: state %s", x.File, m.State)
			}
		default:
			if m.State != store.StateDone {
				t.Errorf("%s: state %s %q (%s), want done", x.File, m.State, m.Reason, m.LastError)
			}
			if x.Expect == demo.ExpectReply && !d.IsReply {
				t.Errorf("%s: not recognised as a reply (%+v)", x.File, d)
			}
		}
	}
	checkOrg(t, e, exp, emailsBefore)
	done := sum.Counts.ByState[store.StateDone]
	calls := e.sim.Stats().APICalls - callsBefore
	t.Logf("%d emails done with %d Salesforce API calls (%.2f per email)", done, calls, float64(calls)/float64(done))

	// A second pass fetches nothing, records nothing twice and writes nothing.
	sum2, err := app.RunOnce(ctx)
	if err != nil || sum2.Fetched != 0 || sum2.Counts.Total != sum.Counts.Total {
		t.Errorf("second pass: %+v %v", sum2, err)
	}
	checkOrg(t, e, exp, emailsBefore)
}

// checkOrg checks the emulated org against the labels: one Case per thread
// (carrying the AI fields), one EmailMessage per delivered email.
func checkOrg(t *testing.T, e *e2e, exp []demo.Expectation, emailsBefore int) {
	t.Helper()
	msgs := e.sim.Records("EmailMessage")
	perID := map[string]int{}
	for _, r := range msgs {
		id, _ := r["MessageIdentifier"].(string)
		perID[strings.Trim(id, "<>")]++
	}
	wantEmails := 0
	for _, x := range exp {
		if _, skip := x.Skip(); skip || x.Expect == demo.ExpectDuplicate || x.Expect == demo.ExpectDead {
			continue
		}
		wantEmails++
		if x.MessageID != "" && perID[x.MessageID] != 1 {
			t.Errorf("%s: %d EmailMessages with its Message-ID, want 1", x.File, perID[x.MessageID])
		}
	}
	if got := len(msgs) - emailsBefore; got < wantEmails {
		t.Errorf("%d new EmailMessages, want at least %d", got, wantEmails)
	}
	keys := map[string]int{}
	for _, c := range e.sim.Records("Case") {
		if k, _ := c["Triage_Key__c"].(string); k != "" {
			keys[k]++
			if c["AI_Category__c"] == nil || c["AI_Confidence__c"] == nil {
				t.Errorf("case %v lacks AI fields: %v", c["Id"], c)
			}
		}
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("thread key %s has %d cases", k, n)
		}
	}
	if len(keys) == 0 {
		t.Errorf("no case was created by the pipeline")
	}
}

func TestRunServesMetricsAndHealth(t *testing.T) {
	e := newE2E(t, imaptest.StartMemServer(t))
	app := e.app(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var addr string
	for i := 0; i < 200 && addr == ""; i++ {
		time.Sleep(10 * time.Millisecond)
		addr = app.MetricsAddr()
	}
	if addr == "" {
		t.Fatal("metrics endpoint never came up")
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	// Wait for the mail to flow, then the per-stage and queue series must be there.
	deadline := time.Now().Add(time.Minute)
	for {
		n, _, _ := app.Store.Pending(ctx)
		c, _ := app.Store.Counts(ctx)
		if n == 0 && c.Total > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline did not drain: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{`triage_messages{state="done"}`, `triage_stage_messages_total{outcome="advanced",stage="classify"}`,
		"triage_stage_duration_seconds_bucket", "triage_salesforce_api_calls_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d", code)
	}
	// The review UI is up too, and asks for a login… or, on loopback with no
	// user configured, serves the dashboard.
	resp, err := http.Get("http://" + app.ReviewAddr() + "/")
	if err != nil {
		t.Fatalf("review UI: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != http.StatusSeeOther {
		t.Errorf("review UI answered %d", resp.StatusCode)
	}
}

// TestBackfill: the demo mailbox's history written in /composite/graph
// batches lands exactly as in live mode, for a fraction of the API calls.
func TestBackfill(t *testing.T) {
	e := newE2E(t, imaptest.StartMemServer(t))
	app := e.app(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emailsBefore := len(e.sim.Records("EmailMessage"))
	callsBefore := e.sim.Stats().APICalls
	sum, rep, err := app.Backfill(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.Counts.ByState[store.StateDone] + sum.Counts.ByState[store.StateSkipped]; n != sum.Counts.Total {
		t.Errorf("not every message is final: %+v", sum.Counts.ByState)
		logDead(t, app)
	}
	done := sum.Counts.ByState[store.StateDone]
	calls := e.sim.Stats().APICalls - callsBefore
	t.Logf("backfill: %d emails done, %d API calls in all (%.3f per email), %d in the batched writes for %d emails", done, calls,
		float64(calls)/float64(done), rep.APICalls, rep.Emails)
	if rep.Written == 0 || float64(calls)/float64(done) >= 0.5 {
		t.Errorf("backfill did not batch: %+v, %d calls for %d emails", rep, calls, done)
	}
	exp, _ := demo.Expected()
	checkOrg(t, e, exp, emailsBefore)
}
