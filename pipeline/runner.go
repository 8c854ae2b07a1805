package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/triage-dev/triage/store"
)

// RunConfig is the `pipeline` section: how the stage workers behave.
type RunConfig struct {
	// Workers per stage; the LLM and Salesforce stages are where this matters.
	Workers struct {
		Dedupe    int `yaml:"dedupe"`
		Classify  int `yaml:"classify"`
		Knowledge int `yaml:"knowledge"`
		Cases     int `yaml:"cases"`
	} `yaml:"workers"`
	// RetrySchedule is the wait before each retry of a transient failure; after
	// the last one the message is dead.
	RetrySchedule []time.Duration `yaml:"retry_schedule"`
	// Lease is how long a claimed message is reserved for its worker; a crashed
	// worker's messages come back after it.
	Lease time.Duration `yaml:"lease"`
	// ShutdownGrace is how long in-flight work may finish after a stop signal
	// before its calls are cancelled.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// MetricsAddr serves /metrics, /healthz and /readyz during `triage run`;
	// "off" disables it.
	MetricsAddr string `yaml:"metrics_addr"`
}

// SetDefaults fills unset fields.
func (c *RunConfig) SetDefaults() {
	for _, w := range []*int{&c.Workers.Dedupe, &c.Workers.Classify, &c.Workers.Knowledge, &c.Workers.Cases} {
		if *w == 0 {
			*w = 4
		}
	}
	if len(c.RetrySchedule) == 0 {
		c.RetrySchedule = []time.Duration{200 * time.Millisecond, time.Second, 5 * time.Second, 30 * time.Second, 5 * time.Minute}
	}
	if c.Lease == 0 {
		c.Lease = 10 * time.Minute
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.MetricsAddr == "" {
		c.MetricsAddr = "127.0.0.1:9464"
	}
}

// Validate reports every problem with the section.
func (c *RunConfig) Validate() []error {
	var errs []error
	for _, w := range []struct {
		name string
		n    int
	}{{"dedupe", c.Workers.Dedupe}, {"classify", c.Workers.Classify}, {"knowledge", c.Workers.Knowledge}, {"cases", c.Workers.Cases}} {
		if w.n < 1 || w.n > 256 {
			errs = append(errs, fmt.Errorf("workers.%s: %d is outside 1..256", w.name, w.n))
		}
	}
	for i, d := range c.RetrySchedule {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("retry_schedule[%d]: must be positive", i))
		}
	}
	if c.Lease < time.Second {
		errs = append(errs, fmt.Errorf("lease: %s is shorter than 1s", c.Lease))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, errors.New("shutdown_grace: must not be negative"))
	}
	if c.MetricsAddr != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics_addr: %q is not host:port or off", c.MetricsAddr))
		}
	}
	return errs
}

// Outcome is what a stage decided for one message.
type Outcome struct {
	// Skip, when set, ends the message in `skipped` with this reason code.
	Skip string
	// Detail is a human-readable note for the event log.
	Detail string
	// Data, when non-nil, is stored as the stage's result for the message.
	Data any
	// Extra runs inside the state-change transaction.
	Extra func(ctx context.Context, tx *sql.Tx) error
}

// StageFunc processes one message. Errors are classified by the methods they
// implement (see ARCHITECTURE.md): Permanent, Temporary, RetryAfter.
type StageFunc func(ctx context.Context, m store.Message) (Outcome, error)

// Stage is one step of the pipeline.
type Stage struct {
	Name    string
	From    store.State
	To      store.State
	Workers int
	// Run is nil for a stage that is not configured: messages pass through.
	Run StageFunc
	// Prepare, when set, sees each claimed batch before its messages are run,
	// so a stage can fetch what the whole batch needs in one call (it keeps
	// Salesforce API use per email low). Its failure only costs efficiency.
	Prepare func(ctx context.Context, batch []store.Message) error
	// Batch is how many messages one claim may take when Prepare is set (it
	// may exceed Workers: Prepare did the expensive part for all of them).
	Batch int
	// Linger waits this long after a wake-up before claiming, so messages
	// arriving one by one are batched (a little latency for fewer API calls).
	Linger time.Duration

	// failStreak counts transient failures in a row across all of the
	// stage's messages; a success resets it. A long streak means the
	// dependency is down, not that these messages are bad.
	failStreak atomic.Int64
}

// outageStreak is how many transient failures in a row, across messages, make
// a stage treat its dependency as down: retries then wait without spending the
// messages' attempts, so an outage longer than the retry schedule kills nothing.
const outageStreak = 8

// Reasoned errors carry the reason code a dead message is filed under.
type reasoned interface{ Reason() string }

// Runner runs the stage workers from the durable states in the store.
type Runner struct {
	st     *store.Store
	stages []*Stage
	cfg    RunConfig
	log    *slog.Logger
	now    func() time.Time
	kicks  map[store.State]chan struct{}
	m      *metrics
	// OnDead is told about each new dead letter (the alert webhook).
	OnDead func(ctx context.Context, m store.Message, reason, lastErr string)
	// sleep waits between polls; injected so tests can shorten retries.
	rand func() float64
}

// NewRunner builds a runner over the given stages, which must chain From→To.
func NewRunner(st *store.Store, cfg RunConfig, log *slog.Logger, stages ...*Stage) *Runner {
	cfg.SetDefaults()
	r := &Runner{st: st, stages: stages, cfg: cfg, log: log, now: st.Now, kicks: map[store.State]chan struct{}{}, rand: rand.Float64, m: newMetrics(nil)}
	for _, s := range stages {
		r.kicks[s.From] = make(chan struct{}, 1)
		if s.Workers < 1 {
			s.Workers = 1
		}
	}
	return r
}

// Kick wakes the workers of the stage that takes messages in state.
func (r *Runner) Kick(state store.State) {
	if ch, ok := r.kicks[state]; ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// KickAll wakes every stage (after ingest recorded new mail, or a replay).
func (r *Runner) KickAll() {
	for st := range r.kicks {
		r.Kick(st)
	}
}

// Run runs every stage until ctx is cancelled, then stops taking work, lets
// in-flight work finish for ShutdownGrace, and cancels what is left.
func (r *Runner) Run(ctx context.Context) error {
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for _, s := range r.stages {
		wg.Go(func() { r.runStage(ctx, work, s) })
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.cfg.ShutdownGrace):
		r.log.Warn("shutdown grace over: cancelling in-flight work", "grace", r.cfg.ShutdownGrace)
		cancelWork()
		<-done
	}
	return nil
}

// runStage is one stage's dispatcher: it claims only as many messages as it has
// free workers (backpressure), and sleeps until kicked or the next retry is due.
func (r *Runner) runStage(ctx, work context.Context, s *Stage) {
	slots := make(chan struct{}, s.Workers)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	dispatch := func(msgs []store.Message) {
		for _, m := range msgs {
			slots <- struct{}{}
			inflight.Add(1)
			go func() {
				defer func() { <-slots; inflight.Done(); r.Kick(s.From) }()
				r.process(work, s, m)
			}()
		}
	}
	// A stage with Prepare hands each prepared batch to a goroutine that
	// feeds it to the workers, so the next batch is claimed and prepared
	// while this one runs (the cases stage spent half its time waiting for
	// its batch to trickle through the workers). The hand-off is unbuffered:
	// at most one batch runs and one more is prepared.
	var handoff chan []store.Message
	if s.Prepare != nil {
		handoff = make(chan []store.Message)
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			for msgs := range handoff {
				dispatch(msgs)
			}
		}()
		defer func() { close(handoff); <-fed }() // before inflight.Wait
	}
	pause := time.Duration(0)
	// drained: the last claim found fewer messages than it asked for. Only
	// then is lingering worth it (to gather a burst); a stage woken because
	// a worker came free while a backlog waits claims at once.
	drained := true
	for ctx.Err() == nil {
		if pause > 0 {
			if !sleepCtx(ctx, pause) {
				return
			}
		}
		free := s.Workers - len(slots)
		if s.Prepare != nil && s.Batch > free && free > 0 {
			free = s.Batch
		}
		var msgs []store.Message
		if free > 0 {
			var err error
			msgs, err = r.st.Claim(ctx, s.From, free, r.cfg.Lease)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// The database is locked or full: pause instead of losing mail.
				pause = min(max(2*pause, 100*time.Millisecond), 10*time.Second)
				r.log.Error("claim failed; pausing stage", "stage", s.Name, "err", err, "pause", pause)
				continue
			}
			pause = 0
			drained = len(msgs) < free
		}
		if s.Prepare != nil && len(msgs) > 0 {
			if err := s.Prepare(work, msgs); err != nil && work.Err() == nil {
				r.log.Warn("batch prefetch failed; messages run one by one", "stage", s.Name, "err", err)
			}
		}
		if handoff != nil {
			if len(msgs) > 0 {
				// Claimed and prepared: it runs even if ctx ends meanwhile
				// (process hands messages back on shutdown).
				handoff <- msgs
			}
		} else {
			dispatch(msgs)
		}
		if free > 0 && len(msgs) == free {
			continue // there may be more waiting
		}
		wait := 5 * time.Second
		if free > 0 {
			if next, err := r.st.NextDue(ctx, s.From); err == nil && !next.IsZero() {
				wait = min(max(next.Sub(r.now()), 5*time.Millisecond), wait)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.kicks[s.From]:
			if s.Linger > 0 && drained && !sleepCtx(ctx, s.Linger) {
				t.Stop()
				return
			}
		case <-t.C:
		}
		t.Stop()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// process runs one message through one stage and records the result.
func (r *Runner) process(ctx context.Context, s *Stage, m store.Message) {
	log := r.log.With("msg", m.ID, "stage", s.Name)
	var out Outcome
	var err error
	if s.Run != nil {
		start := time.Now()
		out, err = s.Run(ctx, m)
		r.m.duration.WithLabelValues(s.Name).Observe(time.Since(start).Seconds())
	}
	if err == nil {
		s.failStreak.Store(0)
		t := store.Transition{ID: m.ID, From: s.From, To: s.To, Stage: s.Name, Detail: out.Detail}
		if s.Run == nil {
			t.Kind = "passed"
		}
		if out.Skip != "" {
			t.To, t.Reason = store.StateSkipped, out.Skip
		}
		if out.Data != nil || out.Extra != nil {
			t.Extra = func(tx *sql.Tx) error {
				if out.Data != nil {
					if err := r.st.PutStageData(ctx, tx, m.ID, s.Name, out.Data); err != nil {
						return err
					}
				}
				if out.Extra != nil {
					return out.Extra(ctx, tx)
				}
				return nil
			}
		}
		if err := r.st.Advance(ctx, t); err != nil {
			r.onStoreError(ctx, log, m, err)
			return
		}
		outcome := "advanced"
		if t.To == store.StateSkipped {
			outcome = "skipped"
		}
		r.m.processed.WithLabelValues(s.Name, outcome).Inc()
		log.Debug("advanced", "to", t.To, "reason", t.Reason)
		r.Kick(t.To)
		return
	}
	if ctx.Err() != nil {
		// Shutting down: hand the message back without spending an attempt.
		_ = r.st.Release(context.WithoutCancel(ctx), m.ID)
		return
	}
	r.fail(ctx, log, s, m, err)
}

func (r *Runner) onStoreError(ctx context.Context, log *slog.Logger, m store.Message, err error) {
	if errors.Is(err, store.ErrStateConflict) {
		log.Info("message moved by someone else; dropping this result", "err", err)
		return
	}
	// Hand the message back at once; if even that fails (the database is
	// still locked or full), its lease brings it back. Nothing is lost.
	if rerr := r.st.Release(context.WithoutCancel(ctx), m.ID); rerr != nil {
		log.Error("could not record result; message will be retried after its lease", "err", err)
		return
	}
	log.Error("could not record result; message will be retried", "err", err)
}

// fail files an error: permanent → dead now; rate-limited → wait without
// spending an attempt; transient → next step of the retry schedule, then dead.
func (r *Runner) fail(ctx context.Context, log *slog.Logger, s *Stage, m store.Message, err error) {
	var perm interface{ Permanent() bool }
	var ra interface{ RetryAfter() time.Duration }
	reason := s.Name + "_failed"
	var rs reasoned
	if errors.As(err, &rs) && rs.Reason() != "" {
		reason = rs.Reason()
	}
	var storeErr *store.Error
	pause := errors.As(err, &storeErr) && storeErr.Temporary() // our own database is locked or full
	streak := s.failStreak.Add(1)
	switch {
	case errors.As(err, &perm) && perm.Permanent():
		s.failStreak.Add(-1) // a bad message says nothing about the dependency
		r.dead(ctx, log, s, m, reason, err)
	case errors.As(err, &ra) && ra.RetryAfter() > 0:
		next := r.now().Add(ra.RetryAfter())
		r.m.processed.WithLabelValues(s.Name, "rate_limited").Inc()
		log.Warn("rate limited; waiting", "until", next, "err", err)
		if err := r.st.Retry(ctx, m.ID, s.From, s.Name, err, next, false); err != nil {
			r.onStoreError(ctx, log, m, err)
		}
	case pause || streak >= outageStreak:
		// An outage (of Salesforce, the LLM, or our disk): wait on the
		// schedule's longest step at most, without spending an attempt.
		d := r.cfg.RetrySchedule[min(m.Attempts, len(r.cfg.RetrySchedule)-1)]
		d += time.Duration((r.rand() - 0.5) * 0.4 * float64(d))
		next := r.now().Add(d)
		r.m.processed.WithLabelValues(s.Name, "outage").Inc()
		log.Warn("dependency looks down; waiting without spending an attempt", "failures_in_a_row", streak, "next", next, "err", err)
		if err := r.st.Retry(ctx, m.ID, s.From, s.Name, err, next, false); err != nil {
			r.onStoreError(ctx, log, m, err)
		}
	case m.Attempts >= len(r.cfg.RetrySchedule):
		r.dead(ctx, log, s, m, "retries_exhausted", err)
	default:
		d := r.cfg.RetrySchedule[m.Attempts]
		d += time.Duration((r.rand() - 0.5) * 0.4 * float64(d)) // ±20% jitter spreads retries after an outage
		next := r.now().Add(d)
		r.m.processed.WithLabelValues(s.Name, "retry").Inc()
		log.Warn("transient failure; will retry", "attempt", m.Attempts+1, "next", next, "err", err)
		if err := r.st.Retry(ctx, m.ID, s.From, s.Name, err, next, true); err != nil {
			r.onStoreError(ctx, log, m, err)
		}
	}
}

func (r *Runner) dead(ctx context.Context, log *slog.Logger, s *Stage, m store.Message, reason string, cause error) {
	r.m.processed.WithLabelValues(s.Name, "dead").Inc()
	r.m.dead.WithLabelValues(s.Name, reason).Inc()
	log.Error("message is dead", "reason", reason, "err", cause)
	err := r.st.Advance(ctx, store.Transition{ID: m.ID, From: s.From, To: store.StateDead, Stage: s.Name, Reason: reason, Error: cause.Error()})
	if err != nil {
		r.onStoreError(ctx, log, m, err)
		return
	}
	if r.OnDead != nil {
		r.OnDead(ctx, m, reason, cause.Error())
	}
}
