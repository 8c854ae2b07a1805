package review

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// findChromium returns the browser binary; the test is skipped without one
// unless CI is set, where a missing browser is a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium) and CI is set")
	}
	t.Skip("chromium not installed; apt-get install -y chromium to run the browser test")
	return ""
}

// seedDemo adds two weeks of realistic traffic so the charts have something to show.
func seedDemo(t *testing.T, e *env) {
	rng := rand.New(rand.NewPCG(7, 8))
	cats := []string{"ORDER", "REFUND", "DELIVERY", "INVOICE", "ACCOUNT", "PAYMENT", "SHIPPING_ADDRESS", "OTHER"}
	subjects := map[string]string{"ORDER": "Change my order", "REFUND": "Refund not received", "DELIVERY": "Parcel is late",
		"INVOICE": "Need a copy of my invoice", "ACCOUNT": "Cannot log in", "PAYMENT": "Card was declined", "SHIPPING_ADDRESS": "New delivery address", "OTHER": "Question"}
	reasons := []string{"angry_customer", "churn_risk", "legal_threat", "vip_customer", "repeat_contact"}
	now := e.clock.Now()
	e.clock.mu.Lock()
	e.clock.t = now.AddDate(0, 0, -13)
	e.clock.mu.Unlock()
	for day := 0; day < 14; day++ {
		n := 4 + rng.IntN(6)
		for i := 0; i < n; i++ {
			cat := cats[rng.IntN(len(cats))]
			conf := 0.35 + rng.Float64()*0.64
			r := &classify.Result{Category: cat, Priority: classify.Priorities[rng.IntN(4)], Sentiment: "neutral", Language: "en", Confidence: conf, Model: "offline"}
			if conf < 0.5 || rng.IntN(6) == 0 {
				r.Escalate, r.EscalationReason = true, reasons[rng.IntN(len(reasons))]
				if conf < 0.5 {
					r.EscalationReason = "low_confidence"
				}
			}
			m := seedMsg{subject: fmt.Sprintf("%s #%d", subjects[cat], 1000+day*10+i), from: ingest.Address{Name: "Customer", Addr: fmt.Sprintf("c%d@example.com", day*10+i)},
				text: "Hello, " + strings.ToLower(subjects[cat]) + ".", classify: r,
				knowledge: knowledge.Result{Articles: []knowledge.Match{{ArticleID: "ka1", Title: "Help: " + subjects[cat], Score: conf}}},
				cases:     cases.Result{CaseID: fmt.Sprintf("5000000000%08dAAA", day*10+i), Action: "created"}}
			if rng.IntN(15) == 0 {
				m.final, m.reason = store.StateDead, "UNABLE_TO_LOCK_ROW"
			}
			addMessage(t, e.st, m)
		}
		if rng.IntN(2) == 0 {
			addMessage(t, e.st, seedMsg{subject: "Automatic reply: out of office", from: ingest.Address{Addr: "ooo@example.com"}, text: "away", final: store.StateSkipped, reason: "auto_reply"})
		}
		e.clock.Advance(24 * time.Hour)
	}
	e.clock.mu.Lock()
	e.clock.t = now
	e.clock.mu.Unlock()
}

// sfCorrector is a test Corrector that writes the correction to the
// emulator's Case the way the pipeline's does (the AI fields), so the browser
// test sees the change land in Salesforce.
type sfCorrector struct {
	f  *fakes
	sf *salesforce.Client
	st *store.Store
}

func (c sfCorrector) Correct(ctx context.Context, corr Correction) error {
	if err := c.f.Correct(ctx, corr); err != nil {
		return err
	}
	var cr cases.Result
	if ok, err := c.st.StageData(ctx, corr.MessageID, cases.StageName, &cr); err != nil || !ok || cr.CaseID == "" {
		return fmt.Errorf("message %d has no case (%v)", corr.MessageID, err)
	}
	return c.sf.Update(ctx, "Case", cr.CaseID, map[string]any{"AI_Category__c": corr.Category, "AI_Priority__c": corr.Priority})
}

// emulatedCase starts the Salesforce emulator with one Case and points the
// "escalated" message at it.
func emulatedCase(t *testing.T) (*sfsim.Server, *salesforce.Client) {
	t.Helper()
	sim, err := sfsim.New(sfsim.Options{ClientID: "cid", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	org := httptest.NewServer(sim)
	t.Cleanup(org.Close)
	sf, err := salesforce.New(context.Background(), salesforce.Config{LoginURL: org.URL, Auth: salesforce.AuthConfig{
		Flow: salesforce.FlowClientCredentials, ClientID: "cid", ClientSecret: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	return sim, sf
}

func caseField(sim *sfsim.Server, id, field string) any {
	for _, r := range sim.Records("Case") {
		if r["Id"] == id {
			return r[field]
		}
	}
	return nil
}

func TestBrowser(t *testing.T) {
	exe := findChromium(t)
	sim, sf := emulatedCase(t)
	var corrector sfCorrector
	e := newEnv(t, true, func(_ *Config, d *Deps) { d.Corrector = &corrector })
	corrector = sfCorrector{f: e.fakes, sf: sf, st: e.st}
	bctx := context.Background()
	caseID, err := sf.Create(bctx, "Case", map[string]any{"Subject": "I will sue you over this refund", "Origin": "Email", "AI_Category__c": "REFUND"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Write(bctx, func(tx *sql.Tx) error {
		return e.st.PutStageData(bctx, tx, e.ids["escalated"], cases.StageName, cases.Result{CaseID: caseID, Action: "created"})
	}); err != nil {
		t.Fatal(err)
	}
	seedDemo(t, e)

	shots := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			b, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644)
		})
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Sign in: the dashboard redirects to the login form and back.
	must("login", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "admin1"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
	))
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`.login button[type=submit]`)))
	must("submit login", err)
	title, err := chromedp.Run(ctx, chromedp.Title())
	must("title", err)
	if !strings.HasPrefix(title, "Dashboard") {
		t.Fatalf("after login the title is %q", title)
	}
	must("dashboard", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`svg.chart rect`)), shot("dashboard")))

	// The escalation queue, then correct a category on an item.
	must("queue", chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/escalations"), chromedp.WaitVisible(chromedp.CSS(`table.list`)), shot("escalations")))
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/messages/%d"]`, e.ids["escalated"]))))
	must("open item", err)
	must("correct form", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("category")), chromedp.SetValue(chromedp.ID("category"), "PAYMENT"), shot("message")))
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("save-correction")))
	must("save correction", err)
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.banner.ok`)))
	must("flash", err)
	if !strings.Contains(flash, "Correction saved") {
		t.Fatalf("flash after correcting: %q", flash)
	}
	if len(e.fakes.corrections) != 1 || e.fakes.corrections[0].Category != "PAYMENT" || e.fakes.corrections[0].Actor != "admin1" {
		t.Fatalf("correction through the browser: %+v", e.fakes.corrections)
	}
	if it, _ := e.st.ReviewItem(context.Background(), e.ids["escalated"]); it.Status != "corrected" {
		t.Fatalf("item after browser correction: %+v", it)
	}
	if got := caseField(sim, caseID, "AI_Category__c"); got != "PAYMENT" {
		t.Fatalf("the emulator's Case has AI_Category__c %v after the correction, want PAYMENT", got)
	}

	// Replay a dead letter.
	dead := e.ids["dead"]
	must("dead page", chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/dead"), chromedp.WaitVisible(chromedp.CSS(`table.list`)), shot("dead")))
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`form[action="/dead/%d/replay"] button`, dead))))
	must("replay", err)
	if m, _ := e.st.Message(context.Background(), dead); m.State == store.StateDead {
		t.Fatal("dead letter not replayed through the browser")
	}

	// Download the knowledge-gap CSV.
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	must("gaps", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/gaps"),
		chromedp.WaitVisible(chromedp.ID("gaps-csv")),
		shot("gaps"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptr(true)})
			return err
		}),
		chromedp.Click(chromedp.ID("gaps-csv")),
	))
	for ev, err := range progress {
		must("download", err)
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("CSV download cancelled")
		}
		if ev.State != browser.DownloadProgressStateCompleted {
			continue
		}
		b, err := os.ReadFile(filepath.Join(downloads, ev.GUID))
		must("read download", err)
		if !strings.HasPrefix(string(b), "topic,messages,growth") {
			t.Fatalf("downloaded CSV: %q", b)
		}
		break
	}

	for _, p := range []string{"corrections", "skipped", "audit"} {
		must(p, chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/"+p), chromedp.WaitVisible(chromedp.CSS(`h1`)), shot(p)))
	}

	// The hostile email: the same payloads DO run in a page without our
	// sanitiser and CSP (proving the marker works), and never on ours.
	raw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		var live []string // without the meta refresh, which would navigate away before the check
		for _, p := range htmlPayloads {
			if !strings.Contains(p, "refresh") {
				live = append(live, p)
			}
		}
		fmt.Fprint(w, `<html><body>`+strings.Join(live, "\n")+`</body></html>`)
	}))
	defer raw.Close()
	hostile := recordRaw(t, e, hostileMIME(99, `<script>window.__xss=1</script>`), 99)
	must("control page", chromedp.Do(ctx, chromedp.Navigate(raw.URL), chromedp.Sleep(300*time.Millisecond)))
	set, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__xss === 1`))
	must("control marker", err)
	if !set {
		t.Fatal("control: the payloads did not set the marker in an unprotected page, so the check below proves nothing")
	}
	must("hostile page", chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/messages/%d", e.ts.URL, hostile)),
		chromedp.WaitVisible(chromedp.CSS(`.email-html`)),
		chromedp.Sleep(300*time.Millisecond), // let any onerror/onload fire
		shot("hostile"),
	))
	set, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.__xss !== "undefined"`))
	must("marker", err)
	if set {
		t.Fatal("a script from the hostile email ran")
	}
	title, _ = chromedp.Run(ctx, chromedp.Title())
	if strings.Contains(title, "<script") && !strings.Contains(title, "·") {
		t.Fatalf("title: %q", title)
	}
	// The text view too.
	must("hostile text", chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/messages/%d?view=text", e.ts.URL, hostile)), chromedp.WaitVisible(chromedp.CSS(`.email-text`)), chromedp.Sleep(200*time.Millisecond)))
	set, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.__xss !== "undefined"`))
	must("marker (text)", err)
	if set {
		t.Fatal("a script ran on the text view")
	}
}

func ptr[T any](v T) *T { return &v }
