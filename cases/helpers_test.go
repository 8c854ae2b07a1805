package cases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfdx"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// lossyDoer forwards requests to the emulator but, while drop > 0, throws
// away the answer of composite calls: Salesforce committed, the client saw
// a timeout.
type lossyDoer struct {
	hc   *http.Client
	drop atomic.Int32
	// rate, when set, drops this share of composite answers (seeded).
	mu     sync.Mutex
	rate   float64
	rng    *rand.Rand
	assign []string // Sforce-Auto-Assign of each composite request
}

func (d *lossyDoer) lose() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng != nil && d.rng.Float64() < d.rate
}

func (d *lossyDoer) Do(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/composite") {
		d.mu.Lock()
		d.assign = append(d.assign, r.Header.Get("Sforce-Auto-Assign"))
		d.mu.Unlock()
	}
	resp, err := d.hc.Do(r)
	if err == nil && resp.StatusCode == 200 && strings.Contains(r.URL.Path, "/composite") && (d.drop.Load() > 0 || d.lose()) {
		if d.drop.Load() > 0 {
			d.drop.Add(-1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("simulated timeout: %w", context.DeadlineExceeded)
	}
	return resp, err
}

type env struct {
	t      testing.TB
	org    *sfsim.Server
	sf     *salesforce.Client
	st     *store.Store
	doer   *lossyDoer
	hooks  *fakeHooks
	clock  time.Time
	nextID int64
}

func (e *env) now() time.Time { return e.clock }

func newEnv(t testing.TB, extra ...sfdx.Field) *env {
	t.Helper()
	return newEnvWith(t, func(o *sfsim.Options) { o.ExtraFields = extra })
}

func newEnvWith(t testing.TB, adjust func(*sfsim.Options)) *env {
	t.Helper()
	opts := sfsim.Options{ClientID: "3MVG9cases", ClientSecret: "cases-secret", Username: "triage@example.com"}
	adjust(&opts)
	org, err := sfsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	e := &env{t: t, org: org, doer: &lossyDoer{hc: srv.Client()}, hooks: &fakeHooks{contacts: map[string]string{}},
		clock: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), nextID: 100}
	e.sf, err = salesforce.New(context.Background(), salesforce.Config{LoginURL: srv.URL, Auth: salesforce.AuthConfig{
		Flow: salesforce.FlowClientCredentials, ClientID: "3MVG9cases", ClientSecret: "cases-secret"}},
		salesforce.WithHTTPClient(e.doer))
	if err != nil {
		t.Fatal(err)
	}
	e.st, err = store.Open(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "triage.db")}, store.WithNow(e.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	// warm the token so call counts below are data calls only
	if err := e.sf.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) stage(cfg Config, opts ...Option) *Stage {
	return NewStage(cfg, e.st, e.sf, nil, e.now, append([]Option{WithDedupe(e.hooks), WithIntegrationUser("triage@example.com")}, opts...)...)
}

func (e *env) calls() int64 { return e.org.Stats().APICalls }

func (e *env) count(sobject string, match func(map[string]any) bool) int {
	n := 0
	for _, r := range e.org.Records(sobject) {
		if match == nil || match(r) {
			n++
		}
	}
	return n
}

func (e *env) record(sobject, id string) map[string]any {
	for _, r := range e.org.Records(sobject) {
		if r["Id"] == id {
			return r
		}
	}
	e.t.Fatalf("%s %s not in the org", sobject, id)
	return nil
}

// article creates a published Knowledge article and returns its KnowledgeArticleId.
func (e *env) article(title string) string {
	ctx := context.Background()
	id, err := e.sf.Create(ctx, "Knowledge__kav", map[string]any{"Title": title, "UrlName": strings.ReplaceAll(strings.ToLower(title), " ", "-")})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.record("Knowledge__kav", id)["KnowledgeArticleId"].(string)
}

func (e *env) msg(mid string) store.Message {
	e.nextID++
	return store.Message{ID: e.nextID, MessageID: mid, State: store.StateEnriched, CreatedAt: e.clock}
}

var automated = map[string]classify.Level{
	classify.FieldCategory: classify.LevelAutomated, classify.FieldPriority: classify.LevelAutomated,
	classify.FieldSentiment: classify.LevelAutomated, classify.FieldLanguage: classify.LevelAutomated,
	classify.FieldEscalate: classify.LevelAutomated,
}

// newEmail is a first email from an unknown sender.
func newEmail(from, mid, subject string) Input {
	return Input{
		Parsed: &ingest.Parsed{MessageID: mid, From: ingest.Address{Name: "Ann Customer", Addr: from},
			To: []ingest.Address{{Addr: "support@acme.example"}}, Cc: []ingest.Address{{Addr: "boss@customer.example"}},
			Subject: subject, Date: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
			Text: "Hello, I want a refund for order 1234. My card is 4111 1111 1111 1111.", HTML: "<p>Hello, I want a refund.</p>"},
		Dedupe: dedupe.Result{ThreadKey: dedupe.ThreadKey(mid), ThreadToken: "[ref:T-" + dedupe.ThreadKey(mid)[:8] + "]",
			Sender: from, SenderName: "Ann Customer",
			CreateContact: &dedupe.NewContact{Email: from, FirstName: "Ann", LastName: "Customer"}},
		Classify: classify.Result{Category: "REFUND", Priority: "high", Sentiment: "negative", Language: "en",
			Summary: "Customer wants a refund for order 1234.", Confidence: 0.93, Explanation: "Mentions refund and an order number.",
			Automation: automated},
	}
}

// reply is a reply on the case of first.
func reply(first Input, caseID, contactID, mid string) Input {
	in := first
	p := *first.Parsed
	p.MessageID, p.InReplyTo, p.References = mid, []string{first.Parsed.MessageID}, []string{first.Parsed.MessageID}
	p.Subject = "Re: " + first.Parsed.Subject
	p.Text = "Thanks, that solved it. You can close this."
	in.Parsed = &p
	in.Dedupe.IsReply, in.Dedupe.CaseID, in.Dedupe.ContactID, in.Dedupe.CreateContact = true, caseID, contactID, nil
	in.Classify.Category, in.Classify.Sentiment, in.Classify.Summary = "REFUND", "positive", "Customer confirms the refund arrived."
	in.Knowledge = knowledge.Result{}
	return in
}

// fakeHooks records what the stage tells dedupe.
type fakeHooks struct {
	mu       sync.Mutex
	cases    map[string]string // thread → case
	contacts map[string]string
	claims   int
	released int
}

func (f *fakeHooks) RecordCase(_ context.Context, threadKey, caseID string, _ []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cases == nil {
		f.cases = map[string]string{}
	}
	f.cases[threadKey] = caseID
	return nil
}

func (f *fakeHooks) ClaimContact(_ context.Context, email string) (string, string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id := f.contacts[email]; id != "" {
		return id, "", false, nil
	}
	f.claims++
	return "", "tok", true, nil
}

func (f *fakeHooks) FinishContact(_ context.Context, email, token, contactID, _ string, _ bool) error {
	if token != "tok" {
		return errors.New("bad token")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contacts[email] = contactID
	return nil
}

func (f *fakeHooks) ReleaseContact(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released++
	return nil
}

func (f *fakeHooks) RecordContact(_ context.Context, addr, contactID, _ string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contacts[addr] = contactID
	return nil
}

func dedupe0(caseID string) dedupe.Result {
	return dedupe.Result{Activity: true, Reason: "auto_reply", AttachToCaseID: caseID, Sender: "ida@customer.example"}
}

// The real providers satisfy the consumer-side interfaces.
var (
	_ SalesforceAPI = (*salesforce.Client)(nil)
	_ DedupeHooks   = (*dedupe.Stage)(nil)
)
