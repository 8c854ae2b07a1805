package review

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// Ready-made Deps for the parts that need no Salesforce write: the pipeline
// can wire these directly.

// KnowledgeGaps is a GapReporter and ArticleRejecter over the knowledge package.
type KnowledgeGaps struct {
	Knowledge *knowledge.Knowledge
	Store     *store.Store
}

var (
	_ GapReporter     = KnowledgeGaps{}
	_ ArticleRejecter = KnowledgeGaps{}
	_ AuditReader     = CasesAudit{}
)

// GapTopics runs the knowledge gap report.
func (g KnowledgeGaps) GapTopics(ctx context.Context, since time.Time) ([]GapTopic, error) {
	rep, err := g.Knowledge.GapReport(ctx, since)
	if err != nil {
		return nil, err
	}
	subjects := map[int64]string{}
	out := make([]GapTopic, 0, len(rep.Topics))
	for _, t := range rep.Topics {
		gt := GapTopic{Topic: t.Label, Messages: t.Count, Growth: t.Growth, KeyTerms: t.KeyTerms, Categories: t.Categories}
		if t.Subject != "" {
			gt.Topic = t.Subject
			if t.Label != "" {
				gt.KeyTerms = append([]string{t.Label}, t.KeyTerms...)
			}
		}
		for _, id := range t.MessageIDs {
			s, ok := subjects[id]
			if !ok {
				if m, err := g.Store.Message(ctx, id); err == nil {
					s = m.Subject
				}
				subjects[id] = s
			}
			gt.Examples = append(gt.Examples, GapExample{MessageID: id, Subject: s})
		}
		if t.Closest != nil {
			gt.ClosestArticle, gt.ClosestScore = t.Closest.Title, t.Closest.Score
		}
		out = append(out, gt)
	}
	return out, nil
}

// RejectedArticles lists the articles managers rejected, most rejected first.
func (g KnowledgeGaps) RejectedArticles(ctx context.Context, since time.Time) ([]RejectedArticle, error) {
	rows, err := g.Store.ReviewRejectedArticles(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]RejectedArticle, 0, len(rows))
	for _, r := range rows {
		out = append(out, RejectedArticle{ArticleID: r.ArticleID, Title: r.Title, Rejections: r.Rejections, LastAt: r.LastAt, MessageIDs: r.MessageIDs})
	}
	return out, nil
}

// WriteGapCSV writes the report as `triage report gaps --format csv` does,
// with cells that a spreadsheet would run as a formula defused.
func (g KnowledgeGaps) WriteGapCSV(ctx context.Context, w io.Writer, since time.Time) error {
	rep, err := g.Knowledge.GapReport(ctx, since)
	if err != nil {
		return err
	}
	for i := range rep.Topics {
		t := &rep.Topics[i]
		t.Label, t.Subject = csvSafe(t.Label), csvSafe(t.Subject)
		for j := range t.KeyTerms {
			t.KeyTerms[j] = csvSafe(t.KeyTerms[j])
		}
		if t.Closest != nil {
			c := *t.Closest
			c.Title = csvSafe(c.Title)
			t.Closest = &c
		}
	}
	return rep.WriteCSV(w)
}

// csvSafe stops CSV formula injection: an email subject like
// `=HYPERLINK("http://evil", "click")` must stay text in Excel.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// RejectArticles records the rejection as a knowledge-gap signal.
func (g KnowledgeGaps) RejectArticles(ctx context.Context, messageID int64, articleIDs []string, actor string) error {
	return g.Knowledge.RecordRejection(ctx, messageID, articleIDs, actor)
}

// CasesAudit is an AuditReader over the cases stage's hash-chained audit trail.
type CasesAudit struct {
	Store *store.Store
	Now   func() time.Time
	// Window bounds how far back the browser reads (default 30 days).
	Window time.Duration
}

// Audit returns the newest entries first.
func (a CasesAudit) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	since := q.Since
	if since.IsZero() && q.MessageID == 0 {
		now, win := time.Now, a.Window
		if a.Now != nil {
			now = a.Now
		}
		if win <= 0 {
			win = 30 * 24 * time.Hour
		}
		since = now().Add(-win)
	}
	rows, err := a.Store.CasesAudit(ctx, store.CasesAuditFilter{Since: since, MessageID: q.MessageID})
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	out := make([]AuditEntry, 0, min(limit, len(rows)))
	for i := len(rows) - 1; i >= 0 && len(out) < limit; i-- {
		e := rows[i]
		actor := e.Agent
		if e.IntegrationUser != "" {
			actor = strings.TrimSpace(fmt.Sprintf("%s (%s)", e.Agent, e.IntegrationUser))
		}
		fields := string(e.Fields)
		if fields == "{}" || fields == "null" {
			fields = ""
		}
		out = append(out, AuditEntry{At: e.At, MessageID: e.MessageID, Actor: actor, Action: e.Action, Object: e.SObject,
			RecordID: e.RecordID, Fields: fields, Result: strings.TrimSpace(e.Result + " " + e.Detail), DryRun: e.Result == store.CasesDryRun})
	}
	return out, nil
}

// SalesforceBudget is an APIUsage over the Salesforce client's view of the
// org's daily allocation (from the Sforce-Limit-Info header of every
// response), so drawing the dashboard costs no API call.
type SalesforceBudget struct {
	Client interface{ Budget() salesforce.Budget }
}

var _ APIUsage = SalesforceBudget{}

// APIUsage returns the last reported usage; 0/0 until Salesforce has answered once.
func (b SalesforceBudget) APIUsage(context.Context) (used, max int64, err error) {
	bu := b.Client.Budget()
	return bu.Used, bu.Max, nil
}

// OfflineRetrainer is a Retrainer that trains the offline classifier from the
// embedded data plus every manager correction (what `triage train` does),
// stores the model (classify.model_path when set, else the database) and
// hands it to Use so the running classifier can switch to it.
type OfflineRetrainer struct {
	Config classify.Config
	Store  *store.Store
	// Use receives the new model (nil: only stored, picked up at the next start).
	Use func(*classify.Model) error
	// Log gets one line per retraining (nil: silent).
	Log *slog.Logger
}

var _ Retrainer = OfflineRetrainer{}

// Retrain trains, stores and installs a new model.
func (o OfflineRetrainer) Retrain(ctx context.Context) error {
	m, n, err := classify.TrainWithCorrections(ctx, o.Config, o.Store)
	if err != nil {
		return fmt.Errorf("retrain: %w", err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		return fmt.Errorf("retrain: save model: %w", err)
	}
	if p := o.Config.ModelPath; p != "" {
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
			return fmt.Errorf("retrain: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("retrain: %w", err)
		}
	} else if err := o.Store.PutModel(ctx, classify.StoredModelName, buf.Bytes()); err != nil {
		return fmt.Errorf("retrain: %w", err)
	}
	if o.Log != nil {
		o.Log.Info("retrained the offline classifier", "corrections", n, "model", classify.ModelName(m), "held_out_accuracy", m.HeldOutAccuracy)
	}
	if o.Use != nil {
		return o.Use(m)
	}
	return nil
}
