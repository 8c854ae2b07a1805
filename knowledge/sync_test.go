package knowledge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

const (
	simClientID     = "3MVG9knowledge"
	simClientSecret = "knowledge-secret"
)

// swapHandler lets a test restart the emulated org (from its data file) behind
// one URL, as if an admin had changed Knowledge between two syncs.
type swapHandler struct {
	mu  sync.Mutex
	org *sfsim.Server
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	org := s.org
	s.mu.Unlock()
	org.ServeHTTP(w, r)
}

type simOrg struct {
	t        testing.TB
	h        *swapHandler
	url      string
	dataFile string
	pageSize int
	now      time.Time
}

func startOrg(t testing.TB, seed string, pageSize int) *simOrg {
	t.Helper()
	o := &simOrg{t: t, h: &swapHandler{}, dataFile: filepath.Join(t.TempDir(), "org.json"), pageSize: pageSize,
		now: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	o.restart(seed)
	srv := httptest.NewServer(o.h)
	t.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

func (o *simOrg) restart(seed string) {
	o.t.Helper()
	org, err := sfsim.New(sfsim.Options{ClientID: simClientID, ClientSecret: simClientSecret, Seed: seed,
		DataFile: o.dataFile, PageSize: o.pageSize, DailyAPILimit: 1 << 30, Now: func() time.Time { return o.now }})
	if err != nil {
		o.t.Fatal(err)
	}
	o.h.mu.Lock()
	o.h.org = org
	o.h.mu.Unlock()
}

func (o *simOrg) org() *sfsim.Server {
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	return o.h.org
}

// edit changes the persisted org's Knowledge__kav records and restarts the org.
func (o *simOrg) edit(fn func(live, deleted map[string]map[string]any)) {
	o.t.Helper()
	b, err := os.ReadFile(o.dataFile)
	if err != nil {
		o.t.Fatal(err)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(b, &d); err != nil {
		o.t.Fatal(err)
	}
	var recs, del map[string]map[string]map[string]any
	_ = json.Unmarshal(d["records"], &recs)
	_ = json.Unmarshal(d["deleted"], &del)
	if del == nil {
		del = map[string]map[string]map[string]any{}
	}
	if del["Knowledge__kav"] == nil {
		del["Knowledge__kav"] = map[string]map[string]any{}
	}
	fn(recs["Knowledge__kav"], del["Knowledge__kav"])
	d["records"], _ = json.Marshal(recs)
	d["deleted"], _ = json.Marshal(del)
	out, _ := json.Marshal(d)
	if err := os.WriteFile(o.dataFile, out, 0o600); err != nil {
		o.t.Fatal(err)
	}
	o.restart("")
}

func (o *simOrg) client(t testing.TB) *salesforce.Client {
	t.Helper()
	c, err := salesforce.New(context.Background(), salesforce.Config{LoginURL: o.url, Auth: salesforce.AuthConfig{
		Flow: salesforce.FlowClientCredentials, ClientID: simClientID, ClientSecret: simClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sfStamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

func findByURL(recs map[string]map[string]any, urlName, lang string) (string, map[string]any) {
	for id, r := range recs {
		if r["UrlName"] == urlName && r["Language"] == lang && r["PublishStatus"] == "Online" {
			return id, r
		}
	}
	return "", nil
}

func searchIDs(t *testing.T, k *Knowledge, q string) []Match {
	t.Helper()
	ms, err := k.Search(context.Background(), Query{Subject: q, Language: "en", TopK: 5})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestSyncEmulator syncs the demo org over real HTTP, then publishes a new
// version, archives one article and deletes another, and checks the
// incremental sync replaces, hides and removes them with few API calls.
func TestSyncEmulator(t *testing.T) {
	ctx := context.Background()
	o := startOrg(t, "demo", 20)
	st := openStore(t)
	var cfg Config
	cfg.Sources.Salesforce.Enabled = true
	cfg.Sources.Salesforce.ArticleURL = "https://help.example.com/s/article/{UrlName}"
	k := New(cfg, st, WithSalesforce(o.client(t)), WithNow(fixedNow))

	before := o.org().Stats().APICalls
	s1, err := k.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	full := o.org().Stats().APICalls - before
	online := 0
	for _, r := range o.org().Records("Knowledge__kav") {
		if r["PublishStatus"] == "Online" && r["IsLatestVersion"] == true {
			online++
		}
	}
	if !s1.Full || s1.Inserted != online || s1.Deleted != 0 || s1.Queries != 1 {
		t.Fatalf("first sync %+v, want full with %d inserted in 1 query", s1, online)
	}
	t.Logf("full sync: %d articles, %d API calls (page size 20)", s1.Inserted, full)
	ms := searchIDs(t, k, "shipping costs delivery times")
	if len(ms) == 0 || ms[0].Title != "Delivery times and shipping costs" || ms[0].Version != 2 {
		t.Fatalf("archived old version or nothing shown: %+v", ms)
	}
	if ms[0].URL != "https://help.example.com/s/article/delivery-times-shipping-costs" {
		t.Errorf("url = %q", ms[0].URL)
	}

	// Delete an article through the API (it goes to the recycle bin).
	var promoID string
	for _, r := range o.org().Records("Knowledge__kav") {
		if r["UrlName"] == "discount-code-not-working" {
			promoID = r["Id"].(string)
		}
	}
	if err := o.client(t).Delete(ctx, "Knowledge__kav", promoID); err != nil {
		t.Fatal(err)
	}
	if ms := searchIDs(t, k, "discount code voucher not working"); len(ms) == 0 || ms[0].URLName != "discount-code-not-working" {
		t.Fatalf("before resync the deleted article is still indexed: %+v", ms)
	}
	o.now = o.now.Add(time.Hour)
	var oldPwID, newPwID string
	o.edit(func(live, _ map[string]map[string]any) {
		// New version of "Reset your password": the old one is archived.
		id, r := findByURL(live, "reset-password", "en_US")
		oldPwID = id
		nv := map[string]any{}
		for k, v := range r {
			nv[k] = v
		}
		r["PublishStatus"], r["IsLatestVersion"], r["SystemModstamp"] = "Archived", false, sfStamp(o.now)
		newPwID = "ka0Kb0000000A01IAE"
		nv["Id"], nv["Title"], nv["VersionNumber"] = newPwID, "Reset your password from the new sign-in page", 2.0
		nv["Body__c"] = "<p>Use the new sign-in page: choose <b>Trouble signing in?</b> to receive a reset link.</p>"
		nv["SystemModstamp"], nv["LastModifiedDate"] = sfStamp(o.now), sfStamp(o.now)
		live[newPwID] = nv
		// Archive "gift cards" without touching SystemModstamp: only the
		// reconciliation can notice it.
		_, g := findByURL(live, "gift-cards", "en_US")
		g["PublishStatus"], g["IsLatestVersion"] = "Archived", false
	})
	// The new Id must be a valid Salesforce id for the org to load it.
	if len(o.org().Records("Knowledge__kav")) == 0 {
		t.Fatal("org did not reload")
	}

	before = o.org().Stats().APICalls
	s2, err := k.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inc := o.org().Stats().APICalls - before
	t.Logf("incremental sync: %+v, %d API calls", s2, inc)
	if s2.Full || s2.Updated != 1 || s2.Deleted != 2 || s2.Inserted != 0 || s2.Queries != 2 {
		t.Errorf("incremental sync %+v: want 1 updated (new version), 2 deleted, 2 queries", s2)
	}
	// changed-records query: 1 page; id reconciliation: ⌈58/20⌉ = 3 pages.
	if inc > int64(1+(online-2+19)/20) {
		t.Errorf("incremental sync used %d API calls", inc)
	}
	if s2.Fetched > 5 {
		t.Errorf("incremental sync fetched %d records: cursor not used", s2.Fetched)
	}
	for _, q := range []string{"gift card redeem voucher balance", "discount code voucher not working"} {
		for _, m := range searchIDs(t, k, q) {
			if m.URLName == "gift-cards" || m.URLName == "discount-code-not-working" {
				t.Errorf("%q shows archived/deleted article %s", q, m.ArticleID)
			}
		}
	}
	ms = searchIDs(t, k, "reset password forgot")
	if len(ms) == 0 || ms[0].ArticleID != newPwID || ms[0].Version != 2 || !strings.Contains(ms[0].Title, "new sign-in") {
		t.Fatalf("new version not shown first: %+v", ms)
	}
	for _, m := range ms {
		if m.ArticleID == oldPwID {
			t.Errorf("old version %s still shown", oldPwID)
		}
	}

	status, err := k.Status(ctx)
	if err != nil || status.Articles != online-2 || status.Languages["de"] == 0 || status.Cursor != s2.Cursor || status.SyncCalls != 2 {
		t.Errorf("status %+v %v", status, err)
	}
	// Nothing changed: nothing applied.
	s3, err := k.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s3.Inserted+s3.Updated+s3.Deleted != 0 {
		t.Errorf("idempotent sync changed things: %+v", s3)
	}
}

func TestSyncRefusesBadNames(t *testing.T) {
	var cfg Config
	cfg.Sources.Salesforce.Enabled = true
	cfg.Sources.Salesforce.BodyFields = []string{"Body__c FROM Account --"}
	q := &seedQuerier{}
	k := New(cfg, openStore(t), WithSalesforce(q))
	if _, err := k.Sync(context.Background()); err == nil || len(q.queries) != 0 {
		t.Fatalf("bad field name reached SOQL: %v %v", err, q.queries)
	}
	if _, err := New(Config{}, openStore(t)).Sync(context.Background()); err != ErrNoSalesforce {
		t.Fatalf("no client: %v", err)
	}
}

// failingQuerier serves the seed but fails after n records, like a dropped connection.
type failingQuerier struct {
	*seedQuerier
	n int
}

func (f *failingQuerier) QueryEach(ctx context.Context, soql string, fn func(json.RawMessage) error) error {
	i := 0
	return f.seedQuerier.QueryEach(ctx, soql, func(r json.RawMessage) error {
		if i++; i > f.n {
			return context.DeadlineExceeded
		}
		return fn(r)
	})
}

func TestSyncFailureKeepsIndex(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var cfg Config
	cfg.Sources.Salesforce.Enabled = true
	if _, err := New(cfg, st, WithSalesforce(&failingQuerier{loadSeed(t), 10})).Sync(ctx); err == nil {
		t.Fatal("want an error")
	}
	if n, _ := st.KnowledgeCount(ctx); n != 0 {
		t.Fatalf("a failed first sync indexed %d articles", n)
	}
	k := New(cfg, st, WithSalesforce(loadSeed(t)))
	if _, err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := st.KnowledgeCount(ctx)
	state, _ := st.KnowledgeSyncState(ctx, SourceSalesforce)
	if _, err := New(cfg, st, WithSalesforce(&failingQuerier{loadSeed(t), 0})).Sync(ctx); err == nil {
		t.Fatal("want an error")
	}
	after, _ := st.KnowledgeCount(ctx)
	state2, _ := st.KnowledgeSyncState(ctx, SourceSalesforce)
	if after != before || state2.Cursor != state.Cursor {
		t.Fatalf("failed sync changed the index: %d→%d articles, cursor %s→%s", before, after, state.Cursor, state2.Cursor)
	}
}
