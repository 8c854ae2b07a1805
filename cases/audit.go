package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// auditItem is one write and its outcome, before it becomes an audit line.
type auditItem struct {
	Write    Write
	RecordID string
	Result   string // ok, dry_run or an error code
	Detail   string
}

// auditValueMax caps each value kept in the audit trail: the trail proves
// what was written, it is not a second copy of every email body.
const auditValueMax = 300

func auditJSON(w Write) json.RawMessage {
	f := map[string]any{}
	for k, v := range w.Fields {
		if s, ok := v.(string); ok && utf8.RuneCountInString(s) > auditValueMax {
			v = fmt.Sprintf("%s… (%d characters)", truncate(s, auditValueMax), utf8.RuneCountInString(s))
		}
		f[k] = v
	}
	if w.ExtField != "" {
		f["_external_id"] = w.ExtField + "=" + w.ExtID
	}
	if w.SOQL != "" {
		f["_soql"] = w.SOQL
	}
	b, _ := json.Marshal(f)
	return b
}

func (s *Stage) audit(ctx context.Context, msgID int64, items []auditItem) error {
	now := s.now()
	entries := make([]store.CasesAuditEntry, 0, len(items))
	for _, it := range items {
		rec := it.RecordID
		if rec == "" {
			rec = it.Write.ID
		}
		entries = append(entries, store.CasesAuditEntry{At: now, MessageID: msgID, Action: it.Write.Op,
			SObject: it.Write.SObject, RecordID: rec, Fields: auditJSON(it.Write), Result: it.Result,
			Detail: it.Detail, IntegrationUser: s.user, Agent: s.cfg.AgentName})
	}
	return s.st.CasesAppendAudit(ctx, nil, entries...)
}

func (s *Stage) auditSuccess(ctx context.Context, m store.Message, p *plan, ids map[string]string) {
	items := make([]auditItem, 0, len(p.writes))
	for _, w := range p.writes {
		items = append(items, auditItem{Write: w, RecordID: ids[w.Ref], Result: "ok"})
	}
	if err := s.audit(context.WithoutCancel(ctx), m.ID, items); err != nil {
		s.log.Error("audit trail write failed", "msg", m.ID, "err", err)
	}
}

func (s *Stage) auditFailure(ctx context.Context, m store.Message, p *plan, resp *salesforce.CompositeResponse, err error) {
	byRef := map[string]string{}
	if resp != nil {
		for _, sr := range resp.CompositeResponse {
			if e := sr.Err(); e != nil {
				var ae *salesforce.APIError
				if errors.As(e, &ae) {
					byRef[sr.ReferenceID] = ae.Code()
				}
			}
		}
	}
	code := "error"
	var ae *salesforce.APIError
	if errors.As(err, &ae) {
		code = ae.Code()
	} else if !definite(err) {
		code = "unknown_outcome"
	}
	items := make([]auditItem, 0, len(p.writes))
	for _, w := range p.writes {
		r := byRef[w.Ref]
		if r == "" {
			r = code
		}
		items = append(items, auditItem{Write: w, Result: r, Detail: truncate(err.Error(), 500)})
	}
	if aerr := s.audit(context.WithoutCancel(ctx), m.ID, items); aerr != nil {
		s.log.Error("audit trail write failed", "msg", m.ID, "err", aerr)
	}
}

// Verify checks the audit trail's hash chain; a non-nil error means rows
// were changed, removed or inserted outside the app.
func (s *Stage) Verify(ctx context.Context) error {
	_, err := s.st.CasesVerifyAudit(ctx)
	return err
}

// Verify checks the audit trail of st without a Stage (for `triage audit verify`).
func Verify(ctx context.Context, st *store.Store) (rows int, err error) {
	return st.CasesVerifyAudit(ctx)
}

// Alerter posts dead letters and loop-breaker trips to a Slack-compatible
// incoming webhook ({"text": ...}). At most one post per min_interval: alerts
// in between are counted and summarised in the next post, so an outage that
// kills a thousand messages sends a handful of posts, not a thousand.
type Alerter struct {
	cfg  AlertConfig
	hc   *http.Client
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	last time.Time
	held []string // suppressed alert lines since the last post
}

// NewAlerter builds an alerter; with an empty URL it only logs.
func NewAlerter(cfg AlertConfig, hc *http.Client, log *slog.Logger, now func() time.Time) *Alerter {
	if cfg.MinInterval == 0 {
		cfg.MinInterval = time.Minute
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Alerter{cfg: cfg, hc: hc, log: log, now: now}
}

// DeadLetter alerts on a message that went to the dead-letter queue.
func (a *Alerter) DeadLetter(ctx context.Context, m store.Message, reason, lastErr string) error {
	return a.Alert(ctx, fmt.Sprintf(":rotating_light: triage dead letter: message %d %q from %s: %s (%s). Fix the cause, then `triage replay --id %d`.",
		m.ID, truncate(m.Subject, 80), m.From, reason, truncate(lastErr, 300), m.ID))
}

// LoopTripped alerts on a mail loop the breaker stopped.
func (a *Alerter) LoopTripped(ctx context.Context, sender, subject string, count int) error {
	return a.Alert(ctx, fmt.Sprintf(":warning: triage loop breaker tripped: %d messages from %s with subject %q; no cases are opened for them.",
		count, sender, truncate(subject, 80)))
}

// Alert posts text now, or holds it when the last post was less than
// min_interval ago (it then goes out, summarised, with the next post).
// It reports whether a post failed; a held alert is not an error.
func (a *Alerter) Alert(ctx context.Context, text string) error {
	a.mu.Lock()
	now := a.now()
	if !a.last.IsZero() && now.Sub(a.last) < a.cfg.MinInterval {
		a.held = append(a.held, text)
		a.mu.Unlock()
		a.log.Info("alert held (rate limit)", "text", text)
		return nil
	}
	a.last = now
	held := a.held
	a.held = nil
	a.mu.Unlock()
	if len(held) > 0 {
		text = fmt.Sprintf("%s\n(+%d more since the last alert; first: %s)", text, len(held), truncate(held[0], 200))
	}
	a.log.Warn("alert", "text", text)
	if a.cfg.URL == "" {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cases: alert webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("cases: alert webhook answered %s", resp.Status)
	}
	return nil
}

// Pending is how many alerts are held for the next post.
func (a *Alerter) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.held)
}

// Flush posts the held alerts as one summary once min_interval has passed
// since the last post, so the last alerts of a burst are not left unsent.
// Call it on a timer (Run does).
func (a *Alerter) Flush(ctx context.Context) error {
	a.mu.Lock()
	if len(a.held) == 0 || a.now().Sub(a.last) < a.cfg.MinInterval {
		a.mu.Unlock()
		return nil
	}
	first := a.held[0]
	a.held = a.held[1:]
	a.last = time.Time{} // let the summary through
	a.mu.Unlock()
	// Alert appends the remaining held lines as "+N more".
	return a.Alert(ctx, first)
}

// Run flushes held alerts every min_interval until ctx ends.
func (a *Alerter) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.MinInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				a.log.Warn("alert flush", "err", err)
			}
		}
	}
}
