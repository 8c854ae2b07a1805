package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

const crashEnvConfig = "TRIAGE_PIPELINE_CRASH_CONFIG"

// TestPipelineCrashChild is the child process of TestPipelineCrash: it runs
// the pipeline once over the mailbox, unless it is killed first.
func TestPipelineCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvConfig)
	if path == "" {
		t.Skip("child process of TestPipelineCrash only")
	}
	cfg, err := pipeline.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	app, err := pipeline.New(context.Background(), cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPipelineCrash kills the whole pipeline with SIGKILL at random points,
// many times, over a mailbox with replies and duplicates, then lets one run
// finish. Salesforce (the emulator) outlives the kills, as a real org would:
// afterwards every thread has exactly one Case and every email exactly one
// EmailMessage.
func TestPipelineCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	kills := 50
	if v := os.Getenv("TRIAGE_CRASH_KILLS"); v != "" {
		fmt.Sscan(v, &kills)
	}
	imap := imaptest.StartMemServer(t)
	imap.CreateFolder(t, "Billing")
	mail, err := demo.Mail()
	if err != nil {
		t.Fatal(err)
	}
	// Latency on every Salesforce call stretches each round so the kills land
	// in every stage, Salesforce writes included.
	sim, err := sfsim.New(sfsim.Options{ClientID: "cid", ClientSecret: "secret", Seed: "demo",
		Faults: sfsim.Faults{LatencyMS: 15}})
	if err != nil {
		t.Fatal(err)
	}
	org := httptest.NewServer(sim)
	defer org.Close()
	emailsBefore := len(sim.Records("EmailMessage"))

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	os.WriteFile(cfgPath, fmt.Appendf(nil, `
store: {path: %s}
log: {level: warn}
pipeline:
  retry_schedule: [50ms, 100ms, 200ms, 400ms]
  lease: 2s
mailboxes:
  - {name: support, address: %q, tls: none, username: %s, password: %s, folders: [INBOX, Billing], after: flag, batch_size: 5}
salesforce:
  login_url: %s
  auth: {flow: client_credentials, client_id: cid, client_secret: secret}
`, filepath.Join(dir, "triage.db"), imap.Addr, imap.Username, imap.Password, org.URL), 0o600)

	// Train the offline model once and store it, so each child starts in
	// milliseconds instead of retraining.
	seedModel(t, filepath.Join(dir, "triage.db"))

	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	run := func(killAfter time.Duration) (finished bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnvConfig+"="+cfgPath)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		timer := time.After(killAfter)
		if killAfter == 0 {
			timer = time.After(2 * time.Minute)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child failed: %v\n%s", err, out.String())
			}
			return true
		case <-timer:
			_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
			<-done
			if killAfter == 0 {
				t.Fatalf("child did not finish:\n%s", out.String())
			}
			return false
		}
	}
	// Each round delivers new mail, then starts the pipeline and kills it at a
	// random point: first the demo mailbox in chunks (threads, replies, the
	// duplicate to both folders, auto-replies), then replies to it and
	// re-deliveries of mail already seen.
	delivered := 0
	finishedEarly := 0
	for round := range kills {
		switch {
		case delivered < len(mail):
			for range min(6, len(mail)-delivered) {
				m := mail[delivered]
				imap.Append(t, folderOf[m.Mailbox], m.Raw)
				delivered++
			}
		default:
			orig := mail[rng.IntN(len(mail))]
			imap.Append(t, "INBOX", crashReply(round, orig.Raw))
			if round%5 == 0 {
				imap.Append(t, "Billing", orig.Raw) // the same email again, in another folder
			}
		}
		if run(time.Duration(20+rng.IntN(600)) * time.Millisecond) {
			finishedEarly++
		}
	}
	start := time.Now()
	run(0)
	t.Logf("%d kills (%d runs finished before their kill); final run took %s", kills, finishedEarly, time.Since(start))

	st, err := store.Open(context.Background(), store.Config{Path: filepath.Join(dir, "triage.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, _ := st.Counts(context.Background())
	if n := c.ByState[store.StateDone] + c.ByState[store.StateSkipped]; n != c.Total {
		t.Errorf("not every message is done or skipped: %+v", c.ByState)
		rows, _ := st.DB().Query(`SELECT id, subject, reason, last_error FROM messages WHERE state='dead'`)
		for rows.Next() {
			var id int64
			var subj, reason, lastErr string
			rows.Scan(&id, &subj, &reason, &lastErr)
			t.Errorf("dead: %d %q %s: %s", id, subj, reason, lastErr)
		}
		rows.Close()
	}
	checkExactlyOnce(t, st, sim, emailsBefore)
}

// crashReply makes a customer's follow-up to a delivered email.
func crashReply(n int, orig []byte) []byte {
	h := func(name string) string {
		for _, line := range strings.Split(string(orig), "\r\n") {
			if strings.HasPrefix(strings.ToLower(line), strings.ToLower(name)+":") {
				return strings.TrimSpace(line[len(name)+1:])
			}
			if line == "" {
				break
			}
		}
		return ""
	}
	return fmt.Appendf(nil, "From: %s\r\nTo: support@northwind.example\r\nSubject: Re: %s\r\n"+
		"Message-ID: <crash-reply-%d@example.com>\r\nIn-Reply-To: %s\r\nReferences: %s\r\n"+
		"Date: Mon, 23 Nov 2026 12:%02d:00 +0000\r\n\r\nAny news on this? (follow-up %d)\r\n",
		h("From"), h("Subject"), n, h("Message-ID"), h("Message-ID"), n%60, n)
}

// checkExactlyOnce checks Salesforce against the store: every email the cases
// stage wrote has exactly one EmailMessage, every thread key exactly one Case.
func checkExactlyOnce(t *testing.T, st *store.Store, sim *sfsim.Server, emailsBefore int) {
	t.Helper()
	perID := map[string]int{}
	for _, r := range sim.Records("EmailMessage") {
		id, _ := r["MessageIdentifier"].(string)
		perID[strings.Trim(id, "<>")]++
	}
	rows, err := st.DB().Query(`SELECT m.message_id FROM messages m JOIN stage_data d ON d.message_id = m.id
		WHERE d.stage = 'cases' AND json_extract(d.data, '$.action') IN ('created', 'updated', 'closed', 'reopened', 'escalated')`)
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for rows.Next() {
		var mid string
		rows.Scan(&mid)
		written++
		if perID[mid] != 1 {
			t.Errorf("message %s has %d EmailMessages, want 1", mid, perID[mid])
		}
	}
	rows.Close()
	if written == 0 {
		t.Fatal("the cases stage wrote nothing: the test proves nothing")
	}
	keys := map[string]int{}
	for _, c := range sim.Records("Case") {
		if k, _ := c["Triage_Key__c"].(string); k != "" {
			keys[k]++
		}
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("thread key %s has %d cases", k, n)
		}
	}
	t.Logf("%d emails written, %d cases by thread key, %d EmailMessages added", written, len(keys), len(sim.Records("EmailMessage"))-emailsBefore)
}

// seedModel stores a trained offline model in the database at path.
func seedModel(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var cfg classify.Config
	cfg.SetDefaults()
	m, err := classify.TrainDefault(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if err := st.PutModel(ctx, classify.StoredModelName, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}
