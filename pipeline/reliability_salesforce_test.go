package pipeline_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/pipeline/demo"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// productionSchedule is RunConfig's default retry schedule.
func productionSchedule() []time.Duration {
	var c pipeline.RunConfig
	c.SetDefaults()
	return c.RetrySchedule
}

// TestReliabilitySalesforceErrorsAndOutage (issue 9, "Salesforce faults"):
// 30% of calls fail with transient errors (5xx, row locks, timeouts), and in
// the middle of the run the org goes down for 5 minutes (soak) or 2 seconds
// (CI). Nothing is lost, nothing duplicated, nothing dead: no error here is
// permanent.
//
// Soak runs the production retry schedule. CI runs it divided by 150 (the
// same proportions against a 2 s outage), extended with fifteen more 1 s
// steps. The production schedule alone (5 retries, ±20% jitter, 336 s in
// all) does not survive a 5-minute outage plus 30% errors: the soak run
// dead-letters 25 of 54 messages with retries_exhausted (and one follow-on:
// an auto-reply whose case was never written), and the CI proportions with
// TRIAGE_SOAK_SCHEDULE=scaled dead-letter about a third. Reported in issue 9;
// the fix belongs to the runner's retry policy.
func TestReliabilitySalesforceErrorsAndOutage(t *testing.T) {
	t.Parallel() // the suite waits on timers and child processes more than on CPU
	outage := pick(300, 2)
	e := newFixture(t, imaptest.StartMemServer(t), sfsim.Options{MaxHang: 5 * time.Second})
	e.cfg.Pipeline.RetrySchedule = productionSchedule()
	if !soak() {
		e.cfg.Pipeline.RetrySchedule = nil
		for _, d := range productionSchedule() {
			e.cfg.Pipeline.RetrySchedule = append(e.cfg.Pipeline.RetrySchedule, d/150)
		}
		for range 15 {
			e.cfg.Pipeline.RetrySchedule = append(e.cfg.Pipeline.RetrySchedule, time.Second)
		}
	}
	if os.Getenv("TRIAGE_SOAK_SCHEDULE") == "scaled" { // reproduce the finding in seconds
		e.cfg.Pipeline.RetrySchedule = e.cfg.Pipeline.RetrySchedule[:5]
	}
	e.cfg.Salesforce.Timeout = pick(30*time.Second, time.Second)
	app := e.app(t)
	ctx, cancel := context.WithTimeout(context.Background(), pick(20*time.Minute, 2*time.Minute))
	defer cancel()
	if _, err := app.Knowledge.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	emailsBefore := len(e.sim.Records("EmailMessage"))
	contactsBefore := contactsByAddress(e.sim)
	transient := []string{"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "BAD_GATEWAY", "UNKNOWN_EXCEPTION", "timeout"}
	e.sim.SetFaults(sfsim.Faults{ErrorRate: 0.3, Errors: transient})
	var outageAt atomic.Int64
	go func() {
		for ctx.Err() == nil && len(e.sim.Records("EmailMessage")) < emailsBefore+8 {
			time.Sleep(10 * time.Millisecond)
		}
		outageAt.Store(time.Now().UnixMilli())
		e.sim.SetFaults(sfsim.Faults{ErrorRate: 0.3, Errors: transient, OutageSeconds: outage})
	}()
	start := time.Now()
	sum, err := app.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if outageAt.Load() == 0 {
		t.Fatal("the run ended before the outage began: the test proves nothing")
	}
	if got := e.sim.Stats().FaultsInjected; got == 0 {
		t.Fatal("no fault injected")
	}
	t.Logf("%d faults injected, outage %ds; %s; took %s", e.sim.Stats().FaultsInjected, outage, sum, time.Since(start).Round(time.Millisecond))
	checkStore(t, app.Store, demoDelivered(e.mail), false)
	exp, _ := demo.Expected()
	checkOrg(t, e, exp, emailsBefore)
	checkExactlyOnce(t, app.Store, e.sim, emailsBefore)
	checkContacts(t, e.sim, contactsBefore)
}

// TestReliabilitySalesforceExpiredSession: every access token is revoked in
// the middle of the run; the client re-authenticates once (not once per
// worker or per call) and the run completes with nothing lost.
func TestReliabilitySalesforceExpiredSession(t *testing.T) {
	t.Parallel() // the suite waits on timers and child processes more than on CPU
	e := newE2E(t, imaptest.StartMemServer(t))
	app := e.app(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emailsBefore := len(e.sim.Records("EmailMessage"))
	e.sim.SetFaults(sfsim.Faults{LatencyMS: 5}) // keep several workers' calls in flight at the expiry
	var tokensAtExpiry atomic.Int64
	tokensAtExpiry.Store(-1)
	go func() {
		for ctx.Err() == nil && len(e.sim.Records("EmailMessage")) < emailsBefore+10 {
			time.Sleep(5 * time.Millisecond)
		}
		tokensAtExpiry.Store(e.sim.Stats().TokensIssued)
		e.sim.ExpireSessions()
	}()
	sum, err := app.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tokensAtExpiry.Load() < 0 {
		t.Fatal("the run ended before the sessions expired")
	}
	st := e.sim.Stats()
	if n := st.TokensIssued - tokensAtExpiry.Load(); n != 1 {
		t.Errorf("%d tokens issued after the expiry, want exactly 1 (one refresh shared by every worker)", n)
	}
	t.Logf("%s; tokens issued %d (before expiry %d), auth failures %d", sum, st.TokensIssued, tokensAtExpiry.Load(), st.AuthFailures)
	checkStore(t, app.Store, demoDelivered(e.mail), false)
	exp, _ := demo.Expected()
	checkOrg(t, e, exp, emailsBefore)
}

// shiftClock is a clock a test can move forward.
type shiftClock struct{ off atomic.Int64 }

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// TestReliabilitySalesforceDailyLimit: the org's daily API allocation is
// small, so it runs out in the middle of the run. The governor stops calling
// below its cap (critical_share × allocation); messages wait — rate limited,
// no retry attempt spent, none dead — and once the allocation resets (the
// emulated org's day rolls over, the pipeline's clock passes the wait) every
// message completes, exactly once.
func TestReliabilitySalesforceDailyLimit(t *testing.T) {
	t.Parallel()     // the suite waits on timers and child processes more than on CPU
	const limit = 15 // the demo mailbox needs a few times that (the cases stage batches writes)
	clock := &shiftClock{}
	e := newFixture(t, imaptest.StartMemServer(t), sfsim.Options{DailyAPILimit: limit, Now: clock.Now})
	app, err := pipeline.New(context.Background(), e.cfg, discardLog(), pipeline.WithNow(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emailsBefore := len(e.sim.Records("EmailMessage"))
	type result struct {
		sum pipeline.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := app.RunOnce(ctx)
		done <- result{sum, err}
	}()

	// Each day the allocation runs out and everything left waits (stalled:
	// work pending, none leased to a worker, no call reaching the org for a
	// while); then the org's day rolls over, the pipeline's clock passes the
	// wait, and the run goes on. Each day must finish more mail.
	capShare := e.cfg.Salesforce.Governor.CriticalShare
	var r result
	finished := 0
	for day := 1; ; day++ {
		lastUsed, since := -1, time.Now()
		stalled := func() (bool, string) {
			var pending, leased, spent int
			now := clock.Now().UnixMilli()
			app.Store.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE leased_until > ?), coalesce(sum(attempts), 0)
				FROM messages WHERE state NOT IN ('done','skipped','dead')`, now).Scan(&pending, &leased, &spent)
			if spent > 0 {
				t.Fatalf("rate-limited messages spent %d retry attempts", spent)
			}
			used := e.sim.Stats().DailyAPIUsed
			if used != lastUsed {
				lastUsed, since = used, time.Now()
			}
			quiet := time.Since(since)
			return pending > 0 && leased == 0 && quiet > 1500*time.Millisecond,
				fmt.Sprintf("pending %d, leased %d, used %d, quiet for %s", pending, leased, used, quiet)
		}
		ended := false
		waitFor(t, time.Minute, "the run to end or stall on the API limit", func() (bool, string) {
			select {
			case r = <-done:
				ended = true
				return true, ""
			default:
			}
			return stalled()
		})
		s := e.sim.Stats()
		c, _ := app.Store.Counts(ctx)
		t.Logf("day %d: %d/%d API calls used (governor cap %.0f%%, org rejections %d): %v", day, s.DailyAPIUsed, s.DailyAPILimit, capShare*100, s.LimitRejections, c.ByState)
		// The governor holds usage under its cap; calls already past the
		// governor when the cap was reached (one per worker) may land on top.
		inflight := e.cfg.Pipeline.Workers.Dedupe + e.cfg.Pipeline.Workers.Cases
		if max := int(math.Ceil(capShare*limit)) + inflight; s.DailyAPIUsed > max {
			t.Errorf("usage %d/%d passed the governor's cap (%.0f%% + %d in flight)", s.DailyAPIUsed, limit, capShare*100, inflight)
		}
		if c.ByState[store.StateDead] > 0 {
			t.Errorf("the API limit killed messages: %v", c.ByState)
			logDead(t, app)
		}
		if ended {
			if day == 1 {
				t.Fatal("the allocation never ran out: the test proves nothing")
			}
			break
		}
		now := c.ByState[store.StateDone] + c.ByState[store.StateSkipped]
		if now <= finished {
			b := app.Salesforce.Budget()
			t.Fatalf("no progress after the allocation reset (org usage %d/%d; the client's budget says %d/%d)",
				s.DailyAPIUsed, limit, b.Used, b.Max)
		}
		finished = now
		clock.Advance(25 * time.Hour) // a new day at the org; the pipeline's waits are over
		app.Runner.KickAll()
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("completed: %s", r.sum)
	checkStore(t, app.Store, demoDelivered(e.mail), false)
	exp, _ := demo.Expected()
	checkOrg(t, e, exp, emailsBefore)
	checkExactlyOnce(t, app.Store, e.sim, emailsBefore)
}
