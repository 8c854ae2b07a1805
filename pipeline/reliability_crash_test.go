package pipeline_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// TestReliabilityCrash (issue 9, "Crash"): SIGKILL the pipeline process at
// random points, 100 times in soak (15 in CI), while every round brings new
// mail: the demo mailbox, then follow-ups, re-deliveries and mail from new
// senders written in varying forms (case, +tags) so Contacts are created
// while kills land. Salesforce (the emulator, with latency so the kills land
// in its writes too) outlives the kills. After each restart the run goes on;
// at the end one run completes and: every message is final, every thread has
// exactly one Case, every email exactly one EmailMessage, no Contact is
// duplicated, nothing delivered is missing.
func TestReliabilityCrash(t *testing.T) {
	t.Parallel()           // the suite waits on timers and child processes more than on CPU
	kills := pick(100, 50) // at least 50 in every run (issue 7), 100 in soak (issue 9)
	imap := imaptest.StartMemServer(t)
	imap.CreateFolder(t, "Billing")
	mail, err := demo.Mail()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := sfsim.New(sfsim.Options{ClientID: "cid", ClientSecret: "secret", Seed: "demo",
		Faults: sfsim.Faults{LatencyMS: 40}})
	if err != nil {
		t.Fatal(err)
	}
	org := httptest.NewServer(sim)
	defer org.Close()
	emailsBefore := len(sim.Records("EmailMessage"))
	contactsBefore := contactsByAddress(sim)

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "triage.db")
	cfgPath := filepath.Join(dir, "triage.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, `
store: {path: %s}
log: {level: warn}
pipeline:
  retry_schedule: [50ms, 100ms, 200ms, 400ms, 800ms]
  lease: 2s
mailboxes:
  - {name: support, address: %q, tls: none, username: %s, password: %s, folders: [INBOX, Billing], after: flag, batch_size: 5}
salesforce:
  login_url: %s
  auth: {flow: client_credentials, client_id: cid, client_secret: secret}
`, dbPath, imap.Addr, imap.Username, imap.Password, org.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	seedModel(t, dbPath)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(11, seed))
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
		limit := killAfter
		if killAfter == 0 {
			limit = 3 * time.Minute
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child failed: %v\n%s", err, out.String())
			}
			return true
		case <-time.After(limit):
			_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
			<-done
			if killAfter == 0 {
				t.Fatalf("the final run did not finish:\n%s", out.String())
			}
			return false
		}
	}

	delivered := map[string]bool{}
	deliver := func(folder string, raw []byte) {
		imap.Append(t, folder, raw)
		if id := messageID(raw); id != "" {
			delivered[id] = true
		}
	}
	// Where did the kills land? Read after each kill from the durable state.
	landed := map[string]int{}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	observe := func() {
		var received, deduped, classified, enriched, sending int
		db.QueryRow(`SELECT count(*) FILTER (WHERE state='received'), count(*) FILTER (WHERE state='deduped'),
			count(*) FILTER (WHERE state='classified'), count(*) FILTER (WHERE state='enriched') FROM messages`).
			Scan(&received, &deduped, &classified, &enriched)
		db.QueryRow(`SELECT count(*) FROM cases_writes WHERE state='sending'`).Scan(&sending)
		unacked := 0
		for _, folder := range []string{"INBOX", "Billing"} {
			for _, flags := range imap.Messages(t, folder) {
				if !imaptest.HasFlag(flags, "$Triaged") {
					unacked++
				}
			}
		}
		if unacked > 0 {
			landed["ingest (mail not yet acked)"]++
		}
		if received+deduped > 0 {
			landed["dedupe/classification pending"]++
		}
		if classified+enriched > 0 {
			landed["knowledge/Salesforce writes pending"]++
		}
		if sending > 0 {
			landed["inside a Salesforce write (ledger 'sending')"]++
		}
	}

	finishedEarly := 0
	start := time.Now()
	next := 0
	for round := range kills {
		switch {
		case next < len(mail):
			for range min(8, len(mail)-next) {
				m := mail[next]
				deliver(folderOf[m.Mailbox], m.Raw)
				next++
			}
		default:
			orig := mail[rng.IntN(len(mail))]
			deliver("INBOX", crashReply(1000+round, orig.Raw))
			if round%4 == 0 {
				imap.Append(t, "Billing", orig.Raw) // the same email again, in another folder
			}
		}
		// New senders, in varying spellings, each round: Contacts are created
		// (and must not be duplicated) while the kills land.
		for i := range 5 {
			deliver("INBOX", newSenderMail(rng, round, i))
		}
		if run(time.Duration(100+rng.IntN(1100)) * time.Millisecond) {
			finishedEarly++
		} else {
			observe()
		}
	}
	killPhase := time.Since(start)
	start = time.Now()
	run(0)
	t.Logf("%d kills in %s (%d runs finished before their kill); final run %s; kills landed: %v",
		kills, killPhase.Round(time.Millisecond), finishedEarly, time.Since(start).Round(time.Millisecond), landed)
	if soak() && len(landed) < 4 {
		t.Errorf("the kills did not land in every phase: %v", landed)
	}

	st, err := store.Open(context.Background(), store.Config{Path: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkStore(t, st, delivered, false)
	checkExactlyOnce(t, st, sim, emailsBefore)
	checkContacts(t, sim, contactsBefore)
}

// newSenderMail is a support email from one of a small pool of new customers,
// the address spelled differently each time (case, +tag), so the same Contact
// is looked up and created from several messages in flight.
func newSenderMail(rng *rand.Rand, round, i int) []byte {
	people := []string{"nadia.okafor", "tomas.lindqvist", "mei.tanaka", "rafael.souza", "ingrid.berg", "yusuf.demir"}
	p := people[rng.IntN(len(people))]
	local := p
	switch rng.IntN(3) {
	case 1:
		local = strings.ToUpper(p[:1]) + p[1:]
	case 2:
		local = p + "+orders"
	}
	return fmt.Appendf(nil, "From: %s <%s@Example-Customer.com>\r\nTo: support@northwind.example\r\n"+
		"Subject: Order %d-%d has not arrived\r\nMessage-ID: <crash-new-%d-%d@example-customer.com>\r\n"+
		"Date: Mon, 23 Nov 2026 13:%02d:00 +0000\r\n\r\nHello, my order %d-%d was due last week and has not arrived. Can you check?\r\n",
		p, local, round, i, round, i, round%60, round, i)
}
