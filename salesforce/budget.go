package salesforce

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Budget is the org's daily API usage as last reported by Salesforce, plus
// the calls this client made.
type Budget struct {
	Used, Max int64 // from Sforce-Limit-Info: api-usage=Used/Max; 0/0 until seen
	Calls     int64 // REST requests this client sent (token calls excluded)
}

// Share is Used/Max, 0 while unknown.
func (b Budget) Share() float64 {
	if b.Max <= 0 {
		return 0
	}
	return float64(b.Used) / float64(b.Max)
}

// parseLimitInfo reads "api-usage=N/M" out of a Sforce-Limit-Info header,
// which may carry more entries ("api-usage=25/5000; per-app-api-usage=17/250(appName=x)").
func parseLimitInfo(h string) (used, max int64, ok bool) {
	for _, part := range strings.Split(h, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "api-usage") {
			continue
		}
		n, m, found := strings.Cut(strings.TrimSpace(v), "/")
		if !found {
			return 0, 0, false
		}
		u, err1 := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		x, err2 := strconv.ParseInt(strings.TrimSpace(m), 10, 64)
		if err1 != nil || err2 != nil || u < 0 || x <= 0 {
			return 0, 0, false
		}
		return u, x, true
	}
	return 0, 0, false
}

// budget tracks usage and decides what the governor allows.
type budget struct {
	mu        sync.Mutex
	used, max int64
	calls     int64
	gov       GovernorConfig
	m         *metrics
	// now and seen (when usage was last reported) let a refused budget be
	// probed again: the governor refuses without calling, so without a probe
	// nothing would ever report that the allocation has recovered.
	now  func() time.Time
	seen time.Time
}

func (b *budget) observe(used, max int64) {
	b.mu.Lock()
	b.used, b.max = used, max
	if b.now != nil {
		b.seen = b.now()
	}
	b.mu.Unlock()
	b.m.apiUsed.Set(float64(used))
	b.m.apiMax.Set(float64(max))
}

func (b *budget) countCall() {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
}

func (b *budget) snapshot() Budget {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Budget{Used: b.used, Max: b.max, Calls: b.calls}
}

// admit returns a *GovernorError if the call must not be made. While no
// Sforce-Limit-Info has been seen the budget is unknown and calls pass: the
// first answer tells.
//
// Once usage has been over a threshold for governorProbeAfter with no fresh
// report (every call refused), one call is let through as a probe: its
// Sforce-Limit-Info tells whether the rolling 24-hour allocation has
// recovered. Without it the client would refuse forever after the cap was
// reached once, until restarted.
func (b *budget) admit(critical bool) error {
	s := b.snapshot()
	if s.Max <= 0 {
		return nil
	}
	share := s.Share()
	var threshold float64
	switch {
	case share >= b.gov.CriticalShare:
		threshold = b.gov.CriticalShare
	case !critical && share >= b.gov.NonCriticalShare:
		threshold = b.gov.NonCriticalShare
	default:
		return nil
	}
	if b.probe() {
		return nil
	}
	reason := "non_critical"
	if threshold == b.gov.CriticalShare {
		reason = "all"
	}
	b.m.governorRefusals.WithLabelValues(reason).Inc()
	return &GovernorError{Used: s.Used, Max: s.Max, Threshold: threshold, Critical: threshold == b.gov.CriticalShare}
}

// metrics are created per client and registered on the caller's registry.
type metrics struct {
	apiUsed, apiMax  prometheus.Gauge
	requests         *prometheus.CounterVec
	governorRefusals *prometheus.CounterVec
	tokenFetches     *prometheus.CounterVec
	duration         prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		apiUsed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "triage_salesforce_api_usage_used",
			Help: "Daily API requests used by the org, from the last Sforce-Limit-Info header.",
		}),
		apiMax: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "triage_salesforce_api_usage_max",
			Help: "Daily API request allocation of the org, from the last Sforce-Limit-Info header.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triage_salesforce_api_calls_total",
			Help: "REST API requests sent by this process, by HTTP status class (2xx..5xx, or error for transport failures).",
		}, []string{"status"}),
		governorRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triage_salesforce_governor_refusals_total",
			Help: "Calls refused by the API budget governor, by which threshold refused them (non_critical or all).",
		}, []string{"threshold"}),
		tokenFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triage_salesforce_token_fetches_total",
			Help: "OAuth token requests, by result (ok or error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "triage_salesforce_request_duration_seconds",
			Help:    "Duration of REST API requests.",
			Buckets: prometheus.ExponentialBuckets(0.025, 2, 10),
		}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.apiUsed, m.apiMax, m.requests, m.governorRefusals, m.tokenFetches, m.duration} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "error"
	}
	return strconv.Itoa(code/100) + "xx"
}

type criticalKey struct{}

// WithCritical marks every call made with ctx as critical: the governor lets
// it through up to Governor.CriticalShare instead of NonCriticalShare.
func WithCritical(ctx context.Context) context.Context {
	return context.WithValue(ctx, criticalKey{}, true)
}

func isCritical(ctx context.Context) bool {
	v, _ := ctx.Value(criticalKey{}).(bool)
	return v
}

// probe reports whether a refused call may go out to refresh a stale budget;
// at most one per governorProbeAfter.
func (b *budget) probe() bool {
	if b.now == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if now.Sub(b.seen) < governorProbeAfter {
		return false
	}
	b.seen = now // the next probe waits for this one's answer or another period
	return true
}
