package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/triage-dev/triage/store"
)

// metrics are the pipeline's own Prometheus series. Components (the Salesforce
// client, the classifier) register theirs on the same registry.
type metrics struct {
	processed *prometheus.CounterVec   // stage, outcome
	duration  *prometheus.HistogramVec // stage
	dead      *prometheus.CounterVec   // stage, reason
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triage_stage_messages_total", Help: "Messages a stage finished, by outcome (advanced, skipped, retry, dead, rate_limited).",
		}, []string{"stage", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "triage_stage_duration_seconds", Help: "Time a stage spent on one message.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"stage"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "triage_dead_letters_total", Help: "Messages that went to the dead-letter queue, by reason.",
		}, []string{"stage", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.processed, m.duration, m.dead)
	}
	return m
}

// queueCollector reports message counts by state at scrape time, straight from
// the store, so the gauge can never drift from the truth.
type queueCollector struct {
	st   *store.Store
	desc *prometheus.Desc
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.st.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range store.AllStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts.ByState[s]), string(s))
	}
}

// health tracks readiness: ready once the first mailbox pass and the first
// knowledge sync (when configured) are through.
type health struct {
	ready atomic.Bool
}

// serveHTTP serves /metrics, /healthz and /readyz on ln until ctx ends.
func serveHTTP(ctx context.Context, ln net.Listener, reg *prometheus.Registry, st *store.Store, h *health, webhook http.Handler, log *slog.Logger) error {
	mux := http.NewServeMux()
	if webhook != nil {
		// Salesforce outbound messages / Flow HTTP callouts about cases the
		// app touched; the handler checks the shared secret.
		mux.Handle("POST /webhooks/salesforce", webhook)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := st.DB().PingContext(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		if !h.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("metrics and health endpoints", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
