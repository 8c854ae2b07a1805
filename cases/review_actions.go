package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// The review UI's actions on a message's case: a manager's correction,
// contact choice, close and reopen. Each is one Salesforce update made with
// the stage's field map and config, recorded in the same hash-chained audit
// trail as the stage's own writes (the agent column names the manager), and
// only recorded in dry-run. Package review cannot be imported here (it
// imports cases), so PickContact, CloseCase and ReopenCase have review's
// exact signatures and Correction converts from review.Correction.

// Correction is a manager's verdict on a message's classification; its
// fields match review.Correction so one converts to the other
// (cases.Correction(c)).
type Correction struct {
	MessageID        int64  `json:"message_id"`
	Category         string `json:"category"`
	Priority         string `json:"priority"`
	Escalate         bool   `json:"escalate"`
	EscalationReason string `json:"escalation_reason,omitempty"`
	Note             string `json:"note,omitempty"`
	Actor            string `json:"actor"`
}

// recordUpdater is a single-record PATCH; *salesforce.Client has it. Without
// it the update goes as a one-subrequest composite (also one API call).
type recordUpdater interface {
	Update(ctx context.Context, sobject, id string, fields any, opts ...salesforce.CallOption) error
}

// contactPrefix is the key prefix of Contact ids.
const contactPrefix = "003"

// Correct writes a manager's correction of category, priority and
// escalation to the message's case through the field map. A human verdict
// is written to standard fields too (Priority, Type…), whatever the
// classifier's automation level: that level guards against the model's
// guesses, not against the manager.
func (s *Stage) Correct(ctx context.Context, c Correction) error {
	fm := s.cfg.FieldMap
	f := map[string]any{}
	if c.Category != "" && fm.Category != "" {
		f[fm.Category] = s.categoryValue(c.Category)
	}
	if c.Priority != "" {
		if v := s.priorityValue(c.Priority); v != "" && fm.Priority != "" {
			f[fm.Priority] = v
		}
		if fm.AIPriority != "" {
			f[fm.AIPriority] = s.trunc(c.Priority, 40)
		}
	}
	if c.Escalate {
		if *s.cfg.Escalation.SetIsEscalated {
			f["IsEscalated"] = true
		}
		if *s.cfg.Escalation.SetStatus {
			f["Status"] = s.cfg.Status.Escalated
		}
		if fm.EscalationReason != "" {
			f[fm.EscalationReason] = s.trunc(s.redact(nonEmpty(c.EscalationReason, "escalated by "+c.Actor)), s.cfg.Truncate.Short)
		}
	} else if *s.cfg.Escalation.SetIsEscalated {
		f["IsEscalated"] = false
	}
	if len(f) == 0 {
		return permanentError{errors.New("cases: the correction changes no field")}
	}
	detail := "review correction by " + c.Actor
	if c.Note != "" {
		detail += ": " + s.trunc(s.redact(c.Note), 300)
	}
	return s.reviewUpdate(ctx, c.MessageID, c.Actor, detail, func(caseID string, touched store.CasesTouched, known bool) (map[string]any, error) {
		// Taking the escalation back moves a case the app escalated back
		// to working; a status someone else set is left alone.
		if !c.Escalate && *s.cfg.Escalation.SetStatus && known && touched.Status == s.cfg.Status.Escalated {
			f["Status"] = s.cfg.Status.Working
		}
		return f, nil
	})
}

// PickContact links the message's case to the contact a manager chose for an
// ambiguous sender, and records the sender's address → contact link in the
// dedupe store so the sender's next emails resolve to it without asking.
func (s *Stage) PickContact(ctx context.Context, messageID int64, contactID, actor string) error {
	if !sfID.MatchString(contactID) || !strings.HasPrefix(contactID, contactPrefix) {
		return permanentError{fmt.Errorf("cases: %q is not a Contact id", contactID)}
	}
	addr, err := s.senderOf(ctx, messageID)
	if err != nil {
		return err
	}
	accountID := ""
	err = s.reviewUpdate(ctx, messageID, actor, "contact picked by "+actor+" for "+nonEmpty(addr, "the sender"),
		func(string, store.CasesTouched, bool) (map[string]any, error) {
			f := map[string]any{"ContactId": contactID}
			if s.sf == nil {
				return f, nil
			}
			// The read is made in dry-run too: it writes nothing, and it
			// refuses an id that is no contact before anything is recorded.
			q, err := salesforce.BuildSOQL("SELECT Id, AccountId FROM Contact WHERE Id = ?", contactID)
			if err != nil {
				return nil, permanentError{err}
			}
			var rows []struct {
				AccountID string `json:"AccountId"`
			}
			if err := s.sf.Query(ctx, q, &rows); err != nil {
				return nil, fmt.Errorf("cases: read contact %s: %w", contactID, err)
			}
			if len(rows) == 0 {
				return nil, permanentError{fmt.Errorf("cases: contact %s does not exist", contactID)}
			}
			if accountID = rows[0].AccountID; accountID != "" {
				f["AccountId"] = accountID
			}
			return f, nil
		})
	if err != nil {
		return err
	}
	if addr == "" {
		return nil
	}
	if err := s.st.DedupeLinkContact(ctx, addr, contactID, accountID, "review", false, s.now()); err != nil {
		return fmt.Errorf("cases: link %s to contact: %w", contactID, err)
	}
	return nil
}

// CloseCase closes the message's case (status.closed); reason goes to the audit trail.
func (s *Stage) CloseCase(ctx context.Context, messageID int64, reason, actor string) error {
	detail := "closed by " + actor
	if reason != "" {
		detail += ": " + s.trunc(s.redact(reason), 300)
	}
	return s.reviewUpdate(ctx, messageID, actor, detail, func(string, store.CasesTouched, bool) (map[string]any, error) {
		return map[string]any{"Status": s.cfg.Status.Closed}, nil
	})
}

// ReopenCase sets the message's case back to status.working.
func (s *Stage) ReopenCase(ctx context.Context, messageID int64, actor string) error {
	return s.reviewUpdate(ctx, messageID, actor, "reopened by "+actor, func(string, store.CasesTouched, bool) (map[string]any, error) {
		return map[string]any{"Status": s.cfg.Status.Working}, nil
	})
}

// caseOf finds the Salesforce case the stage wrote for a message: its ledger
// row, else its stage data. caseID is "" when there is none (a dry-run
// record of a new case, a skipped message); threadKey is then still set when known.
func (s *Stage) caseOf(ctx context.Context, messageID int64) (caseID, threadKey string, err error) {
	led, ok, err := s.st.CasesLedger(ctx, messageID)
	if err != nil {
		return "", "", err
	}
	if ok && led.CaseID != "" {
		return led.CaseID, led.ThreadKey, nil
	}
	var r Result
	if _, err := s.st.StageData(ctx, messageID, StageName, &r); err != nil {
		return "", "", err
	}
	if r.CaseID != "" {
		return r.CaseID, r.ThreadKey, nil
	}
	return "", nonEmpty(r.ThreadKey, led.ThreadKey), nil
}

// senderOf is the message's normalised sender address: dedupe's stage
// data, else the stored From header.
func (s *Stage) senderOf(ctx context.Context, messageID int64) (string, error) {
	var d dedupe.Result
	if ok, err := s.st.StageData(ctx, messageID, "dedupe", &d); err != nil {
		return "", err
	} else if ok && d.Sender != "" {
		return d.Sender, nil
	}
	m, err := s.st.Message(ctx, messageID)
	if err != nil {
		return "", nil // no stored message: nothing to link, the case still changes
	}
	_, addr, _ := dedupe.ParseAddress(m.From, dedupe.AddressOptions{})
	return addr, nil
}

// reviewUpdate makes one Case update for a review action: fields builds the
// fields once the case is known. It audits the outcome under the manager's
// name and, in dry-run, only records it.
func (s *Stage) reviewUpdate(ctx context.Context, messageID int64, actor, detail string,
	fields func(caseID string, touched store.CasesTouched, known bool) (map[string]any, error)) error {
	if strings.TrimSpace(actor) == "" {
		return permanentError{errors.New("cases: a review action needs the user's name")}
	}
	if _, busy := s.inflight.LoadOrStore(messageID, struct{}{}); busy {
		return busyError{messageID}
	}
	defer s.inflight.Delete(messageID)
	caseID, threadKey, err := s.caseOf(ctx, messageID)
	if err != nil {
		return err
	}
	dry := s.DryRun()
	if caseID == "" && !dry {
		return permanentError{fmt.Errorf("cases: message %d has no case in Salesforce", messageID)}
	}
	var touched store.CasesTouched
	var known bool
	if caseID != "" {
		if touched, known, err = s.st.CasesTouchedCase(ctx, caseID); err != nil {
			return err
		}
	}
	f, err := fields(caseID, touched, known)
	if err != nil {
		return err
	}
	w := Write{Ref: "case", Op: "update", SObject: "Case", ID: caseID, Fields: f}
	if caseID == "" {
		// Shadow mode before the case exists: record what would be
		// written to the thread's case.
		w.ExtField, w.ExtID = s.cfg.FieldMap.ExternalID, threadKey
	}
	agent := strings.TrimSpace(actor) + " via " + s.cfg.AgentName
	if dry {
		return s.reviewAudit(ctx, messageID, agent, w, store.CasesDryRun, detail)
	}
	err = s.updateCase(ctx, caseID, f)
	if err != nil {
		code := "error"
		var ae *salesforce.APIError
		if errors.As(err, &ae) {
			code = ae.Code()
		} else if !definite(err) {
			code = "unknown_outcome"
		}
		if aerr := s.reviewAudit(context.WithoutCancel(ctx), messageID, agent, w, code, truncate(detail+": "+err.Error(), 500)); aerr != nil {
			s.log.Error("audit trail write failed", "msg", messageID, "err", aerr)
		}
		return fmt.Errorf("cases: update case %s: %w", caseID, err)
	}
	if err := s.reviewAudit(context.WithoutCancel(ctx), messageID, agent, w, "ok", detail); err != nil {
		return err
	}
	if st, ok := f["Status"].(string); ok {
		closed := st == s.cfg.Status.Closed
		if err := s.st.CasesTouch(ctx, nil, store.CasesTouched{CaseID: caseID, ThreadKey: threadKey, Status: st, IsClosed: closed, Source: "review"}); err != nil {
			s.log.Warn("touch case", "case", caseID, "err", err)
		}
	}
	return nil
}

// updateCase sends one update: a PATCH when the client has it, else a
// one-subrequest composite.
func (s *Stage) updateCase(ctx context.Context, caseID string, f map[string]any) error {
	if u, ok := s.sf.(recordUpdater); ok {
		return u.Update(ctx, "Case", caseID, f)
	}
	req := salesforce.NewComposite(true)
	req.Update("case", "Case", caseID, f)
	if err := req.Err(); err != nil {
		return permanentError{err}
	}
	resp, err := s.sf.Composite(ctx, req)
	if err != nil {
		return err
	}
	for _, sr := range resp.CompositeResponse {
		if err := sr.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stage) reviewAudit(ctx context.Context, messageID int64, agent string, w Write, result, detail string) error {
	return s.st.CasesAppendAudit(ctx, nil, store.CasesAuditEntry{At: s.now(), MessageID: messageID, Action: w.Op,
		SObject: w.SObject, RecordID: w.ID, Fields: auditJSON(w), Result: result, Detail: detail,
		IntegrationUser: s.user, Agent: agent})
}
