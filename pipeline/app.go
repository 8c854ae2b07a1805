package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// OpenStore opens the database the config names.
func OpenStore(ctx context.Context, cfg *Config, log *slog.Logger) (*store.Store, error) {
	return store.Open(ctx, cfg.Store, store.WithLogger(log))
}

// App is a configured pipeline: mailboxes feeding the stage workers.
type App struct {
	Cfg        *Config
	Store      *store.Store
	Log        *slog.Logger
	Runner     *Runner
	Salesforce *salesforce.Client // nil offline
	Dedupe     *dedupe.Stage
	Classifier classify.Calibrated
	classifier *swappable
	Knowledge  *knowledge.Knowledge
	Cases      *cases.Stage
	Alerter    *cases.Alerter
	// Registry holds every Prometheus series the app exports.
	Registry *prometheus.Registry
	syncers  []*ingest.Syncer
	health   health
	// metricsAddr and reviewAddr are where /metrics and the review UI listen
	// once Run started ("" before).
	metricsAddr, reviewAddr atomic.Value
}

// ReviewAddr is the bound address of the review UI, or "".
func (a *App) ReviewAddr() string {
	s, _ := a.reviewAddr.Load().(string)
	return s
}

// MetricsAddr is the bound address of /metrics, /healthz and /readyz, or "".
func (a *App) MetricsAddr() string {
	s, _ := a.metricsAddr.Load().(string)
	return s
}

// Option adjusts an App.
type Option func(*appOptions)

type appOptions struct {
	now    func() time.Time
	sfOpts []salesforce.Option
}

// WithSalesforceOptions passes options to the Salesforce client (tests use it
// to point the HTTP client at the emulator).
func WithSalesforceOptions(opts ...salesforce.Option) Option {
	return func(o *appOptions) { o.sfOpts = append(o.sfOpts, opts...) }
}

// WithNow injects the clock.
func WithNow(now func() time.Time) Option { return func(o *appOptions) { o.now = now } }

// New opens the store and builds the syncers and stage workers from cfg.
func New(ctx context.Context, cfg *Config, log *slog.Logger, opts ...Option) (*App, error) {
	o := appOptions{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	st, err := store.Open(ctx, cfg.Store, store.WithLogger(log), store.WithNow(o.now))
	if err != nil {
		return nil, err
	}
	a := &App{Cfg: cfg, Store: st, Log: log, Registry: prometheus.NewRegistry()}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		queueCollector{st: st, desc: prometheus.NewDesc("triage_messages", "Messages by state.", []string{"state"}, nil)})
	if err := a.build(ctx, o); err != nil {
		st.Close()
		return nil, err
	}
	a.Runner = NewRunner(st, cfg.Pipeline, log, a.stages()...)
	a.Runner.m = newMetrics(a.Registry)
	a.Runner.OnDead = func(ctx context.Context, m store.Message, reason, lastErr string) {
		if err := a.Alerter.DeadLetter(ctx, m, reason, lastErr); err != nil {
			log.Warn("dead-letter alert not sent", "msg", m.ID, "err", err)
		}
	}
	for _, mb := range cfg.Mailboxes {
		a.syncers = append(a.syncers, ingest.NewSyncer(mb, st,
			ingest.WithLogger(log.With("mailbox", mb.Name)),
			ingest.WithNow(o.now),
			ingest.WithNotify(func() { a.Runner.Kick(store.StateReceived) })))
	}
	return a, nil
}

// build constructs the stages' components from the config.
func (a *App) build(ctx context.Context, o appOptions) error {
	sf, err := NewSalesforce(ctx, a.Cfg, a.Log.With("component", "salesforce"),
		append([]salesforce.Option{salesforce.WithNow(o.now), salesforce.WithRegisterer(a.Registry)}, o.sfOpts...)...)
	if err != nil {
		return err
	}
	a.Salesforce = sf
	var dsf dedupe.SalesforceAPI
	kopts := []knowledge.Option{knowledge.WithLogger(a.Log.With("stage", "knowledge")), knowledge.WithNow(o.now)}
	if sf != nil {
		dsf = sf
		kopts = append(kopts, knowledge.WithSalesforce(sf))
	}
	if a.Cfg.Knowledge.Hybrid.Enabled && a.Cfg.LLM != nil {
		// Embeddings from the same OpenAI-compatible endpoint as the classifier.
		kopts = append(kopts, knowledge.WithEmbedder(knowledge.NewOpenAIEmbedder(a.Cfg.LLM.BaseURL, a.Cfg.LLM.APIKey, a.Cfg.Knowledge.Hybrid.Model, nil)))
	}
	a.Alerter = cases.NewAlerter(a.Cfg.Cases.Alerts, nil, a.Log.With("component", "alerts"), o.now)
	a.Dedupe = dedupe.NewStage(a.Cfg.Dedupe, a.Store, dsf, a.Log.With("stage", "dedupe"), o.now,
		dedupe.WithOnLoopTripped(func(ctx context.Context, sender, subject string, count int) {
			if err := a.Alerter.LoopTripped(ctx, sender, subject, count); err != nil {
				a.Log.Warn("loop alert not sent", "err", err)
			}
		}))
	c, err := classify.New(ctx, a.Cfg.Classify, a.Cfg.LLM, a.Store, a.Log.With("stage", "classify"))
	if err != nil {
		return fmt.Errorf("classifier: %w", err)
	}
	a.classifier = newSwappable(c)
	a.Classifier = a.classifier
	a.Knowledge = knowledge.New(a.Cfg.Knowledge, a.Store, kopts...)

	categoryValue := map[string]string{}
	for _, c := range a.Cfg.Classify.Taxonomy {
		categoryValue[c.Name] = c.SalesforceValue
	}
	copts := []cases.Option{
		cases.WithDedupe(a.Dedupe),
		cases.WithRedactor(classify.NewRedactor(a.Cfg.Classify.Redact)),
		cases.WithCategoryValue(func(c string) string {
			if v := categoryValue[c]; v != "" {
				return v
			}
			return c
		}),
		cases.WithCloseThreshold(a.Cfg.Classify.Thresholds[classify.FieldCategory].Automate),
	}
	if a.Cfg.Salesforce != nil && a.Cfg.Salesforce.Auth.Username != "" {
		copts = append(copts, cases.WithIntegrationUser(a.Cfg.Salesforce.Auth.Username))
	}
	var csf cases.SalesforceAPI
	if sf != nil {
		csf = sf
	}
	a.Cases = cases.NewStage(a.Cfg.Cases, a.Store, csf, a.Log.With("stage", "cases"), o.now, copts...)
	if sf != nil {
		// A bad field map fails here, with every problem listed, never at the first email.
		if err := ValidateSalesforce(ctx, a.Cfg, sf); err != nil {
			return err
		}
	}
	return nil
}

// examples returns the few-shot source when an LLM is configured.
func (a *App) examples() examples {
	if a.Cfg.LLM == nil {
		return nil
	}
	return func(ctx context.Context, subject, body string) ([]classify.Example, error) {
		cs, err := a.Store.Corrections(ctx, 500)
		if err != nil {
			return nil, err
		}
		return classify.SimilarExamples(a.Cfg.Classify, cs, subject, body), nil
	}
}

// related returns the custom-object reader when the config lists objects
// the app may read into the classifier's context.
func (a *App) related() related {
	if a.Salesforce == nil || len(a.Cfg.Cases.CustomObjects) == 0 {
		return nil
	}
	return customRecords(a.Cases)
}

// stages lists the pipeline in order. A stage without Run passes messages on.
func (a *App) stages() []*Stage {
	w := a.Cfg.Pipeline.Workers
	return []*Stage{
		{Name: dedupe.StageName, From: store.StateReceived, To: store.StateDeduped, Workers: w.Dedupe, Run: dedupeStage(a.Dedupe), Prepare: a.Dedupe.Prefetch},
		{Name: "classify", From: store.StateDeduped, To: store.StateClassified, Workers: w.Classify, Run: classifyStage(a.Store, a.Classifier, a.examples(), a.related())},
		{Name: "knowledge", From: store.StateClassified, To: store.StateEnriched, Workers: w.Knowledge, Run: knowledgeStage(a.Store, a.Knowledge)},
		{Name: cases.StageName, From: store.StateEnriched, To: store.StateDone, Workers: w.Cases, Run: casesStage(a.Store, a.Cases), Prepare: casesPrepare(a.Store, a.Cases),
			Batch: 25, Linger: 100 * time.Millisecond},
	}
}

// Close releases the store.
func (a *App) Close() error { return a.Store.Close() }

// Run syncs every mailbox (IDLE or polling) and runs the stages until ctx ends.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if addr := a.Cfg.Pipeline.MetricsAddr; addr != "off" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("pipeline.metrics_addr: %w", err)
		}
		a.metricsAddr.Store(ln.Addr().String())
		wg.Go(func() {
			var webhook http.Handler
			if a.Cfg.Cases.Webhook.Secret != "" {
				webhook = a.Cases.WebhookHandler()
			}
			if err := serveHTTP(ctx, ln, a.Registry, a.Store, &a.health, webhook, a.Log); err != nil {
				a.Log.Error("metrics endpoint stopped", "addr", addr, "err", err)
			}
		})
	}
	a.startBackground(ctx, &wg)
	if a.Cfg.Review.IsEnabled() {
		srv, err := a.NewReview()
		if err != nil {
			return fmt.Errorf("review: %w", err)
		}
		ln, err := net.Listen("tcp", a.Cfg.Review.Addr)
		if err != nil {
			return fmt.Errorf("review.addr: %w", err)
		}
		a.reviewAddr.Store(ln.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
				a.Log.Error("review UI stopped", "err", err)
			}
		})
	}
	a.health.ready.Store(true)
	for _, s := range a.syncers {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil && ctx.Err() == nil {
				a.Log.Error("mailbox sync stopped", "err", err)
			}
		})
	}
	a.Runner.KickAll()
	err := a.Runner.Run(ctx)
	wg.Wait()
	return err
}

// Summary is what a --once run did.
type Summary struct {
	Fetched int
	Counts  store.Counts
	Elapsed time.Duration
}

// String is the one-line summary `triage run --once` prints.
func (s Summary) String() string {
	c := s.Counts.ByState
	return fmt.Sprintf("fetched %d, total %d: done %d, skipped %d, dead %d, in progress %d (%.1fs)",
		s.Fetched, s.Counts.Total, c[store.StateDone], c[store.StateSkipped], c[store.StateDead],
		s.Counts.Total-c[store.StateDone]-c[store.StateSkipped]-c[store.StateDead], s.Elapsed.Seconds())
}

// RunOnce fetches what is waiting in every mailbox, then returns when every
// message is in a final state, waiting out scheduled retries.
func (a *App) RunOnce(ctx context.Context) (Summary, error) {
	start := time.Now()
	var sum Summary
	var errs []error
	for _, s := range a.syncers {
		n, err := s.SyncOnce(ctx)
		sum.Fetched += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := a.Drain(ctx); err != nil {
		errs = append(errs, err)
	}
	var err error
	sum.Counts, err = a.Store.Counts(ctx)
	sum.Elapsed = time.Since(start)
	return sum, errors.Join(append(errs, err)...)
}

// Drain runs the stage workers until no message is left in a non-final state.
func (a *App) Drain(ctx context.Context) error {
	workCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Runner.Run(workCtx) }()
	a.Runner.KickAll()
	defer func() { stop(); <-done }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n, _, err := a.Store.Pending(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// startBackground runs the periodic jobs of `triage run`: the knowledge re-sync
// and the poll for Contact/Account changes that invalidates dedupe's cache.
func (a *App) startBackground(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { a.Alerter.Run(ctx) })
	if a.Salesforce == nil {
		return
	}
	if !a.Cases.DryRun() {
		wg.Go(func() {
			if err := a.Cases.RunChanges(ctx); err != nil && ctx.Err() == nil {
				a.Log.Error("case changes poll stopped", "err", err)
			}
		})
	}
	every := func(name string, d time.Duration, job func(context.Context) error) {
		if d <= 0 {
			return
		}
		wg.Go(func() {
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if err := job(ctx); err != nil && ctx.Err() == nil {
					a.Log.Warn("periodic job failed; will try again", "job", name, "err", err)
				}
			}
		})
	}
	if a.Cfg.Knowledge.Sources.Salesforce.Enabled {
		every("knowledge sync", a.Cfg.Knowledge.SyncInterval, func(ctx context.Context) error {
			_, err := a.Knowledge.Sync(ctx)
			return err
		})
	}
	every("contact changes", a.Cfg.Dedupe.ContactCache.PollInterval, a.Dedupe.PollChanges)
}
