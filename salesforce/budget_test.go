package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestParseLimitInfo(t *testing.T) {
	for _, tc := range []struct {
		in        string
		used, max int64
		ok        bool
	}{
		{"api-usage=18/15000", 18, 15000, true},
		{"api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", 25, 5000, true},
		{"per-app-api-usage=17/250(appName=x); api-usage=7/100", 7, 100, true},
		{" API-Usage = 3 / 10 ", 3, 10, true},
		{"api-usage=15001/15000", 15001, 15000, true},
		{"", 0, 0, false},
		{"api-usage=abc/100", 0, 0, false},
		{"api-usage=5/0", 0, 0, false},
		{"api-usage=5", 0, 0, false},
	} {
		u, m, ok := parseLimitInfo(tc.in)
		if u != tc.used || m != tc.max || ok != tc.ok {
			t.Errorf("%q = %d/%d %v, want %d/%d %v", tc.in, u, m, ok, tc.used, tc.max, tc.ok)
		}
	}
}

func TestGovernorThresholds(t *testing.T) {
	f := newFakeOrg(t)
	var used atomic.Int64
	limits := loadGolden(t, "limits")
	f.handle("GET /services/data/v62.0/limits/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/1000", used.Load()))
		_, _ = w.Write(limits.Response.Body)
	})
	reg := prometheus.NewRegistry()
	c := f.client(WithRegisterer(reg))
	ctx := context.Background()
	call := func(ctx context.Context, opts ...CallOption) error {
		_, err := c.do(ctx, request{method: http.MethodGet, path: c.dataPath("limits/"), opts: opts})
		return err
	}
	step := func(set int64, ctx context.Context, opts []CallOption, wantRefused bool, wantCritical bool) {
		t.Helper()
		before := len(f.requests())
		err := call(ctx, opts...)
		var ge *GovernorError
		refused := errors.As(err, &ge)
		if refused != wantRefused {
			t.Fatalf("usage %d/1000: refused=%v (err %v), want %v", c.Budget().Used, refused, err, wantRefused)
		}
		if refused {
			if len(f.requests()) != before {
				t.Error("a refused call reached the network")
			}
			if ge.Critical != wantCritical || !ge.Temporary() || ge.Permanent() || ge.RetryAfter() <= 0 || ErrorKind(err) != KindRateLimited {
				t.Errorf("governor error = %+v", ge)
			}
			if !strings.Contains(ge.Error(), "daily API requests used") {
				t.Errorf("message = %q", ge.Error())
			}
		}
		used.Store(set) // what the next answer will report
	}
	// step's first argument is the usage the NEXT answer reports.
	used.Store(790)
	step(800, ctx, nil, false, false)                      // budget unknown: passes, learns 790/1000
	step(800, ctx, nil, false, false)                      // 79%: passes, learns 800
	step(950, ctx, nil, true, false)                       // 80%: non-critical refused
	step(950, ctx, []CallOption{Critical()}, false, false) // critical passes, learns 950
	step(950, WithCritical(ctx), nil, true, true)          // 95%: even critical refused
	step(950, ctx, nil, true, true)                        // and non-critical, citing the hard limit

	if got := metricValue(t, c.metrics.apiUsed); got != 950 {
		t.Errorf("used gauge = %v", got)
	}
	if got := metricValue(t, c.metrics.apiMax); got != 1000 {
		t.Errorf("max gauge = %v", got)
	}
	if got := metricValue(t, c.metrics.governorRefusals.WithLabelValues("non_critical")); got != 1 {
		t.Errorf("non_critical refusals = %v", got)
	}
	if got := metricValue(t, c.metrics.governorRefusals.WithLabelValues("all")); got != 2 {
		t.Errorf("all refusals = %v", got)
	}
	if got := metricValue(t, c.metrics.requests.WithLabelValues("2xx")); got != 3 {
		t.Errorf("2xx calls = %v", got)
	}
	if b := c.Budget(); b.Calls != 3 {
		t.Errorf("calls = %d", b.Calls)
	}
	// Collectors live on the registry we passed, not a global one.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"triage_salesforce_api_usage_used", "triage_salesforce_api_usage_max", "triage_salesforce_api_calls_total", "triage_salesforce_governor_refusals_total"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
	// Two clients on one registry collide loudly rather than silently.
	if _, err := New(ctx, f.config(), WithRegisterer(reg)); err == nil {
		t.Error("duplicate registration not reported")
	}
}

func TestCustomGovernorShares(t *testing.T) {
	b := &budget{gov: GovernorConfig{NonCriticalShare: 0.5, CriticalShare: 0.6}, m: newMetrics()}
	b.observe(55, 100)
	if b.admit(false) == nil || b.admit(true) != nil {
		t.Error("55%: want non-critical refused, critical allowed")
	}
	b.observe(60, 100)
	if b.admit(true) == nil {
		t.Error("60%: want critical refused")
	}
}

func TestHeaders(t *testing.T) {
	f := newFakeOrg(t)
	g := loadGolden(t, "create_201")
	f.handle("POST /services/data/v62.0/sobjects/Case/", writeGolden(g))
	f.replay("limits")
	on := false
	cfg := f.config()
	cfg.AutoAssign = &on
	c := f.clientWith(cfg)
	ctx := context.Background()
	body := map[string]any{"Subject": "x"}
	_, _ = c.Create(ctx, "Case", body)
	_, _ = c.Create(ctx, "Case", body, AutoAssign(true), AllowDuplicateSave(true))
	_, _ = c.Create(ctx, "Case", body, AssignmentRule("01Q000000000001"))
	_, _ = c.Limits(ctx)
	r := f.requests()
	for i, want := range []struct{ assign, dup string }{{"FALSE", ""}, {"TRUE", "allowSave=true"}, {"01Q000000000001", ""}, {"", ""}} {
		if got := r[i].Header.Get("Sforce-Auto-Assign"); got != want.assign {
			t.Errorf("request %d Sforce-Auto-Assign = %q, want %q", i, got, want.assign)
		}
		if got := r[i].Header.Get("Sforce-Duplicate-Rule-Header"); got != want.dup {
			t.Errorf("request %d Sforce-Duplicate-Rule-Header = %q, want %q", i, got, want.dup)
		}
	}
	cfg.AllowDuplicateSave = true
	c2 := f.clientWith(cfg)
	_, _ = c2.Create(ctx, "Case", body)
	if got := f.requests()[4].Header.Get("Sforce-Duplicate-Rule-Header"); got != "allowSave=true" {
		t.Errorf("config allow_duplicate_save not applied: %q", got)
	}
}

// metricValue reads a gauge or counter's current value.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatal("not a gauge or counter")
	return 0
}

// TestGovernorProbesStaleBudget: over the cap every call is refused without a
// request, so nothing would report that the allocation recovered; after
// governorProbeAfter one call (only one) goes out to ask.
func TestGovernorProbesStaleBudget(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	b := &budget{gov: GovernorConfig{NonCriticalShare: 0.8, CriticalShare: 0.95}, m: newMetrics(), now: func() time.Time { return now }}
	b.observe(99, 100)
	if b.admit(true) == nil {
		t.Fatal("99%: want refused")
	}
	now = now.Add(governorProbeAfter - time.Second)
	if b.admit(true) == nil {
		t.Fatal("before the probe period: want refused")
	}
	now = now.Add(time.Second)
	if err := b.admit(true); err != nil {
		t.Fatalf("after the probe period: want one probe, got %v", err)
	}
	if b.admit(true) == nil || b.admit(false) == nil {
		t.Fatal("a second probe went out before the first one's answer")
	}
	b.observe(1, 100) // the probe's answer: a new day
	if b.admit(false) != nil {
		t.Fatal("after the allocation recovered: want allowed")
	}
}
