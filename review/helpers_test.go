package review

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/store"
)

// clock is an adjustable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakes records every call the UI makes into other packages.
type fakes struct {
	mu          sync.Mutex
	corrections []Correction
	contacts    []string
	rejected    [][]string
	closed      []int64
	reopened    []int64
	retrains    int
	fail        error
	csvCalls    int
}

func (f *fakes) Correct(_ context.Context, c Correction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.corrections = append(f.corrections, c)
	return nil
}

func (f *fakes) PickContact(_ context.Context, id int64, contact, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contacts = append(f.contacts, fmt.Sprintf("%d:%s:%s", id, contact, actor))
	return f.fail
}

func (f *fakes) RejectArticles(_ context.Context, id int64, ids []string, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected = append(f.rejected, append([]string{fmt.Sprint(id), actor}, ids...))
	return f.fail
}

func (f *fakes) CloseCase(_ context.Context, id int64, reason, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = append(f.closed, id)
	return f.fail
}

func (f *fakes) ReopenCase(_ context.Context, id int64, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reopened = append(f.reopened, id)
	return f.fail
}

func (f *fakes) Retrain(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retrains++
	return f.fail
}

func (f *fakes) GapTopics(context.Context, time.Time) ([]GapTopic, error) {
	return []GapTopic{
		{Topic: "warranty for refurbished devices", Messages: 7, Growth: 0.4, KeyTerms: []string{"warranty", "refurbished"},
			Categories: map[string]int{"REFUND": 4, "OTHER": 3}, Examples: []GapExample{{MessageID: 1, Subject: "<b>warranty?</b>"}},
			ClosestArticle: "Returns policy", ClosestScore: 0.21},
		{Topic: "<script>window.__xss=1</script>", Messages: 2, Growth: -0.5},
	}, nil
}

func (f *fakes) RejectedArticles(context.Context, time.Time) ([]RejectedArticle, error) {
	return []RejectedArticle{{ArticleID: "ka01", Title: "Returns policy", Rejections: 3, MessageIDs: []int64{1}}}, nil
}

func (f *fakes) WriteGapCSV(_ context.Context, w io.Writer, _ time.Time) error {
	f.mu.Lock()
	f.csvCalls++
	f.mu.Unlock()
	_, err := io.WriteString(w, "topic,messages,growth\nwarranty for refurbished devices,7,0.4\n")
	return err
}

func (f *fakes) Audit(context.Context, AuditQuery) ([]AuditEntry, error) {
	return []AuditEntry{{At: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), MessageID: 1, Actor: "triage-bot", Action: "case_upsert",
		Object: "Case", RecordID: "500000000000001AAA", Fields: "Type=REFUND", Result: "201"}}, nil
}

func (f *fakes) APIUsage(context.Context) (int64, int64, error) { return 4200, 15000, nil }

func (f *fakes) deps() Deps {
	return Deps{Corrector: f, ContactPicker: f, ArticleRejecter: f, CaseActions: f, GapReporter: f, AuditReader: f, APIUsage: f, Retrainer: f,
		SalesforceURL: func(id string) string { return "https://example.my.salesforce.com/lightning/r/Case/" + id + "/view" }}
}

type env struct {
	t     *testing.T
	st    *store.Store
	srv   *Server
	ts    *httptest.Server
	clock *clock
	fakes *fakes
	ids   map[string]int64
}

var start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type envOpt func(*Config, *Deps)

// newEnv opens a store with seeded messages, users (viewer/manager/admin,
// password "correct horse battery") and a server on loopback.
func newEnv(t *testing.T, withUsers bool, opts ...envOpt) *env {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: start}
	st, err := store.Open(ctx, store.Config{Path: filepath.Join(t.TempDir(), "t.db")}, store.WithNow(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, clock: c, fakes: &fakes{}, ids: map[string]int64{}}
	if withUsers {
		for _, r := range Roles {
			hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
			if err := st.AddReviewUser(ctx, store.ReviewUser{Name: string(r) + "1", Role: string(r), PasswordHash: string(hash)}, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.seed()
	cfg := Config{}
	deps := e.fakes.deps()
	for _, o := range opts {
		o(&cfg, &deps)
	}
	e.srv, err = New(cfg, st, deps, testLogger(t), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv)
	t.Cleanup(e.ts.Close)
	return e
}

type seedMsg struct {
	key       string
	subject   string
	from      ingest.Address
	text      string
	html      string
	attach    []ingest.Attachment
	classify  *classify.Result
	dedupe    any
	knowledge any
	cases     any
	final     store.State // done (default when classify set), dead, skipped, or "" to stop early
	reason    string
}

func defaultSeeds() []seedMsg {
	return []seedMsg{
		{key: "escalated", subject: "I will sue you over this refund", from: ingest.Address{Name: "Ann Angry", Addr: "ann@example.com"},
			text: "Refund me now or I call my lawyer.", html: "<p>Refund me <b>now</b> or I call my lawyer.</p>",
			classify: &classify.Result{Category: "REFUND", Priority: "high", Sentiment: "negative", Language: "en", Confidence: 0.82,
				Escalate: true, EscalationReason: "legal_threat", Explanation: "Mentions a lawyer.", Summary: "Wants a refund.", Model: "offline-v1"},
			dedupe: dedupe.Result{ContactID: "003000000000001AAA", ContactSource: "email", Detail: "exact email match",
				AccountContext: &dedupe.AccountContext{AccountName: "Acme", Tier: "gold", OpenCases: 2}},
			knowledge: knowledge.Result{Articles: []knowledge.Match{
				{ArticleID: "ka01", Title: "Returns policy", Score: 0.71, URL: "https://kb.example.com/returns"},
				{ArticleID: "ka02", Title: "Refund timelines", Score: 0.55}}, BestScore: 0.71},
			cases: cases.Result{CaseID: "500000000000001AAA", Action: "created", APICalls: 1}},
		{key: "ambiguous", subject: "Where is my order", from: ingest.Address{Name: "Bob", Addr: "bob@shared.example"},
			text:     "Order 123 has not arrived.",
			classify: &classify.Result{Category: "DELIVERY", Priority: "medium", Confidence: 0.41, Escalate: true, EscalationReason: "low_confidence"},
			dedupe: dedupe.Result{AmbiguousContact: true, AmbiguousWhy: "2 contacts share this address", Candidates: []dedupe.Candidate{
				{ContactID: "003000000000002AAA", Name: "Bob One", Email: "bob@shared.example", Why: "same email"},
				{ContactID: "003000000000003AAA", Name: "Bob Two", Email: "bob@shared.example", Why: "same email"}}}},
		{key: "auto", subject: "Invoice copy please", from: ingest.Address{Addr: "carol@example.com"}, text: "Send my invoice.",
			classify: &classify.Result{Category: "INVOICE", Priority: "low", Confidence: 0.95}},
		{key: "dead", subject: "Dead one", from: ingest.Address{Addr: "dan@example.com"}, text: "x",
			classify: &classify.Result{Category: "ORDER", Priority: "low", Confidence: 0.9}, final: store.StateDead, reason: "FIELD_CUSTOM_VALIDATION_EXCEPTION"},
		{key: "skipped", subject: "Out of office", from: ingest.Address{Addr: "ooo@example.com"}, text: "I am away.", final: store.StateSkipped, reason: "auto_reply"},
	}
}

func (e *env) seed() {
	for _, m := range defaultSeeds() {
		e.ids[m.key] = addMessage(e.t, e.st, m)
	}
}

var uidSeq uint32

func addMessage(t *testing.T, st *store.Store, m seedMsg) int64 {
	t.Helper()
	ctx := context.Background()
	uidSeq++
	p := ingest.Parsed{MessageID: fmt.Sprintf("m%d@test", uidSeq), From: m.from, Subject: m.subject, Text: m.text, HTML: m.html,
		Attachments: m.attach, To: []ingest.Address{{Addr: "support@example.com"}}, Date: start}
	pj, _ := json.Marshal(p)
	raw := []byte(fmt.Sprintf("Subject: %s\r\n\r\n%s", m.subject, m.text))
	sum := sha256.Sum256(append(raw, byte(uidSeq)))
	nm := store.NewMessage{Mailbox: "support", Folder: "INBOX", UIDValidity: 1, UID: uidSeq, Raw: raw, SHA256: hex.EncodeToString(sum[:]),
		Size: int64(len(raw)), MessageID: p.MessageID, Subject: m.subject, From: m.from.Addr, Parsed: pj, SentAt: start}
	if m.final == store.StateSkipped {
		nm.State, nm.Reason = store.StateSkipped, m.reason
	}
	res, err := st.RecordMessage(ctx, nm)
	if err != nil {
		t.Fatal(err)
	}
	id := res.ID
	if m.final == store.StateSkipped {
		return id
	}
	step := func(from, to store.State, stage string, data any) {
		t.Helper()
		err := st.Advance(ctx, store.Transition{ID: id, From: from, To: to, Stage: stage, Extra: func(tx *sql.Tx) error {
			if data == nil {
				return nil
			}
			return st.PutStageData(ctx, tx, id, stage, data)
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	step(store.StateReceived, store.StateDeduped, "dedupe", m.dedupe)
	if m.classify == nil {
		return id
	}
	step(store.StateDeduped, store.StateClassified, "classify", m.classify)
	if m.final == store.StateDead {
		for range 3 { // a dead letter has usually been retried first
			if err := st.Retry(ctx, id, store.StateClassified, "cases", errors.New("salesforce: 503 SERVER_UNAVAILABLE"), start, true); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Advance(ctx, store.Transition{ID: id, From: store.StateClassified, To: store.StateDead, Stage: "knowledge",
			Reason: m.reason, Error: "salesforce: 400 FIELD_CUSTOM_VALIDATION_EXCEPTION"}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	step(store.StateClassified, store.StateEnriched, "knowledge", m.knowledge)
	step(store.StateEnriched, store.StateDone, "cases", m.cases)
	return id
}

// client is a browser-like HTTP client that does not follow redirects.
type client struct {
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) get(path string) (*http.Response, string) {
	c.e.t.Helper()
	resp, err := c.hc.Get(c.e.ts.URL + path)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindStringSubmatch(string(b)); m != nil && !strings.HasPrefix(path, "/login") {
		c.csrf = m[1]
	}
	return resp, string(b)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.e.t.Helper()
	resp, err := c.hc.PostForm(c.e.ts.URL+path, form)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login signs in and loads the dashboard to learn the session's CSRF token.
func (c *client) login(name, password string) *http.Response {
	c.e.t.Helper()
	_, body := c.get("/login")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.e.t.Fatalf("login form has no csrf token:\n%s", body)
	}
	resp, _ := c.post("/login", url.Values{"csrf": {m[1]}, "username": {name}, "password": {password}, "next": {"/"}})
	if resp.StatusCode == http.StatusSeeOther {
		c.get("/")
	}
	return resp
}

func (c *client) mustLogin(name string) *client {
	c.e.t.Helper()
	if resp := c.login(name, "correct horse battery"); resp.StatusCode != http.StatusSeeOther {
		c.e.t.Fatalf("login %s: %s", name, resp.Status)
	}
	if c.csrf == "" {
		c.e.t.Fatal("no csrf token after login")
	}
	return c
}

func (c *client) action(path string, form url.Values) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.post(path, form)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

var errBoom = errors.New("salesforce said no")
