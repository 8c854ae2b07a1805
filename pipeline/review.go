package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/triage-dev/triage/cases"
	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/review"
)

// casesCorrector adapts the cases stage to review.Corrector (review imports
// cases, so cases cannot name review's type).
type casesCorrector struct{ s *cases.Stage }

func (c casesCorrector) Correct(ctx context.Context, x review.Correction) error {
	return c.s.Correct(ctx, cases.Correction(x))
}

// swappable is the running classifier; a retrain swaps the offline model in
// without a restart.
type swappable struct {
	cur atomic.Pointer[classify.Calibrated]
}

func newSwappable(c classify.Calibrated) *swappable {
	s := &swappable{}
	s.cur.Store(&c)
	return s
}

func (s *swappable) Classify(ctx context.Context, in classify.Input) (classify.Result, error) {
	return (*s.cur.Load()).Classify(ctx, in)
}
func (s *swappable) Name() string                           { return (*s.cur.Load()).Name() }
func (s *swappable) SetCalibration(c *classify.Calibration) { (*s.cur.Load()).SetCalibration(c) }

// useModel switches to a newly trained offline model (the LLM, when
// configured, stays: its few-shot examples come from the same corrections).
func (a *App) useModel(m *classify.Model) error {
	if a.Cfg.LLM != nil {
		return nil
	}
	off, err := classify.NewOffline(a.Cfg.Classify, m)
	if err != nil {
		return fmt.Errorf("retrained model: %w", err)
	}
	var c classify.Calibrated = off
	a.classifier.cur.Store(&c)
	a.Log.Info("classifier retrained and swapped in", "model", off.Name())
	return nil
}

// NewReview builds the review UI over this app's store and stages.
func (a *App) NewReview() (*review.Server, error) {
	deps := review.Deps{
		Corrector:       casesCorrector{a.Cases},
		ContactPicker:   a.Cases,
		CaseActions:     a.Cases,
		GapReporter:     review.KnowledgeGaps{Knowledge: a.Knowledge, Store: a.Store},
		ArticleRejecter: review.KnowledgeGaps{Knowledge: a.Knowledge, Store: a.Store},
		AuditReader:     review.CasesAudit{Store: a.Store, Now: a.Store.Now},
		Retrainer:       review.OfflineRetrainer{Config: a.Cfg.Classify, Store: a.Store, Use: a.useModel, Log: a.Log.With("component", "retrain")},
		Categories:      a.Cfg.Classify.CategoryNames(),
	}
	if sf := a.Salesforce; sf != nil {
		deps.APIUsage = review.SalesforceBudget{Client: sf}
		deps.SalesforceURL = func(id string) string { return sf.InstanceURL() + "/lightning/r/Case/" + id + "/view" }
	}
	return review.New(a.Cfg.Review, a.Store, deps, a.Log.With("component", "review"), a.Store.Now)
}
