package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/store"
)

// concrete fills a route pattern's {id} with a message that exists.
func (e *env) concrete(rt route) string {
	p := strings.ReplaceAll(rt.path, "{$}", "")
	id := e.ids["escalated"]
	switch {
	case strings.HasPrefix(p, "/dead/") || strings.HasPrefix(p, "/api/dead/"):
		id = e.ids["dead"]
	case strings.Contains(p, "/skipped/"):
		id = e.ids["skipped"]
	}
	return strings.ReplaceAll(p, "{id}", fmt.Sprint(id))
}

func TestEveryRouteNeedsAuth(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	protected := 0
	for _, rt := range e.srv.routes {
		if rt.role == "" {
			if !strings.HasPrefix(rt.path, "/login") && !strings.HasPrefix(rt.path, "/auth/") && rt.path != "/api/login" {
				t.Errorf("public route %s %s is not a sign-in route", rt.method, rt.path)
			}
			continue
		}
		protected++
		p := e.concrete(rt)
		var resp *http.Response
		if rt.method == "GET" {
			resp, _ = c.get(p)
		} else {
			resp, _ = c.post(p, url.Values{})
		}
		switch {
		case rt.api || rt.method != "GET":
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s without a session: %s, want 401", rt.method, p, resp.Status)
			}
		default:
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
				t.Errorf("%s %s without a session: %s %s, want a redirect to /login", rt.method, p, resp.Status, resp.Header.Get("Location"))
			}
		}
	}
	if protected < 30 {
		t.Fatalf("only %d protected routes in the table", protected)
	}
	// Unknown paths and static files behave too.
	if resp, _ := c.get("/api/nope"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown API path without session: %s", resp.Status)
	}
	if resp, _ := c.get("/static/style.css"); resp.StatusCode != http.StatusOK {
		t.Errorf("static css: %s", resp.Status)
	}
	// A forged cookie is not a session.
	u, _ := url.Parse(e.ts.URL)
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "forged"}})
	if resp, _ := c.get("/api/me"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged session: %s", resp.Status)
	}
}

func TestRolesEnforced(t *testing.T) {
	e := newEnv(t, true)
	for _, role := range Roles {
		t.Run(string(role), func(t *testing.T) {
			c := e.client().mustLogin(string(role) + "1")
			for _, rt := range e.srv.routes {
				if rt.role == "" || rt.path == "/logout" || rt.path == "/api/logout" {
					continue
				}
				p := e.concrete(rt)
				var resp *http.Response
				if rt.method == "GET" {
					resp, _ = c.get(p)
				} else {
					// Forbidden must win before any effect: send a valid token so CSRF is not what stops it.
					resp, _ = c.action(p, url.Values{})
				}
				allowed := role.Includes(rt.role)
				if !allowed && resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s as %s: %s, want 403", rt.method, p, role, resp.Status)
				}
				if allowed && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized) {
					t.Errorf("%s %s as %s: %s, want allowed", rt.method, p, role, resp.Status)
				}
			}
		})
	}
	// The viewer's pages offer no action forms.
	v := e.client().mustLogin("viewer1")
	_, body := v.get(fmt.Sprintf("/messages/%d", e.ids["escalated"]))
	if strings.Contains(body, `method="post" action="/messages`) {
		t.Error("viewer sees action forms")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("manager1")
	p := fmt.Sprintf("/messages/%d/approve", e.ids["escalated"])
	for name, form := range map[string]url.Values{
		"missing": {},
		"wrong":   {"csrf": {"x" + c.csrf}},
	} {
		if resp, _ := c.post(p, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: %s, want 403", name, resp.Status)
		}
	}
	// Another session's token does not work either.
	other := e.client().mustLogin("admin1")
	if resp, _ := c.post(p, url.Values{"csrf": {other.csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("other session's token: %s", resp.Status)
	}
	// A cross-site request is refused even with the token.
	req, _ := http.NewRequest("POST", e.ts.URL+p, strings.NewReader(url.Values{"csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site: %s", resp.Status)
	}
	if it, _ := e.st.ReviewItem(context.Background(), e.ids["escalated"]); it.Status != "open" {
		t.Fatalf("a rejected request changed the item: %+v", it)
	}
	// The header form works for scripts.
	req, _ = http.NewRequest("POST", e.ts.URL+"/api"+p, nil)
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err = c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("API with header token: %s", resp.Status)
	}
	// The login form needs its own token.
	fresh := e.client()
	if resp, _ := fresh.post("/login", url.Values{"username": {"admin1"}, "password": {"correct horse battery"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without token: %s", resp.Status)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	for i := range DefaultLoginAttempts {
		if resp := c.login("manager1", "wrong password!"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %s", i, resp.Status)
		}
	}
	resp := c.login("manager1", "correct horse battery")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures the right password must still be refused: %s", DefaultLoginAttempts, resp.Status)
	}
	// The same client address is also throttled for other names.
	if resp := c.login("admin1", "correct horse battery"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("other user from the same address: %s", resp.Status)
	}
	e.clock.Advance(DefaultLoginWindow + time.Second)
	if resp := c.login("manager1", "correct horse battery"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %s", resp.Status)
	}
	acts, _ := e.st.ReviewActions(context.Background(), store.ReviewActionFilter{Action: "login_failed"})
	if len(acts) != DefaultLoginAttempts {
		t.Fatalf("login_failed audited %d times", len(acts))
	}
	if th, _ := e.st.ReviewActions(context.Background(), store.ReviewActionFilter{Action: "login_throttled"}); len(th) != 2 {
		t.Fatalf("login_throttled audited %d times", len(th))
	}
}

func TestSessionCookieAndLogout(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	_, body := c.get("/login")
	tok := csrfField.FindStringSubmatch(body)[1]
	resp, _ := c.post("/login", url.Values{"csrf": {tok}, "username": {"admin1"}, "password": {"correct horse battery"}, "next": {"//evil.example/x"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %s → %q (open redirect?)", resp.Status, resp.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			sc = ck
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure {
		t.Fatalf("session cookie flags: %+v", sc)
	}
	// The token is stored hashed only.
	var n int
	_ = e.st.DB().QueryRow(`SELECT count(*) FROM review_sessions WHERE token_hash=?`, sc.Value).Scan(&n)
	if n != 0 {
		t.Fatal("session token stored in clear")
	}
	c.get("/")
	if r, _ := c.action("/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", r.Status)
	}
	if r, _ := c.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %s", r.Status)
	}
	// Sessions expire.
	c2 := e.client().mustLogin("viewer1")
	e.clock.Advance(DefaultSessionLifetime + time.Minute)
	if r, _ := c2.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired session: %s", r.Status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("viewer1")
	for _, p := range []string{"/", "/login", "/api/dashboard", "/static/style.css"} {
		resp, _ := c.get(p)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe code: %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
}

func TestActions(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	c := e.client().mustLogin("manager1")
	esc := e.ids["escalated"]
	page := fmt.Sprintf("/messages/%d", esc)

	// The queue lists both escalated messages.
	_, body := c.get("/escalations")
	if !strings.Contains(body, "I will sue you over this refund") || !strings.Contains(body, "Where is my order") || strings.Contains(body, "Invoice copy") {
		t.Fatalf("queue content wrong:\n%s", body)
	}

	// Correct.
	resp, _ := c.action(page+"/correct", url.Values{"category": {"PAYMENT"}, "priority": {"urgent"}, "escalate": {"on"}, "escalation_reason": {"legal_threat"}, "note": {"it is a chargeback"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=corrected") {
		t.Fatalf("correct: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	if len(e.fakes.corrections) != 1 {
		t.Fatalf("corrector calls: %v", e.fakes.corrections)
	}
	if got := e.fakes.corrections[0]; got.Category != "PAYMENT" || got.Priority != "urgent" || !got.Escalate || got.Actor != "manager1" || got.MessageID != esc {
		t.Fatalf("correction sent: %+v", got)
	}
	labels, _ := e.st.ReviewLabels(ctx, time.Time{})
	if len(labels) != 1 || labels[0].Kind != "correct" || labels[0].PredictedCategory != "REFUND" || labels[0].Category != "PAYMENT" || labels[0].Actor != "manager1" {
		t.Fatalf("labels: %+v", labels)
	}
	if it, _ := e.st.ReviewItem(ctx, esc); it.Status != "corrected" {
		t.Fatalf("item: %+v", it)
	}
	ex, _ := e.st.Corrections(ctx, 0)
	if len(ex) != 1 || ex[0].MessageID != esc || ex[0].Category != "PAYMENT" || ex[0].Priority != "urgent" || !strings.Contains(ex[0].Body, "lawyer") {
		t.Fatalf("training example: %+v", ex)
	}
	evs, _ := e.st.Events(ctx, esc)
	if last := evs[len(evs)-1]; last.Stage != "review" || last.Kind != "correct" || !strings.Contains(last.Detail, "by manager1") {
		t.Fatalf("event: %+v", last)
	}
	_, body = c.get("/escalations")
	if strings.Contains(body, "I will sue you") {
		t.Fatal("corrected message still in the queue")
	}
	_, body = c.get(page + "?done=corrected")
	if !strings.Contains(body, "Correction saved") || !strings.Contains(body, "REFUND → PAYMENT") {
		t.Fatal("message page does not show the correction")
	}

	// Invalid values are refused before anything is sent.
	for _, bad := range []url.Values{{"category": {"NOPE"}, "priority": {"low"}}, {"category": {"REFUND"}, "priority": {"meh"}},
		{"category": {"REFUND"}, "priority": {"low"}, "escalate": {"on"}, "escalation_reason": {"boredom"}}} {
		if r, _ := c.action(page+"/correct", bad); r.StatusCode != http.StatusBadRequest {
			t.Errorf("bad correction %v: %s", bad, r.Status)
		}
	}
	if len(e.fakes.corrections) != 1 {
		t.Fatal("an invalid correction reached the corrector")
	}

	// A failing Salesforce write is reported and audited as failed.
	e.fakes.fail = errBoom
	r, body := c.action(page+"/correct", url.Values{"category": {"REFUND"}, "priority": {"low"}})
	if r.StatusCode != http.StatusBadGateway || strings.Contains(body, errBoom.Error()) {
		t.Fatalf("failing corrector: %s (internal error text must not leak)", r.Status)
	}
	e.fakes.fail = nil
	acts, _ := e.st.ReviewActions(ctx, store.ReviewActionFilter{Action: "correct", MessageID: esc})
	if len(acts) != 2 || acts[0].OK {
		t.Fatalf("failed correction not audited: %+v", acts)
	}

	// Approve the other escalation.
	amb := e.ids["ambiguous"]
	if r, _ := c.action(fmt.Sprintf("/messages/%d/approve", amb), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %s", r.Status)
	}
	if it, _ := e.st.ReviewItem(ctx, amb); it.Status != "approved" || it.Actor != "manager1" {
		t.Fatalf("approve item: %+v", it)
	}

	// Pick a contact: must be one of the candidates unless "other" is ticked.
	if r, _ := c.action(fmt.Sprintf("/messages/%d/contact", amb), url.Values{"contact_id": {"003000000000009AAA"}}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("non-candidate contact: %s", r.Status)
	}
	if r, _ := c.action(fmt.Sprintf("/messages/%d/contact", amb), url.Values{"contact_id": {"003000000000003AAA"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("pick contact: %s", r.Status)
	}
	if it, _ := e.st.ReviewItem(ctx, amb); it.ContactID != "003000000000003AAA" || it.Status != "approved" {
		t.Fatalf("contact not recorded: %+v", it)
	}
	if len(e.fakes.contacts) != 1 || e.fakes.contacts[0] != fmt.Sprintf("%d:003000000000003AAA:manager1", amb) {
		t.Fatalf("contact picker: %v", e.fakes.contacts)
	}

	// Reject articles: only suggested ones.
	if r, _ := c.action(page+"/reject-articles", url.Values{"article": {"ka99"}}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("reject unknown article: %s", r.Status)
	}
	if r, _ := c.action(page+"/reject-articles", url.Values{"article": {"ka02"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject: %s", r.Status)
	}
	if len(e.fakes.rejected) != 1 || strings.Join(e.fakes.rejected[0], ",") != fmt.Sprintf("%d,manager1,ka02", esc) {
		t.Fatalf("rejecter: %v", e.fakes.rejected)
	}

	// Close and reopen.
	if r, _ := c.action(page+"/close", url.Values{"reason": {"duplicate"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %s", r.Status)
	}
	if it, _ := e.st.ReviewItem(ctx, esc); it.Status != "closed" {
		t.Fatalf("close item: %+v", it)
	}
	if r, _ := c.action(page+"/reopen", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reopen: %s", r.Status)
	}
	if it, _ := e.st.ReviewItem(ctx, esc); it.Status != "open" || len(e.fakes.closed) != 1 || len(e.fakes.reopened) != 1 {
		t.Fatalf("reopen: %+v", it)
	}
	_, body = c.get("/escalations")
	if !strings.Contains(body, "I will sue you") {
		t.Fatal("reopened message not back in the queue")
	}
	// Unknown message.
	if r, _ := c.action("/messages/999999/approve", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown message: %s", r.Status)
	}
}

func TestReplayAndPushThrough(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	c := e.client().mustLogin("admin1")
	_, body := c.get("/dead")
	if !strings.Contains(body, "FIELD_CUSTOM_VALIDATION_EXCEPTION") || !strings.Contains(body, "Dead one") || !strings.Contains(body, `<td class="num">3</td>`) {
		t.Fatalf("dead letter page:\n%s", body)
	}
	dead := e.ids["dead"]
	if r, _ := c.action(fmt.Sprintf("/dead/%d/replay", dead), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("replay: %s", r.Status)
	}
	m, _ := e.st.Message(ctx, dead)
	if m.State != store.StateClassified {
		t.Fatalf("replayed into %s, want classified", m.State)
	}
	evs, _ := e.st.Events(ctx, dead)
	if last := evs[len(evs)-1]; last.Kind != "replayed" || last.Detail != "by admin1" {
		t.Fatalf("replay event: %+v", last)
	}
	// Replaying again conflicts.
	if r, _ := c.action(fmt.Sprintf("/dead/%d/replay", dead), nil); r.StatusCode != http.StatusConflict {
		t.Fatalf("second replay: %s", r.Status)
	}
	// Replay all by reason.
	id2 := addMessage(t, e.st, seedMsg{subject: "d2", text: "x", classify: defaultSeeds()[3].classify, final: store.StateDead, reason: "R1"})
	id3 := addMessage(t, e.st, seedMsg{subject: "d3", text: "x", classify: defaultSeeds()[3].classify, final: store.StateDead, reason: "R2"})
	r, _ := c.post("/api/dead/replay", url.Values{"csrf": {c.csrf}, "reason": {"R1"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("replay by reason: %s", r.Status)
	}
	if m, _ := e.st.Message(ctx, id2); m.State == store.StateDead {
		t.Fatal("R1 not replayed")
	}
	if m, _ := e.st.Message(ctx, id3); m.State != store.StateDead {
		t.Fatal("R2 replayed by a reason filter for R1")
	}
	if r, _ := c.action("/dead/replay", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("replay all: %s", r.Status)
	}
	if m, _ := e.st.Message(ctx, id3); m.State == store.StateDead {
		t.Fatal("replay all left a dead letter")
	}
	// Push a skipped message through.
	sk := e.ids["skipped"]
	if r, _ := c.action(fmt.Sprintf("/skipped/%d/push", sk), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("push: %s", r.Status)
	}
	if m, _ := e.st.Message(ctx, sk); m.State != store.StateReceived {
		t.Fatalf("pushed into %s", m.State)
	}
	acts, _ := e.st.ReviewActions(ctx, store.ReviewActionFilter{Actor: "admin1"})
	kinds := map[string]int{}
	for _, a := range acts {
		kinds[a.Action]++
	}
	if kinds["replay"] != 1 || kinds["replay_all"] != 2 || kinds["push_through"] != 1 {
		t.Fatalf("audit of replays: %v", kinds)
	}
}

func TestJSONAPI(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("viewer1")
	get := func(p string, v any) {
		t.Helper()
		resp, body := c.get(p)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %s %s", p, resp.Status, body)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	var msg struct {
		Subject        string
		Classification struct{ Category string }
		Contact        struct {
			ContactID string `json:"contact_id"`
		}
		Knowledge struct{ Articles []struct{ ID string } }
		Case      struct{ URL string }
	}
	get(fmt.Sprintf("/api/messages/%d", e.ids["escalated"]), &msg)
	if msg.Classification.Category != "REFUND" || msg.Contact.ContactID != "003000000000001AAA" || len(msg.Knowledge.Articles) != 2 ||
		!strings.HasSuffix(msg.Case.URL, "/Case/500000000000001AAA/view") {
		t.Fatalf("message JSON: %+v", msg)
	}
	var dash dashboardData
	get("/api/dashboard", &dash)
	if dash.Counts.Total != 5 || dash.API.Used != 4200 || dash.Automation.Automated != 1 || dash.Automation.Escalated != 2 || dash.Automation.Dead != 1 {
		t.Fatalf("dashboard JSON: %+v", dash)
	}
	var list listData
	get("/api/messages?state=skipped", &list)
	if list.Total != 1 || list.Messages[0].Reason != "auto_reply" {
		t.Fatalf("messages JSON: %+v", list)
	}
	get("/api/escalations", &list)
	if list.Total != 2 {
		t.Fatalf("queue JSON: %+v", list)
	}
	var gaps gapsData
	get("/api/gaps", &gaps)
	if len(gaps.Topics) != 2 || len(gaps.Rejected) != 1 {
		t.Fatalf("gaps JSON: %+v", gaps)
	}
	var audit auditData
	get("/api/audit?tab=salesforce", &audit)
	if len(audit.Salesforce) != 1 {
		t.Fatalf("audit JSON: %+v", audit)
	}
	get("/api/audit?tab=events", &audit)
	if len(audit.Events) == 0 {
		t.Fatal("no events in audit JSON")
	}
	var me map[string]any
	get("/api/me", &me)
	if me["name"] != "viewer1" || me["role"] != "viewer" {
		t.Fatalf("me: %v", me)
	}
	resp, body := c.get("/gaps.csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(body, "warranty for refurbished devices,7") {
		t.Fatalf("csv: %s %v %q", resp.Status, resp.Header, body)
	}
	if resp, _ := c.get("/api/messages?state=bogus"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad filter: %s", resp.Status)
	}
}

func TestPagesRender(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("admin1")
	for p, want := range map[string]string{
		"/":                   "Volume per day by category",
		"/escalations":        "Escalation queue",
		"/messages?q=invoice": "Invoice copy please",
		fmt.Sprintf("/messages/%d", e.ids["ambiguous"]): "2 contacts share this address",
		"/corrections":          "Accuracy over time",
		"/gaps":                 "warranty for refurbished devices",
		"/dead":                 "Replay all",
		"/skipped":              "Push through",
		"/audit":                "login",
		"/audit?tab=events":     "recorded",
		"/audit?tab=salesforce": "500000000000001AAA",
	} {
		resp, body := c.get(p)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s: %s, want %q in the page", p, resp.Status, want)
		}
	}
	if resp, _ := c.get("/messages/424242"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown message: %s", resp.Status)
	}
}

func TestCorrectionsAccuracy(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("manager1")
	c.action(fmt.Sprintf("/messages/%d/approve", e.ids["ambiguous"]), nil)
	e.clock.Advance(8 * 24 * time.Hour)
	c = e.client().mustLogin("manager1")
	c.action(fmt.Sprintf("/messages/%d/correct", e.ids["escalated"]), url.Values{"category": {"PAYMENT"}, "priority": {"high"}, "escalate": {"on"}, "escalation_reason": {"legal_threat"}})
	c.action(fmt.Sprintf("/messages/%d/approve", e.ids["auto"]), nil)
	var d correctionsData
	resp, body := c.get("/api/corrections")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Buckets) != 2 || d.Buckets[0].Reviewed != 1 || d.Buckets[0].CategoryAccuracy != 1 ||
		d.Buckets[1].Reviewed != 2 || d.Buckets[1].CategoryAccuracy != 0.5 || d.Buckets[1].PriorityAccuracy != 1 || d.Overall.Corrected != 1 {
		t.Fatalf("accuracy buckets: %+v overall %+v", d.Buckets, d.Overall)
	}
}

func TestUnavailableFeatures(t *testing.T) {
	e := newEnv(t, true, func(_ *Config, d *Deps) { *d = Deps{} })
	c := e.client().mustLogin("admin1")
	page := fmt.Sprintf("/messages/%d", e.ids["escalated"])
	_, body := c.get(page)
	if !strings.Contains(body, "Corrections are not available") || !strings.Contains(body, "Closing and reopening cases is not available") {
		t.Fatal("message page does not say what is unavailable")
	}
	for _, p := range []string{"/correct", "/contact", "/reject-articles", "/close", "/reopen"} {
		if r, _ := c.action(page+p, url.Values{"category": {"REFUND"}, "priority": {"low"}, "contact_id": {"003000000000001AAA"}}); r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s without dependency: %s", p, r.Status)
		}
	}
	for p, want := range map[string]string{"/gaps": "not available", "/": "API usage is not available", "/audit?tab=salesforce": "not available"} {
		if _, body := c.get(p); !strings.Contains(body, want) {
			t.Errorf("%s does not say %q", p, want)
		}
	}
	if r, _ := c.get("/gaps.csv"); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("csv: %s", r.Status)
	}
	// Approve, replay and push through need nothing external.
	if r, _ := c.action(page+"/approve", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("approve: %s", r.Status)
	}
}

func TestLocalModeLoopbackOnly(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := New(Config{Addr: "0.0.0.0:8080"}, st, Deps{}, nil, nil); err == nil || !strings.Contains(err.Error(), "loopback only") {
		t.Fatalf("non-loopback without users: %v", err)
	}
	if _, err := New(Config{Addr: "0.0.0.0:8080", OIDC: OIDCConfig{Issuer: "https://id.example.com", ClientID: "x",
		RedirectURL: "https://t.example.com/auth/oidc/callback", DefaultRole: RoleViewer}}, st, Deps{}, nil, nil); err != nil {
		t.Fatalf("non-loopback with OIDC: %v", err)
	}
	srv, err := New(Config{}, st, Deps{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e := &env{t: t, st: st, srv: srv, ts: ts}
	c := e.client()
	resp, body := c.get("/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "No user is configured") || !strings.Contains(body, "listens on loopback only") {
		t.Fatalf("local mode: %s", resp.Status)
	}
	var me map[string]any
	_, body = c.get("/api/me")
	_ = json.Unmarshal([]byte(body), &me)
	if me["name"] != "local" || me["role"] != "admin" {
		t.Fatalf("local identity: %v", me)
	}
	// A DNS-rebinding page reaches loopback with a foreign Host: not local.
	req, _ := http.NewRequest("GET", ts.URL+"/api/me", nil)
	req.Host = "evil.example:80"
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("foreign Host in local mode: %s", r2.Status)
	}
	// A request from another machine is not local either.
	rec := httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/api/me", nil) // RemoteAddr 192.0.2.1
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("remote client in local mode: %d", rec.Code)
	}
	// Once a user exists, the local session stops working.
	if err := AddUser(ctx, st, "boss", RoleAdmin, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	srv.invalidateUserCount()
	if resp, _ := c.get("/api/me"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("local session after a user was added: %s", resp.Status)
	}
	if resp := c.login("boss", "a long enough password"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with AddUser's bcrypt hash: %s", resp.Status)
	}
}

func TestAddUser(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct {
		name, pw string
		role     Role
		want     string
	}{
		{"ok", "short", RoleAdmin, "password"},
		{"ok", "long enough password", "root", "role"},
		{"bad name!", "long enough password", RoleViewer, "user name"},
		{"<script>", "long enough password", RoleViewer, "user name"},
	} {
		if err := AddUser(ctx, st, tc.name, tc.role, tc.pw); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddUser(%q, %q): %v, want %q", tc.name, tc.role, err, tc.want)
		}
	}
	if err := AddUser(ctx, st, "ann", RoleManager, "long enough password"); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(ctx, st, "ann", RoleAdmin, "long enough password"); !errors.Is(err, store.ErrReviewUserExists) {
		t.Fatal("duplicate user added")
	}
	if err := ReplaceUser(ctx, st, "ann", RoleAdmin, "another long password"); err != nil {
		t.Fatal(err)
	}
	u, _ := st.ReviewUser(ctx, "ann")
	if u.Role != "admin" || strings.Contains(u.PasswordHash, "another") || !strings.HasPrefix(u.PasswordHash, "$2") {
		t.Fatalf("stored user: %+v", u)
	}
}

func TestRateLimiterWindow(t *testing.T) {
	c := &clock{t: start}
	l := newRateLimiter(2, time.Minute, c.Now)
	l.fail("a")
	if l.blocked("a") != 0 {
		t.Fatal("blocked after one failure")
	}
	c.Advance(30 * time.Second)
	l.fail("a")
	if w := l.blocked("a"); w != 30*time.Second {
		t.Fatalf("wait %s, want 30s (until the first failure leaves the window)", w)
	}
	c.Advance(30 * time.Second)
	if l.blocked("a") != 0 {
		t.Fatal("still blocked after the window")
	}
	if l.blocked("b") != 0 {
		t.Fatal("other key blocked")
	}
}

func TestCorrectionExampleIsRedacted(t *testing.T) {
	e := newEnv(t, true)
	id := addMessage(t, e.st, seedMsg{subject: "Card 4111 1111 1111 1111 charged twice", from: ingest.Address{Addr: "p@example.com"},
		text: "My card 4111 1111 1111 1111 was charged twice.\n\n> old quoted text\n", classify: &classify.Result{Category: "PAYMENT", Priority: "high", Escalate: true, EscalationReason: "sensitive_data"}})
	c := e.client().mustLogin("manager1")
	if r, _ := c.action(fmt.Sprintf("/messages/%d/correct", id), url.Values{"category": {"REFUND"}, "priority": {"high"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("correct: %s", r.Status)
	}
	ex, _ := e.st.Corrections(context.Background(), 0)
	if len(ex) != 1 || strings.Contains(ex[0].Subject+ex[0].Body, "4111") || strings.Contains(ex[0].Body, "old quoted text") || !strings.Contains(ex[0].Body, "charged twice") {
		t.Fatalf("example not redacted new text: %+v", ex)
	}
}

func TestSecureCookiesOption(t *testing.T) {
	on := true
	e := newEnv(t, true, func(c *Config, _ *Deps) { c.SecureCookies = &on })
	resp, _ := e.client().get("/login")
	var found bool
	for _, ck := range resp.Cookies() {
		if ck.Name == loginCookie {
			found = true
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
				t.Fatalf("login cookie flags: %+v", ck)
			}
		}
	}
	if !found {
		t.Fatal("no login cookie")
	}
}

func TestDisabledUserLosesAccess(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("manager1")
	if err := e.st.DisableReviewUser(context.Background(), "manager1", "admin1"); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session of a disabled user: %s", r.Status)
	}
	if r := e.client().login("manager1", "correct horse battery"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login of a disabled user: %s", r.Status)
	}
	us, _ := e.st.ReviewUsers(context.Background())
	if len(us) != 3 || !us[1].Disabled || us[1].Name != "manager1" {
		t.Fatalf("users: %+v", us)
	}
	if err := e.st.DisableReviewUser(context.Background(), "nobody", "admin1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("disable unknown: %v", err)
	}
}

func TestQueueOrderAndFilter(t *testing.T) {
	e := newEnv(t, true)
	urgent := addMessage(t, e.st, seedMsg{subject: "site down", text: "x", classify: &classify.Result{Category: "OTHER", Priority: "urgent", Escalate: true, EscalationReason: "angry_customer"}})
	c := e.client().mustLogin("viewer1")
	var l listData
	_, body := c.get("/api/escalations")
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	// urgent first, then the two high/medium seeds.
	if len(l.Messages) != 3 || l.Messages[0].ID != urgent || l.Messages[1].ID != e.ids["escalated"] || l.Messages[2].ID != e.ids["ambiguous"] {
		t.Fatalf("queue order: %+v", l.Messages)
	}
	_, body = c.get("/api/escalations?reason=legal_threat")
	l = listData{}
	_ = json.Unmarshal([]byte(body), &l)
	if l.Total != 1 || l.Messages[0].ID != e.ids["escalated"] {
		t.Fatalf("reason filter: %+v", l)
	}
	if r, body := c.get("/escalations?reason=legal_threat"); r.StatusCode != http.StatusOK || !strings.Contains(body, `<option value="legal_threat" selected>`) {
		t.Fatalf("queue page with filter: %s", r.Status)
	}
}

func TestAPILogin(t *testing.T) {
	e := newEnv(t, true)
	c := e.client()
	post := func(ct, body string) *http.Response {
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/login", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		if tok, ok := v["csrf_token"].(string); ok {
			c.csrf = tok
		}
		return resp
	}
	// A cross-site form can only send form encodings: refused.
	if r := post("application/x-www-form-urlencoded", "username=admin1&password=correct+horse+battery"); r.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form-encoded API login: %s", r.Status)
	}
	if r := post("application/json", `{"username":"admin1","password":"nope"}`); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s", r.Status)
	}
	if r := post("application/json; charset=utf-8", `{"username":"admin1","password":"correct horse battery"}`); r.StatusCode != http.StatusOK || c.csrf == "" {
		t.Fatalf("API login: %s", r.Status)
	}
	// The session and token drive the API like a script would.
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/messages/%d/approve", e.ts.URL, e.ids["escalated"]), nil)
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scripted approve: %s", resp.Status)
	}
	// The rate limit applies here too.
	for range DefaultLoginAttempts {
		post("application/json", `{"username":"viewer1","password":"nope"}`)
	}
	if r := post("application/json", `{"username":"viewer1","password":"correct horse battery"}`); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("API login after failures: %s", r.Status)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t, true)
	c := e.client().mustLogin("manager1")
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range []string{"/api/escalations", "/", fmt.Sprintf("/messages/%d", e.ids["escalated"]), "/api/nope"} {
				resp, err := c.hc.Get(e.ts.URL + p)
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				if want := map[bool]int{true: 404, false: 200}[p == "/api/nope"]; resp.StatusCode != want {
					errs <- fmt.Sprintf("%d %s: %s", i, p, resp.Status)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
