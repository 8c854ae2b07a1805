package pipeline_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/store"
)

// deliverCorpus appends n generated support emails to folder and adds their
// Message-IDs to delivered.
func deliverCorpus(t *testing.T, srv *imaptest.Server, folder string, n int, seed uint64, delivered map[string]bool) {
	t.Helper()
	msgs := imaptest.Corpus(n, seed)
	srv.AppendMany(t, folder, msgs)
	for _, m := range msgs {
		delivered[messageID(m)] = true
	}
}

func recordedCount(st *store.Store) int {
	var n int
	st.DB().QueryRow(`SELECT count(*) FROM messages`).Scan(&n)
	return n
}

// TestReliabilityIMAPDovecotRestart (issue 9, "IMAP faults"): a real Dovecot
// is stopped in the middle of the fetch and started again over the same
// Maildir (on a new port, behind a proxy that keeps the address triage
// knows); more mail arrives after the restart and is picked up by IDLE.
// Nothing is lost, nothing duplicated, in the store or in Salesforce.
func TestReliabilityIMAPDovecotRestart(t *testing.T) {
	t.Parallel()                        // the suite waits on timers and child processes more than on CPU
	dir, err := os.MkdirTemp("", "dvr") // short: Dovecot's socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, stop, err := imaptest.LaunchDovecot(dir)
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") == "" {
		t.Skip("Dovecot not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stop() }()
	e := newE2E(t, srv)
	emailsBefore := len(e.sim.Records("EmailMessage"))
	delivered := demoDelivered(e.mail)
	n := pick(3000, 400)
	deliverCorpus(t, srv, "INBOX", n, 91, delivered)
	px := startProxy(t, srv.Addr)
	e.cfg.Mailboxes[0].Address = px.Addr()
	e.cfg.Mailboxes[0].After = "flag"
	e.cfg.Mailboxes[0].BatchSize = 20
	e.cfg.Pipeline.Lease = 5 * time.Second
	var logs logBuffer
	app, err := pipeline.New(context.Background(), e.cfg, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	start := time.Now()
	runApp(t, app)

	restarts := pick(5, 1)
	for i := range restarts {
		// Stop once part of the mailbox is in: the fetch is under way.
		want := len(delivered) * (i + 1) / (restarts + 2)
		waitFor(t, time.Minute, "part of the mailbox to be recorded", func() (bool, string) {
			return recordedCount(app.Store) >= want, ""
		})
		atStop := recordedCount(app.Store)
		stop()
		time.Sleep(300 * time.Millisecond) // down for a moment: connections refused
		srv, stop, err = imaptest.LaunchDovecot(dir)
		if err != nil {
			t.Fatal(err)
		}
		px.SetTarget(srv.Addr)
		t.Logf("restart %d: Dovecot stopped with %d of %d messages recorded", i+1, atStop, len(delivered))
		if atStop >= len(delivered)-1 {
			t.Errorf("restart %d came after the fetch: the test proves nothing", i+1)
		}
		// Mail that arrives after the restart comes in through IDLE.
		deliverCorpus(t, srv, "INBOX", 20, 1000+uint64(i), delivered)
	}
	waitFor(t, 3*time.Minute, "every delivered message to be recorded and final", func() (bool, string) {
		ok, state := settled(app.Store, delivered)()
		return ok, state + "; log tail:\n" + logs.tail()
	})
	t.Logf("%d messages through %d Dovecot restarts in %s", len(delivered), restarts, time.Since(start).Round(time.Millisecond))
	checkStore(t, app.Store, delivered, false)
	checkExactlyOnce(t, app.Store, e.sim, emailsBefore)
}

// TestReliabilityIMAPCutConnections: a proxy between triage and the server
// cuts most connections after a random number of bytes (mid-literal, mid-IDLE)
// and now and then cuts every connection at once, while mail keeps arriving.
func TestReliabilityIMAPCutConnections(t *testing.T) {
	t.Parallel() // the suite waits on timers and child processes more than on CPU
	srv := imaptest.StartMemServer(t)
	e := newE2E(t, srv)
	emailsBefore := len(e.sim.Records("EmailMessage"))
	delivered := demoDelivered(e.mail)
	deliverCorpus(t, srv, "INBOX", pick(1000, 80), 92, delivered)
	px := startProxy(t, srv.Addr)
	px.SetCutting(true)
	e.cfg.Mailboxes[0].Address = px.Addr()
	e.cfg.Mailboxes[0].After = "flag"
	e.cfg.Mailboxes[0].BatchSize = 10
	app := e.app(t)
	start := time.Now()
	runApp(t, app)
	rounds := pick(30, 4)
	for i := range rounds {
		time.Sleep(300 * time.Millisecond)
		px.CutAll()
		deliverCorpus(t, srv, "INBOX", 10, 2000+uint64(i), delivered)
		if i%2 == 0 {
			deliverCorpus(t, srv, "Billing", 5, 3000+uint64(i), delivered)
		}
	}
	// The last connections must be allowed to live long enough to finish.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(pick(20*time.Second, 5*time.Second))
		if ctx.Err() == nil {
			px.SetCutting(false)
		}
	}()
	waitFor(t, 3*time.Minute, "every delivered message to be recorded and final", settled(app.Store, delivered))
	if px.Cuts() == 0 {
		t.Fatal("no connection was cut: the test proves nothing")
	}
	t.Logf("%d messages, %d connections cut, %d accepted, in %s", len(delivered), px.Cuts(), px.accepts.Load(), time.Since(start).Round(time.Millisecond))
	checkStore(t, app.Store, delivered, false)
	checkExactlyOnce(t, app.Store, e.sim, emailsBefore)
}

// TestReliabilityIMAPUIDValidityReset: a folder is deleted and re-created
// under triage's feet (new UIDVALIDITY), then filled again with the same
// emails plus new ones. The old ones are recognised (not recorded or written
// twice), the new ones come in.
//
// Neither go-imap's server nor Dovecot tells an IDLE on the deleted folder
// that it is gone, so the syncer notices the new folder at its next IDLE
// refresh (idle_refresh, 25 minutes by default): the test shortens it.
func TestReliabilityIMAPUIDValidityReset(t *testing.T) {
	t.Parallel() // the suite waits on timers and child processes more than on CPU
	servers := []func(testing.TB, ...imaptest.Option) *imaptest.Server{imaptest.StartMemServer}
	if soak() {
		servers = append(servers, imaptest.StartDovecot)
	}
	for _, start := range servers {
		srv := start(t)
		t.Run(srv.Kind, func(t *testing.T) {
			e := newE2E(t, srv)
			emailsBefore := len(e.sim.Records("EmailMessage"))
			delivered := demoDelivered(e.mail)
			e.cfg.Mailboxes[0].IdleRefresh = 2 * time.Second
			app := e.app(t)
			runApp(t, app)
			waitFor(t, time.Minute, "the demo mailbox", settled(app.Store, delivered))
			var billing [][]byte
			for _, m := range e.mail {
				if folderOf[m.Mailbox] == "Billing" {
					billing = append(billing, m.Raw)
				}
			}
			before := srv.UIDValidity(t, "Billing")
			for round := range pick(5, 1) {
				srv.ResetFolder(t, "Billing")
				if after := srv.UIDValidity(t, "Billing"); after == before {
					t.Fatalf("UIDVALIDITY did not change (%d)", after)
				} else {
					before = after
				}
				srv.AppendMany(t, "Billing", billing)
				deliverCorpus(t, srv, "Billing", 10, 4000+uint64(round), delivered)
				waitFor(t, time.Minute, "the refilled folder", settled(app.Store, delivered))
			}
			checkStore(t, app.Store, delivered, false)
			checkExactlyOnce(t, app.Store, e.sim, emailsBefore)
		})
	}
}
