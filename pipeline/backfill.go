package pipeline

import (
	"context"
	"database/sql"
	"time"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/store"
)

// backfillChunk is how many enriched messages one Backfill call takes; the
// cases stage packs them into /composite/graph requests.
const backfillChunk = 500

// Backfill processes a mailbox's history (after an outage, or on first
// start): mail is fetched and run through dedupe, classify and knowledge as
// usual, then written to Salesforce in /composite/graph batches so each email
// costs a small fraction of an API call. Emails a batch could not write finish
// through the normal cases stage, with its retries and dead letters.
func (a *App) Backfill(ctx context.Context, progress func(done, total int)) (Summary, cases.BackfillReport, error) {
	start := time.Now()
	var sum Summary
	var total cases.BackfillReport
	for _, s := range a.syncers {
		n, err := s.SyncOnce(ctx)
		sum.Fetched += n
		if err != nil {
			return sum, total, err
		}
	}
	// The stages before cases, until nothing is left before `enriched`.
	early := NewRunner(a.Store, a.Cfg.Pipeline, a.Log, a.stages()[:3]...)
	early.m = a.Runner.m
	if err := a.drainWith(ctx, early, func(c store.Counts) int {
		return c.ByState[store.StateReceived] + c.ByState[store.StateDeduped] + c.ByState[store.StateClassified]
	}); err != nil {
		return sum, total, err
	}
	for {
		items, err := a.backfillItems(ctx, backfillChunk)
		if err != nil {
			return sum, total, err
		}
		if len(items) == 0 {
			break
		}
		rep, err := a.Cases.Backfill(ctx, items, progress)
		if err != nil {
			return sum, total, err
		}
		total.Emails += rep.Emails
		total.Written += rep.Written
		total.Already += rep.Already
		total.Recovered += rep.Recovered
		total.Failed += rep.Failed
		total.APICalls += rep.APICalls
		advanced := 0
		for _, it := range items {
			r, ok := rep.Results[it.Message.ID]
			if !ok || rep.Errors[it.Message.ID] != nil {
				// Left in `enriched` for the live cases stage, without its lease.
				if err := a.Store.Release(ctx, it.Message.ID); err != nil {
					return sum, total, err
				}
				continue
			}
			err := a.Store.Advance(ctx, store.Transition{ID: it.Message.ID, From: store.StateEnriched, To: store.StateDone,
				Stage: cases.StageName, Kind: "backfilled", Detail: r.Action + " case " + r.CaseID,
				Extra: func(tx *sql.Tx) error { return a.Store.PutStageData(ctx, tx, it.Message.ID, cases.StageName, r) }})
			if err != nil {
				return sum, total, err
			}
			advanced++
		}
		if advanced == 0 {
			break // nothing more the batch path can do; the live stage takes the rest
		}
	}
	if total.Emails > 0 {
		total.CallsPerEmail = float64(total.APICalls) / float64(total.Emails)
	}
	// Whatever a batch could not write goes through the cases stage one by one.
	if err := a.Drain(ctx); err != nil {
		return sum, total, err
	}
	var err error
	sum.Counts, err = a.Store.Counts(ctx)
	sum.Elapsed = time.Since(start)
	return sum, total, err
}

// drainWith runs r until left(counts) is zero.
func (a *App) drainWith(ctx context.Context, r *Runner, left func(store.Counts) int) error {
	workCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(workCtx) }()
	r.KickAll()
	defer func() { stop(); <-done }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := a.Store.Counts(ctx)
		if err != nil {
			return err
		}
		if left(c) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// backfillItems loads up to limit enriched messages with their earlier
// stages' results.
func (a *App) backfillItems(ctx context.Context, limit int) ([]cases.BackfillItem, error) {
	msgs, err := a.Store.Claim(ctx, store.StateEnriched, limit, a.Cfg.Pipeline.Lease)
	if err != nil {
		return nil, err
	}
	items := make([]cases.BackfillItem, 0, len(msgs))
	for _, m := range msgs {
		in, err := casesInput(ctx, a.Store, m)
		if err != nil {
			return nil, err
		}
		items = append(items, cases.BackfillItem{Message: m, Input: in})
	}
	if len(items) > 0 {
		a.Log.Info("backfill batch", "emails", len(items))
	}
	return items, nil
}
