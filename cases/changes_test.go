package cases

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPollChangesSeesHumanClose(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var seen []CaseChange
	s := e.stage(Config{}, WithOnChange(func(_ context.Context, c CaseChange) { seen = append(seen, c) }))
	r, err := s.Process(ctx, e.msg("p1@x.example"), newEmail("kim@x.example", "p1@x.example", "Hi"))
	if err != nil {
		t.Fatal(err)
	}
	// First poll learns the state (status New as written).
	if _, err := s.PollChanges(ctx); err != nil {
		t.Fatal(err)
	}
	seen = nil
	if err := e.sf.Update(ctx, "Case", r.CaseID, map[string]any{"Status": "Closed"}); err != nil {
		t.Fatal(err)
	}
	before := e.calls()
	changes, err := s.PollChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.calls()-before != 1 {
		t.Errorf("poll used %d calls", e.calls()-before)
	}
	if len(changes) != 1 || changes[0].CaseID != r.CaseID || changes[0].Status != "Closed" || !changes[0].IsClosed || changes[0].PrevStatus != "New" || len(seen) != 1 {
		t.Fatalf("changes %+v, seen %+v", changes, seen)
	}
	tc, ok, _ := e.st.CasesTouchedCase(ctx, r.CaseID)
	if !ok || !tc.IsClosed || tc.ThreadKey == "" {
		t.Fatalf("touched %+v", tc)
	}
	// Nothing new: no change reported.
	if changes, err := s.PollChanges(ctx); err != nil || len(changes) != 0 {
		t.Fatalf("%+v %v", changes, err)
	}
}

func TestWebhook(t *testing.T) {
	e := newEnv(t)
	const secret = "0123456789abcdef-secret"
	s := e.stage(Config{Webhook: WebhookConfig{Secret: secret}})
	h := s.WebhookHandler()
	post := func(ct, body string, hdr map[string]string, query string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/hooks/salesforce"+query, strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	js := `{"Id":"500000000000001AAA","Status":"Closed","IsClosed":true,"OwnerId":"005000000000001AAA","SystemModstamp":"2026-11-23T10:00:00.000+0000"}`
	tests := []struct {
		name string
		hdr  map[string]string
		q    string
		code int
	}{
		{"no secret", nil, "", 401},
		{"wrong secret", map[string]string{"X-Triage-Secret": "0123456789abcdef-secreT"}, "", 401},
		{"header", map[string]string{"X-Triage-Secret": secret}, "", 200},
		{"bearer", map[string]string{"Authorization": "Bearer " + secret}, "", 200},
		{"query", nil, "?secret=" + secret, 200},
	}
	for _, tt := range tests {
		if w := post("application/json", js, tt.hdr, tt.q); w.Code != tt.code {
			t.Errorf("%s: %d %s", tt.name, w.Code, w.Body)
		}
	}
	tc, ok, _ := e.st.CasesTouchedCase(context.Background(), "500000000000001AAA")
	if !ok || tc.Status != "Closed" || tc.Source != "webhook" || tc.OwnerID != "005000000000001AAA" {
		t.Fatalf("%+v", tc)
	}
	soap := `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000001</OrganizationId>
<Notification><Id>04l000000000001</Id><sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<sf:Id>500000000000002AAA</sf:Id><sf:IsClosed>false</sf:IsClosed><sf:Status>Working</sf:Status></sObject></Notification>
</notifications></soapenv:Body></soapenv:Envelope>`
	w := post("text/xml", soap, nil, "?secret="+secret)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<Ack>true</Ack>") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if tc, ok, _ := e.st.CasesTouchedCase(context.Background(), "500000000000002AAA"); !ok || tc.Status != "Working" {
		t.Fatalf("%+v", tc)
	}
	if w := post("application/json", `{"Id":"'; drop"}`, map[string]string{"X-Triage-Secret": secret}, ""); w.Code != 400 {
		t.Errorf("bad id: %d", w.Code)
	}
	// Disabled without a secret.
	off := e.stage(Config{}).WebhookHandler()
	w = httptest.NewRecorder()
	off.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(js)))
	if w.Code != 404 {
		t.Errorf("no secret configured: %d", w.Code)
	}
}

func TestAlerterRateLimit(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil || m["text"] == "" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("not Slack-compatible: %s", b)
		}
		mu.Lock()
		posts = append(posts, m["text"])
		mu.Unlock()
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewAlerter(AlertConfig{URL: srv.URL, MinInterval: time.Minute}, srv.Client(), nil, func() time.Time { return now })
	ctx := context.Background()
	for i := range 5 {
		if err := a.Alert(ctx, "dead letter "+string(rune('A'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if len(posts) != 1 || a.Pending() != 4 {
		t.Fatalf("posts %v, pending %d", posts, a.Pending())
	}
	now = now.Add(61 * time.Second)
	if err := a.LoopTripped(ctx, "bot@x.example", "Re: Re: Re:", 20); err != nil {
		t.Fatal(err)
	}
	if len(posts) != 2 || !strings.Contains(posts[1], "+4 more") || !strings.Contains(posts[1], "loop breaker") || a.Pending() != 0 {
		t.Fatalf("posts %q", posts)
	}
	// A burst's tail goes out with Flush once the interval has passed.
	a.Alert(ctx, "late 1")
	a.Alert(ctx, "late 2")
	if err := a.Flush(ctx); err != nil || len(posts) != 2 {
		t.Fatalf("flushed too early: %q %v", posts, err)
	}
	now = now.Add(2 * time.Minute)
	if err := a.Flush(ctx); err != nil || len(posts) != 3 || !strings.Contains(posts[2], "late 1") || !strings.Contains(posts[2], "+1 more") || a.Pending() != 0 {
		t.Fatalf("flush: %q %v, pending %d", posts, err, a.Pending())
	}
}
