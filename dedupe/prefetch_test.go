package dedupe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// demoBacklog is the demo mailbox recorded in full before dedupe runs (a
// backlog, as the pipeline sees it), against a freshly seeded demo org.
type demoBacklog struct {
	org   *sfsim.Server
	sf    *salesforce.Client
	st    *store.Store
	stage *Stage
	api   *soqlLog
	msgs  []store.Message
	exp   []demo.Expectation // label of each of msgs
	names []string
}

func newDemoBacklog(t *testing.T) *demoBacklog {
	t.Helper()
	mails, err := demo.Mail()
	if err != nil {
		t.Fatal(err)
	}
	exp, err := demo.Expected()
	if err != nil {
		t.Fatal(err)
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
	// The clock stands just after the last email, as when a backlog is worked off.
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	st := openStore(t, "", clk.Now)
	cfg := Config{OwnAddresses: []string{demo.Address(demo.MailboxSupport), demo.Address(demo.MailboxBilling)}}
	b := &demoBacklog{org: org, sf: sf, st: st}
	b.api = &soqlLog{SalesforceAPI: sf}
	b.stage = NewStage(cfg, st, b.api, nil, clk.Now)
	ctx := context.Background()
	uid := map[string]uint32{}
	for i, m := range mails {
		sum := sha256.Sum256(m.Raw)
		sha := hex.EncodeToString(sum[:])
		p, perr := ingest.Parse(m.Raw, sha)
		if perr != nil {
			continue
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
			continue
		}
		msg, err := st.Message(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		b.msgs = append(b.msgs, msg)
		b.exp = append(b.exp, exp[i])
		b.names = append(b.names, fmt.Sprintf("%s (%s)", m.Name, m.Mailbox))
	}
	return b
}

// run processes the backlog in the runner's order, in batches of four
// (the default worker count), calling Prefetch before each batch when
// prefetch is set. It returns the decisions and dedupe's API calls.
func (b *demoBacklog) run(t *testing.T, prefetch bool) ([]Result, int64) {
	t.Helper()
	ctx := context.Background()
	before := b.org.Stats().APICalls
	out := make([]Result, len(b.msgs))
	for start := 0; start < len(b.msgs); start += 4 {
		batch := b.msgs[start:min(start+4, len(b.msgs))]
		if prefetch {
			if err := b.stage.Prefetch(ctx, batch); err != nil {
				t.Fatalf("prefetch: %v", err)
			}
		}
		for i, m := range batch {
			r, err := b.stage.Process(ctx, m, nil)
			if err != nil {
				t.Fatalf("%s: %v", b.names[start+i], err)
			}
			out[start+i] = r
			// Leave the state as the runner would, so the lookahead moves on.
			if err := b.st.Advance(ctx, b.stage.Transition(m, r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out, b.org.Stats().APICalls - before
}

// TestDemoMailboxPrefetch: with Prefetch before each batch the demo
// mailbox gets exactly the decisions it gets without, for a handful of API
// calls instead of a few per email.
func TestDemoMailboxPrefetch(t *testing.T) {
	plain := newDemoBacklog(t)
	want, plainCalls := plain.run(t, false)
	pre := newDemoBacklog(t)
	got, preCalls := pre.run(t, true)
	if len(got) != len(want) || len(got) < 50 {
		t.Fatalf("%d and %d decisions", len(got), len(want))
	}
	threadKeys := map[string]string{}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			t.Errorf("%s: with prefetch\n%s\nwithout\n%s", pre.names[i], g, w)
		}
		checkDemo(t, pre.names[i], pre.exp[i], got[i], threadKeys)
	}
	t.Logf("%d messages: %d API calls without prefetch (%.2f per message), %d with (%.2f per message)",
		len(got), plainCalls, float64(plainCalls)/float64(len(got)), preCalls, float64(preCalls)/float64(len(got)))
	for _, q := range pre.api.queries() {
		t.Logf("prefetch run: %.200s", q)
	}
	if preCalls > 7 {
		t.Errorf("dedupe made %d API calls for %d messages with prefetch, want at most 7 (5 measured)", preCalls, len(got))
	}
	if plainCalls <= preCalls {
		t.Errorf("prefetch saved nothing: %d calls without, %d with", plainCalls, preCalls)
	}
}

// soqlLog records the SOQL sent, to show what the calls were.
type soqlLog struct {
	SalesforceAPI
	mu sync.Mutex
	qs []string
}

func (l *soqlLog) Query(ctx context.Context, soql string, dst any) error {
	l.mu.Lock()
	l.qs = append(l.qs, soql)
	l.mu.Unlock()
	return l.SalesforceAPI.Query(ctx, soql, dst)
}

func (l *soqlLog) queries() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.qs...)
}

// TestPrefetchNegativeKeepsOneContact: a prefetch that found no contact for
// an address does not break "one Contact per address": 50 concurrent
// resolutions create exactly one, and when someone else created it in
// Salesforce after the prefetch (so the cached answer is stale), they all
// end up with that contact instead of a second one.
func TestPrefetchNegativeKeepsOneContact(t *testing.T) {
	for _, createdElsewhere := range []bool{false, true} {
		t.Run(fmt.Sprintf("created_elsewhere=%v", createdElsewhere), func(t *testing.T) {
			e, c := simStage(t, Config{})
			ctx := context.Background()
			const addr = "brand.new@customer.example"
			m := e.rec.record(t, email("first@customer.example", "Brand New <"+addr+">", "Hello", ""), "INBOX")
			if err := e.stage.Prefetch(ctx, []store.Message{m}); err != nil {
				t.Fatal(err)
			}
			if recs, ok := e.stage.pfContactsFor(addr, []string{addr}); !ok || len(recs) != 0 {
				t.Fatalf("prefetch: want a negative answer for %s, got %v %v", addr, recs, ok)
			}
			var existing string
			if createdElsewhere {
				var err error
				existing, err = c.Create(ctx, "Contact", map[string]any{"LastName": "New", "Email": addr})
				if err != nil {
					t.Fatal(err)
				}
			}
			const n = 50
			ids := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r, err := e.stage.ResolveContact(ctx, addr, "Brand New", addr)
					switch {
					case err != nil:
						errs[i] = err
					case r.ContactID != "":
						ids[i] = r.ContactID
					case r.Create == nil:
						errs[i] = fmt.Errorf("neither contact nor create: %+v", r)
					default:
						ids[i], errs[i] = e.stage.EnsureContact(ctx, *r.Create)
					}
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("goroutine %d: %v", i, errs[i])
				}
				if ids[i] == "" || ids[i] != ids[0] {
					t.Fatalf("goroutine %d got %q, goroutine 0 %q", i, ids[i], ids[0])
				}
			}
			if createdElsewhere && ids[0] != existing {
				t.Fatalf("got contact %s, the one created elsewhere is %s", ids[0], existing)
			}
			var contacts []struct {
				ID string `json:"Id"`
			}
			if err := c.Query(ctx, "SELECT Id FROM Contact WHERE Email = "+salesforce.QuoteSOQL(addr), &contacts); err != nil {
				t.Fatal(err)
			}
			if len(contacts) != 1 || contacts[0].ID != ids[0] {
				t.Fatalf("contacts with %s in the org: %+v", addr, contacts)
			}
		})
	}
}

// TestPrefetchManySenders: hundreds of senders are looked up in a few
// queries, each under the length limit, every literal quoted; Process then
// needs no query of its own and finds the same contacts.
func TestPrefetchManySenders(t *testing.T) {
	e, c := simStage(t, Config{})
	ctx := context.Background()
	log := &soqlLog{SalesforceAPI: c}
	e.stage = NewStage(Config{}, e.st, log, nil, e.clock.Now)
	acc, err := c.Create(ctx, "Account", map[string]any{"Name": "Quote Corp", "Website": "https://quote.example"})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	long := "a.long.local.part.to.need.several.queries@many-senders.example"
	for _, a := range []string{"o'brien@quote.example", "sender17." + long, "back\\slash@quote.example"} {
		id, err := c.Create(ctx, "Contact", map[string]any{"LastName": "Known", "Email": a, "AccountId": acc})
		if err != nil {
			t.Fatal(err)
		}
		known[a] = id
	}
	var msgs []store.Message
	var addrs []string
	for i := range 400 {
		addrs = append(addrs, fmt.Sprintf("sender%d.%s", i, long))
	}
	addrs = append(addrs, "o'brien@quote.example", "back\\slash@quote.example")
	for i, a := range addrs {
		p := email(fmt.Sprintf("m%d@many.example", i), a, fmt.Sprintf("Question %d", i), "")
		msgs = append(msgs, e.rec.record(t, p, "INBOX"))
	}
	// As the runner does: a batch of four, prefetch, process, advance.
	before := 0
	for start := 0; start < len(msgs); start += 4 {
		batch := msgs[start:min(start+4, len(msgs))]
		if err := e.stage.Prefetch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		before = len(log.queries())
		for i, m := range batch {
			r, err := e.stage.Process(ctx, m, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := known[addrs[start+i]]; r.ContactID != want || want == "" && r.CreateContact == nil {
				t.Errorf("%s: contact %q create %v, want %q", addrs[start+i], r.ContactID, r.CreateContact, want)
			}
			if err := e.st.Advance(ctx, e.stage.Transition(m, r)); err != nil {
				t.Fatal(err)
			}
		}
		if extra := log.queries()[before:]; len(extra) > 0 {
			t.Fatalf("Process queried %d times after the prefetch, first: %.200s", len(extra), extra[0])
		}
	}
	contactQueries := 0
	for _, q := range log.queries() {
		if encLen(q) > maxQueryLen {
			t.Errorf("query of %d encoded characters: %.100s", encLen(q), q)
		}
		if strings.Contains(q, "FROM Contact WHERE Email IN") {
			contactQueries++
		}
	}
	// 400 long addresses do not fit one query; a lookahead of 200 brings
	// them in two rounds.
	if contactQueries < 4 || contactQueries > 10 {
		t.Errorf("%d contact queries for %d senders", contactQueries, len(addrs))
	}
	t.Logf("%d queries for %d senders, %d of them for contacts", len(log.queries()), len(addrs), contactQueries)
}

// TestPrefetchStaleness: prefetched answers go when they expire (TTL), when
// the change poll sees the record changed, or when the cases stage records
// a write to the case; Process then asks Salesforce again.
func TestPrefetchStaleness(t *testing.T) {
	e, c := simStage(t, Config{})
	ctx := context.Background()
	const addr = "later@customer.example"
	caseID, err := c.Create(ctx, "Case", map[string]any{"Subject": "Printer", "Status": "New"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "EmailMessage", map[string]any{"ParentId": caseID, "MessageIdentifier": "<agent-1@org.example>",
		"Subject": "Re: Printer", "Incoming": false, "Status": "3"}); err != nil {
		t.Fatal(err)
	}
	var msgs []store.Message
	for i := range 3 {
		p := email(fmt.Sprintf("r%d@customer.example", i), addr, "Re: Printer", "agent-1@org.example")
		msgs = append(msgs, e.rec.record(t, p, "INBOX"))
	}
	if err := e.stage.Prefetch(ctx, msgs[:1]); err != nil {
		t.Fatal(err)
	}
	if recs, ok := e.stage.pfContactsFor(addr, []string{addr}); !ok || len(recs) != 0 {
		t.Fatalf("want a negative answer for %s, got %v %v", addr, recs, ok)
	}
	if closed, _, ok := e.stage.pfCaseStatus(caseID); !ok || closed {
		t.Fatalf("want case %s prefetched as open, got closed=%v known=%v", caseID, closed, ok)
	}

	// The contact is created and the case closed in Salesforce. The poll
	// sees the contact; nothing tells about the case until its answer expires.
	contact, err := c.Create(ctx, "Contact", map[string]any{"LastName": "Later", "Email": addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Update(ctx, "Case", caseID, map[string]any{"Status": "Closed"}); err != nil {
		t.Fatal(err)
	}
	if err := e.stage.PollChanges(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := e.stage.Process(ctx, msgs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.ContactID != contact {
		t.Errorf("after the poll: contact %q, want %q (%+v)", r.ContactID, contact, r)
	}
	if r.CaseID != caseID || r.CaseClosed {
		t.Errorf("within the TTL the prefetched status holds: %+v", r)
	}

	// The cases stage wrote the case: its status is asked again.
	if err := e.stage.RecordCase(ctx, r.ThreadKey, caseID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.stage.pfCaseStatus(caseID); ok {
		t.Fatal("RecordCase kept the prefetched status")
	}
	r, err = e.stage.Process(ctx, msgs[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.CaseClosed {
		t.Errorf("after RecordCase: want the closed case seen, got %+v", r)
	}

	// Expiry: a fresh prefetch, then the TTL passes.
	e2, c2 := simStage(t, Config{})
	m := e2.rec.record(t, email("x1@customer.example", addr, "Hello", ""), "INBOX")
	if err := e2.stage.Prefetch(ctx, []store.Message{m}); err != nil {
		t.Fatal(err)
	}
	contact2, err := c2.Create(ctx, "Contact", map[string]any{"LastName": "Later", "Email": addr})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e2.stage.ResolveContact(ctx, addr, "", addr); err != nil || r.Create == nil {
		t.Fatalf("within the TTL: want the negative answer (create), got %+v %v", r, err)
	}
	e2.clock.Advance(e2.stage.cfg.Prefetch.TTL)
	if r, err := e2.stage.ResolveContact(ctx, addr, "", addr); err != nil || r.ContactID != contact2 {
		t.Fatalf("after the TTL: want contact %s, got %+v %v", contact2, r, err)
	}
}

// TestPollSkippedWhenNothingCached: the change poll of a new database, with
// nothing cached to drop, costs no call; once a contact is cached it polls.
func TestPollSkippedWhenNothingCached(t *testing.T) {
	e, c := simStage(t, Config{})
	ctx := context.Background()
	log := &soqlLog{SalesforceAPI: c}
	e.stage = NewStage(Config{}, e.st, log, nil, e.clock.Now)
	if err := e.stage.PollChanges(ctx); err != nil {
		t.Fatal(err)
	}
	if q := log.queries(); len(q) != 0 {
		t.Fatalf("poll with nothing cached queried: %v", q)
	}
	if err := e.stage.RecordContact(ctx, "known@customer.example", "003000000000001AAA", "", false); err != nil {
		t.Fatal(err)
	}
	if err := e.stage.PollChanges(ctx); err != nil {
		t.Fatal(err)
	}
	if q := log.queries(); len(q) != 2 {
		t.Fatalf("poll with a cached contact: want 2 queries (Contact, Account), got %v", q)
	}
}

// TestPrefetchRefreshesExpiredLinks: cached links past their TTL are
// checked by Id in the same query as the addresses; Process then decides
// as it would by itself (still there: linked; moved away: a new contact).
func TestPrefetchRefreshesExpiredLinks(t *testing.T) {
	e, c := simStage(t, Config{})
	ctx := context.Background()
	log := &soqlLog{SalesforceAPI: c}
	e.stage = NewStage(Config{}, e.st, log, nil, e.clock.Now)
	stay, err := c.Create(ctx, "Contact", map[string]any{"LastName": "Stay", "Email": "stay@customer.example"})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := c.Create(ctx, "Contact", map[string]any{"LastName": "Moved", "Email": "moved@customer.example"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, id := range map[string]string{"stay@customer.example": stay, "moved@customer.example": moved} {
		if err := e.stage.RecordContact(ctx, addr, id, "", false); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Update(ctx, "Contact", moved, map[string]any{"Email": "elsewhere@customer.example"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.stage.cfg.ContactCache.TTL + time.Minute)
	m1 := e.rec.record(t, email("s1@customer.example", "stay@customer.example", "One", ""), "INBOX")
	m2 := e.rec.record(t, email("s2@customer.example", "moved@customer.example", "Two", ""), "INBOX")
	e.stage.lastPoll = e.clock.Now() // this test is about the refresh, not the poll
	if err := e.stage.Prefetch(ctx, []store.Message{m1, m2}); err != nil {
		t.Fatal(err)
	}
	qs := log.queries()
	if !slices.ContainsFunc(qs, func(q string) bool { return strings.Contains(q, "Email IN") && strings.Contains(q, " OR Id IN (") }) {
		t.Errorf("no combined address and Id query: %q", qs)
	}
	r1, err := e.stage.Process(ctx, m1, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.stage.Process(ctx, m2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r1.ContactID != stay || r1.ContactSource != SourceEmail {
		t.Errorf("still there: %+v", r1)
	}
	if r2.ContactID != "" || r2.CreateContact == nil {
		t.Errorf("moved away: want a new contact, got %+v", r2)
	}
	if extra := log.queries()[len(qs):]; len(extra) > 0 {
		t.Errorf("Process queried after the prefetch: %q", extra)
	}
}
