package pipeline_test

// Shared pieces of the reliability suite (issue 9): the soak switch, a TCP
// proxy that can be re-pointed and can cut connections, and the "nothing lost,
// nothing duplicated" checks every scenario ends with.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"net/mail"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// soak reports whether the long versions run: `go test -tags soak` or
// TRIAGE_SOAK=1. Without it each scenario runs a short version sized for CI.
func soak() bool { return soakTag || os.Getenv("TRIAGE_SOAK") == "1" }

// pick returns the soak or the short value.
func pick[T any](soakValue, short T) T {
	if soak() {
		return soakValue
	}
	return short
}

// discardLog is a logger for apps whose output the test does not read.
func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logBuffer collects log lines (concurrent-safe) so a test can assert what
// the operator would have seen.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) tail() string {
	s := b.String()
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// proxy forwards loopback TCP to a target that can change (a restarted
// server on a new port) and can cut connections: all at once (CutAll) or each
// after a random number of server bytes (SetCutting).
type proxy struct {
	ln      net.Listener
	target  atomic.Value // string
	cutting atomic.Bool
	mu      sync.Mutex
	rng     *rand.Rand
	conns   map[net.Conn]bool
	cuts    atomic.Int64
	accepts atomic.Int64
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, conns: map[net.Conn]bool{}, rng: rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))}
	p.target.Store(target)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.CutAll() })
	return p
}

func (p *proxy) Addr() string            { return p.ln.Addr().String() }
func (p *proxy) SetTarget(target string) { p.target.Store(target) }
func (p *proxy) SetCutting(on bool)      { p.cutting.Store(on) }
func (p *proxy) Cuts() int64             { return p.cuts.Load() }
func (p *proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

// CutAll closes every open connection; it returns how many it cut.
func (p *proxy) CutAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		c.Close()
		n++
	}
	p.cuts.Add(int64(n / 2))
	return n / 2
}

func (p *proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepts.Add(1)
		go p.handle(client)
	}
}

func (p *proxy) handle(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target.Load().(string), 2*time.Second)
	if err != nil {
		client.Close() // the server is down: the client sees a reset, as in life
		return
	}
	p.track(client, true)
	p.track(server, true)
	defer func() {
		client.Close()
		server.Close()
		p.track(client, false)
		p.track(server, false)
	}()
	budget := int64(1 << 50)
	if p.cutting.Load() {
		p.mu.Lock()
		if p.rng.IntN(8) != 0 { // now and then a connection survives
			budget = int64(1<<10 + p.rng.IntN(200<<10))
		}
		p.mu.Unlock()
	}
	go func() {
		_, _ = io.Copy(server, client)
		server.Close()
	}()
	n, _ := io.Copy(client, io.LimitReader(server, budget))
	if n == budget {
		p.cuts.Add(1)
	}
}

// runApp runs `triage run` (App.Run: IDLE, workers) until the returned stop is called.
func runApp(t *testing.T, app *pipeline.App) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settled is a waitFor condition: every delivered Message-ID is recorded and
// every message is in a final state.
func settled(st *store.Store, delivered map[string]bool) func() (bool, string) {
	return func() (bool, string) {
		ctx := context.Background()
		n, _, err := st.Pending(ctx)
		if err != nil {
			return false, err.Error()
		}
		got, err := recordedIDs(st.DB())
		if err != nil {
			return false, err.Error()
		}
		missing := 0
		for id := range delivered {
			if got[id] == 0 {
				missing++
			}
		}
		return n == 0 && missing == 0, fmt.Sprintf("%d pending, %d of %d delivered not recorded", n, missing, len(delivered))
	}
}

// recordedIDs counts message rows by Message-ID.
func recordedIDs(db *sql.DB) (map[string]int, error) {
	rows, err := db.Query(`SELECT message_id FROM messages`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		got[id]++
	}
	return got, rows.Err()
}

// messageID reads a raw message's Message-ID (without brackets).
func messageID(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(m.Header.Get("Message-ID")), "<>")
}

// checkStore asserts the store side of "nothing lost, nothing duplicated":
// every delivered Message-ID is recorded exactly once (each distinct email is
// delivered with a distinct Message-ID here; byte-identical re-deliveries are
// one message), every message is final, each skipped/dead one has a reason,
// and (unless allowDead) nothing is dead.
func checkStore(t *testing.T, st *store.Store, delivered map[string]bool, allowDead bool) store.Counts {
	t.Helper()
	got, err := recordedIDs(st.DB())
	if err != nil {
		t.Fatal(err)
	}
	for id := range delivered {
		if got[id] != 1 {
			t.Errorf("Message-ID %s recorded %d times, want 1", id, got[id])
		}
	}
	rows, err := st.DB().Query(`SELECT id, state, reason, last_error, subject FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var state, reason, lastErr, subj string
		rows.Scan(&id, &state, &reason, &lastErr, &subj)
		switch store.State(state) {
		case store.StateDone:
		case store.StateSkipped:
			if reason == "" {
				t.Errorf("message %d (%.40q) skipped without a reason", id, subj)
			}
		case store.StateDead:
			if reason == "" || lastErr == "" {
				t.Errorf("message %d (%.40q) dead without reason/error: %q %q", id, subj, reason, lastErr)
			}
			if !allowDead {
				t.Errorf("message %d (%.40q) dead: %s: %s", id, subj, reason, lastErr)
			}
		default:
			t.Errorf("message %d (%.40q) left in %s", id, subj, state)
		}
	}
	c, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// contactsByAddress counts the org's Contacts by normalised Email.
func contactsByAddress(sim *sfsim.Server) map[string]int {
	out := map[string]int{}
	for _, c := range sim.Records("Contact") {
		e, _ := c["Email"].(string)
		if e == "" {
			continue
		}
		n, err := dedupe.NormalizeAddress(e, dedupe.AddressOptions{})
		if err != nil {
			n = strings.ToLower(e)
		}
		out[n]++
	}
	return out
}

// checkContacts: no address has more Contacts than before the run, and none
// the run created is duplicated.
func checkContacts(t *testing.T, sim *sfsim.Server, before map[string]int) {
	t.Helper()
	after := contactsByAddress(sim)
	added := 0
	for addr, n := range after {
		added += n - before[addr]
		if n > 1 && n > before[addr] {
			t.Errorf("Contact %s exists %d times (was %d)", addr, n, before[addr])
		}
	}
	t.Logf("%d Contacts added, none duplicated", added)
}

// newFixture is newE2E (demo mail in INBOX and Billing, the demo org, a
// pipeline config against both) with the emulator built from opts.
func newFixture(t *testing.T, imap *imaptest.Server, opts sfsim.Options) *e2e {
	t.Helper()
	e := newE2E(t, imap)
	opts.ClientID, opts.ClientSecret, opts.Seed = "cid", "secret", "demo"
	sim, err := sfsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	org := httptest.NewServer(sim)
	t.Cleanup(org.Close)
	e.sim, e.org = sim, org
	e.cfg.Salesforce.LoginURL = org.URL
	return e
}

// demoDelivered is the set of Message-IDs of the demo mailbox.
func demoDelivered(mail []demo.Email) map[string]bool {
	out := map[string]bool{}
	for _, m := range mail {
		if id := messageID(m.Raw); id != "" {
			out[id] = true
		}
	}
	return out
}
