package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// addTo appends the plan's writes to a composite (or graph) request.
func addTo(b *salesforce.CompositeRequest, ws []Write) {
	for _, w := range ws {
		switch w.Op {
		case "create":
			b.Create(w.Ref, w.SObject, w.Fields)
		case "update":
			b.Update(w.Ref, w.SObject, w.ID, w.Fields)
		case "upsert":
			b.Upsert(w.Ref, w.SObject, w.ExtField, w.ExtID, w.Fields)
		case "query":
			b.Query(w.Ref, w.SOQL)
		}
	}
}

// callOpts are the headers of the composite call: Sforce-Auto-Assign, and the
// duplicate rule header so the org's Contact duplicate rule runs and blocks a
// second contact (DUPLICATES_DETECTED is then handled by using the match).
func (s *Stage) callOpts(p *plan) []salesforce.CallOption {
	opts := []salesforce.CallOption{salesforce.AllowDuplicateSave(false)}
	if p.autoAssign != nil {
		opts = append(opts, salesforce.AutoAssign(*p.autoAssign))
	}
	return opts
}

// send runs the plan as one /composite request (allOrNone), retrying at most
// twice within the attempt for the two answers that change the plan:
// DUPLICATES_DETECTED on the contact (use the matched contact) and a
// create-only field refused by an upsert that found the case (rebuild as an update).
func (s *Stage) send(ctx context.Context, m store.Message, in Input, p *plan, cs *caseSnapshot) (Result, error) {
	var claimToken string
	var calls int
	release := func() {
		if claimToken != "" && s.dedupe != nil {
			if err := s.dedupe.ReleaseContact(context.WithoutCancel(ctx), p.contactAddr, claimToken); err != nil {
				s.log.Warn("release contact claim", "msg", m.ID, "err", err)
			}
			claimToken = ""
		}
	}
	o := planOpts{}
	for round := 0; ; round++ {
		if p.contactRef != "" && s.dedupe != nil && claimToken == "" {
			existing, tok, owned, err := s.dedupe.ClaimContact(ctx, p.contactAddr)
			if err != nil {
				return Result{APICalls: calls}, fmt.Errorf("cases: claim contact: %w", err)
			}
			if existing != "" || !owned {
				// Another message created it meanwhile: use it.
				o.matchedContact = existing
				np, err := s.plan(ctx, m, in, cs, o)
				if err != nil {
					return Result{APICalls: calls}, err
				}
				p = np
			} else {
				claimToken = tok
			}
		}
		if err := s.claimFiles(ctx, m, p); err != nil {
			release()
			return Result{APICalls: calls}, err
		}
		req := salesforce.NewComposite(true)
		req.CollateSubrequests = false
		addTo(req, p.writes)
		if err := s.addFiles(req, p); err != nil {
			release()
			return Result{APICalls: calls}, fmt.Errorf("cases: read attachments: %w", err)
		}
		if err := req.Err(); err != nil {
			release()
			return Result{APICalls: calls}, permanentError{fmt.Errorf("cases: build request: %w", err)}
		}
		if err := s.markSending(ctx, m, p); err != nil {
			release()
			return Result{APICalls: calls}, err
		}
		resp, err := s.sf.Composite(ctx, req, s.callOpts(p)...)
		calls++
		if err == nil {
			r, ferr := s.finish(ctx, m, in, p, resp, claimToken)
			r.APICalls += calls
			return r, ferr
		}
		s.auditFailure(ctx, m, p, resp, err)
		if definite(err) {
			if lerr := s.setLedgerState(ctx, m, p, store.CasesFailed); lerr != nil {
				s.log.Warn("ledger", "msg", m.ID, "err", lerr)
			}
			s.failFiles(ctx, m, p)
		}
		var ae *salesforce.APIError
		if round < 2 && p.contactRef != "" && errors.As(err, &ae) && ae.HasCode("DUPLICATES_DETECTED") {
			if dr := ae.DuplicateResult(); dr != nil && len(dr.MatchedIDs()) > 0 {
				matched := dr.MatchedIDs()[0]
				if claimToken != "" && s.dedupe != nil {
					if ferr := s.dedupe.FinishContact(ctx, p.contactAddr, claimToken, matched, in.Dedupe.AccountID, false); ferr != nil {
						s.log.Warn("finish contact", "msg", m.ID, "err", ferr)
					}
					claimToken = ""
				}
				s.log.Info("duplicate rule matched a contact; retrying with it", "msg", m.ID, "contact", matched)
				o.matchedContact = matched
				np, perr := s.plan(ctx, m, in, cs, o)
				if perr != nil {
					return Result{APICalls: calls}, perr
				}
				p = np
				continue
			}
		}
		if round < 2 && !o.caseGone && in.Dedupe.CaseID != "" && in.Dedupe.ThreadKey != "" && caseGone(err) {
			s.log.Info("the thread's case is gone; opening a new one", "msg", m.ID, "case", in.Dedupe.CaseID)
			o.caseGone = true
			np, perr := s.plan(ctx, m, in, nil, o)
			if perr != nil {
				release()
				return Result{APICalls: calls}, perr
			}
			p = np
			continue
		}
		if round < 2 && !o.caseExists && len(p.createOnly) > 0 && refusedCreateOnly(err, p.createOnly) {
			s.log.Info("case exists already; retrying as an update", "msg", m.ID, "thread", in.Dedupe.ThreadKey)
			o.caseExists = true
			np, perr := s.plan(ctx, m, in, cs, o)
			if perr != nil {
				release()
				return Result{APICalls: calls}, perr
			}
			// keep the contact claim: the rebuilt plan still creates the contact
			p = np
			continue
		}
		release()
		return Result{APICalls: calls}, withReason(fmt.Errorf("cases: composite for message %d: %w", m.ID, err))
	}
}

// reasonError gives a failed write the dead-letter reason code
// `triage replay --reason` selects: salesforce_<error code>, e.g.
// salesforce_field_custom_validation_exception.
type reasonError struct {
	error
	reason string
}

func (e reasonError) Unwrap() error  { return e.error }
func (e reasonError) Reason() string { return e.reason }

func withReason(err error) error {
	var ae *salesforce.APIError
	if errors.As(err, &ae) {
		if c := ae.Code(); c != "" {
			return reasonError{err, "salesforce_" + strings.ToLower(c)}
		}
	}
	return err
}

// definite reports an answer that proves nothing was committed.
func definite(err error) bool {
	var ce *salesforce.CompositeError
	var ae *salesforce.APIError
	var re *salesforce.RequestError
	var ge *salesforce.GovernorError
	switch {
	case errors.As(err, &ce), errors.As(err, &re), errors.As(err, &ge):
		return true
	case errors.As(err, &ae):
		return ae.StatusCode > 0 && ae.StatusCode < 500
	}
	return false
}

// caseGone reports that the update of the known case failed because the
// record was deleted (or merged away).
func caseGone(err error) bool {
	var ce *salesforce.CompositeError
	if !errors.As(err, &ce) {
		return false
	}
	for _, f := range ce.Failures {
		if f.Path == "case" && (f.HasCode("ENTITY_IS_DELETED") || f.HasCode("NOT_FOUND") || f.HasCode("INVALID_CROSS_REFERENCE_KEY")) {
			return true
		}
	}
	return false
}

func refusedCreateOnly(err error, fields []string) bool {
	var ce *salesforce.CompositeError
	if !errors.As(err, &ce) {
		return false
	}
	for _, f := range ce.Failures {
		for _, it := range f.Errors {
			if it.ErrorCode != "INVALID_FIELD_FOR_INSERT_UPDATE" {
				continue
			}
			for _, name := range it.Fields {
				for _, c := range fields {
					if strings.EqualFold(name, c) {
						return true
					}
				}
			}
			for _, c := range fields {
				if strings.Contains(it.Message, c) {
					return true
				}
			}
		}
	}
	return false
}

// finish records a committed composite: ids from the answers, the contact
// claim, the ledger, the audit trail, the touched case, and the dedupe thread.
func (s *Stage) finish(ctx context.Context, m store.Message, in Input, p *plan, resp *salesforce.CompositeResponse, claimToken string) (Result, error) {
	return s.finishSubs(ctx, m, in, p, resp.CompositeResponse, claimToken)
}

func (s *Stage) finishSubs(ctx context.Context, m store.Message, in Input, p *plan, subs []salesforce.SubResponse, claimToken string) (Result, error) {
	r := p.res
	r.Writes = nil
	ids := map[string]string{}
	created := map[string]bool{}
	for _, sr := range subs {
		if sv, err := sr.SaveResult(); err == nil && sv.ID != "" {
			ids[sr.ReferenceID] = sv.ID
			created[sr.ReferenceID] = sv.Created || sr.HTTPStatusCode == 201
		} else if sr.ReferenceID == "findcase" {
			var q struct {
				Records []struct {
					ID string `json:"Id"`
				} `json:"records"`
			}
			if json.Unmarshal(sr.Body, &q) == nil && len(q.Records) > 0 {
				ids["findcase"] = q.Records[0].ID
			}
		}
	}
	if id := ids["case"]; id != "" {
		r.CaseID = id
		if r.Action == ActionCreated && !created["case"] {
			r.Action = ActionUpdated
		}
	} else if id := ids["findcase"]; id != "" {
		r.CaseID = id
	}
	r.EmailMessageID, r.TaskID = ids["email"], ids["task"]
	if r.ContactID == "" {
		r.ContactID = in.Dedupe.ContactID
	}
	if id := ids["contact"]; id != "" {
		r.ContactID, r.ContactCreated = id, true
		if s.dedupe != nil {
			var err error
			if claimToken != "" {
				err = s.dedupe.FinishContact(ctx, p.contactAddr, claimToken, id, in.Dedupe.AccountID, true)
			} else {
				err = s.dedupe.RecordContact(ctx, p.contactAddr, id, in.Dedupe.AccountID, true)
			}
			if err != nil {
				s.log.Warn("record created contact", "msg", m.ID, "err", err)
			}
		}
	}
	s.auditSuccess(ctx, m, p, ids)
	if err := s.commitLedger(ctx, m, r, store.CasesCommitted); err != nil {
		return r, err
	}
	s.afterWrite(ctx, in, r)
	if err := s.afterFiles(ctx, m, p, &r, ids); err != nil {
		return r, err
	}
	return r, nil
}

// afterWrite tells dedupe the thread's case and remembers the case as touched.
func (s *Stage) afterWrite(ctx context.Context, in Input, r Result) {
	if r.CaseID == "" {
		return
	}
	status := ""
	switch {
	case r.Closed:
		status = s.cfg.Status.Closed
	case r.Escalated && *s.cfg.Escalation.SetStatus:
		status = s.cfg.Status.Escalated
	case r.Action == ActionCreated:
		status = s.cfg.Status.New
	}
	if err := s.st.CasesTouch(ctx, nil, store.CasesTouched{CaseID: r.CaseID, ThreadKey: r.ThreadKey, Status: status, IsClosed: r.Closed, Source: "write"}); err != nil {
		s.log.Warn("touch case", "case", r.CaseID, "err", err)
	}
	if s.dedupe != nil && r.ThreadKey != "" && r.Action != ActionActivity {
		parts := []string{senderAddr(in)}
		for _, a := range in.Parsed.Cc {
			parts = append(parts, a.Addr)
		}
		if err := s.dedupe.RecordCase(ctx, r.ThreadKey, r.CaseID, parts); err != nil {
			s.log.Warn("record case with dedupe", "case", r.CaseID, "err", err)
		}
	}
}

func (s *Stage) markSending(ctx context.Context, m store.Message, p *plan) error {
	led, ok, err := s.st.CasesLedger(ctx, m.ID)
	if err != nil {
		return err
	}
	w := store.CasesWrite{MessageID: m.ID, State: store.CasesSending, Action: p.res.Action, ThreadKey: p.res.ThreadKey,
		MessageIdentifier: p.mid, CaseID: p.res.CaseID}
	if ok {
		w.Sends = led.Sends
	}
	w.Sends++
	return s.st.CasesPutLedger(ctx, nil, w)
}

func (s *Stage) setLedgerState(ctx context.Context, m store.Message, p *plan, state string) error {
	led, ok, err := s.st.CasesLedger(ctx, m.ID)
	if err != nil || !ok {
		return err
	}
	led.State = state
	return s.st.CasesPutLedger(ctx, nil, led)
}

func (s *Stage) commitLedger(ctx context.Context, m store.Message, r Result, state string) error {
	led, _, err := s.st.CasesLedger(ctx, m.ID)
	if err != nil {
		return err
	}
	plan, _ := json.Marshal(r)
	return s.st.CasesPutLedger(ctx, nil, store.CasesWrite{MessageID: m.ID, State: state, Action: r.Action, ThreadKey: r.ThreadKey,
		MessageIdentifier: led.MessageIdentifier, CaseID: r.CaseID, EmailMessageID: r.EmailMessageID, ContactID: r.ContactID,
		TaskID: r.TaskID, Plan: plan, Sends: led.Sends})
}

// recover looks in Salesforce for the writes of an attempt whose outcome is
// unknown. allOrNone means one found record proves all committed.
func (s *Stage) recover(ctx context.Context, m store.Message, in Input, p *plan) (Result, bool, int, error) {
	r := p.res
	r.Writes = nil
	r.Recovered = true
	if r.Action == ActionActivity {
		q, err := salesforce.BuildSOQL("SELECT Id, WhatId FROM Task WHERE Subject = ?", p.taskSubject)
		if err != nil {
			return r, false, 0, permanentError{err}
		}
		var rows []struct {
			ID     string `json:"Id"`
			WhatID string `json:"WhatId"`
		}
		if err := s.sf.Query(ctx, q, &rows); err != nil {
			return r, false, 1, fmt.Errorf("cases: recovery query: %w", err)
		}
		if len(rows) == 0 {
			return r, false, 1, nil
		}
		r.TaskID, r.CaseID = rows[0].ID, rows[0].WhatID
	} else {
		q, err := salesforce.BuildSOQL("SELECT Id, ParentId, Parent.ContactId FROM EmailMessage WHERE MessageIdentifier = ?", p.mid)
		if err != nil {
			return r, false, 0, permanentError{err}
		}
		var rows []struct {
			ID       string `json:"Id"`
			ParentID string `json:"ParentId"`
			Parent   *struct {
				ContactID string `json:"ContactId"`
			} `json:"Parent"`
		}
		if err := s.sf.Query(ctx, q, &rows); err != nil {
			return r, false, 1, fmt.Errorf("cases: recovery query: %w", err)
		}
		// An EmailMessage with our identifier on another case than the
		// thread's known one is not ours (e.g. Email-to-Case saw it too).
		var hit = -1
		for i, row := range rows {
			if in.Dedupe.CaseID == "" || row.ParentID == in.Dedupe.CaseID {
				hit = i
				break
			}
		}
		if hit < 0 {
			return r, false, 1, nil
		}
		r.EmailMessageID, r.CaseID = rows[hit].ID, rows[hit].ParentID
		if rows[hit].Parent != nil && p.contactRef != "" && rows[hit].Parent.ContactID != "" {
			r.ContactID, r.ContactCreated = rows[hit].Parent.ContactID, true
			if s.dedupe != nil {
				if err := s.dedupe.RecordContact(ctx, p.contactAddr, r.ContactID, in.Dedupe.AccountID, true); err != nil {
					s.log.Warn("record recovered contact", "msg", m.ID, "err", err)
				}
			}
		}
	}
	s.log.Info("writes of an earlier attempt found committed; not sending again", "msg", m.ID, "case", r.CaseID)
	if err := s.st.CasesAppendAudit(ctx, nil, store.CasesAuditEntry{At: s.now(), MessageID: m.ID, Action: "recover",
		SObject: "EmailMessage", RecordID: nonEmpty(r.EmailMessageID, r.TaskID), Result: "ok",
		Detail: "earlier attempt's writes found committed in Salesforce; nothing re-sent", IntegrationUser: s.user, Agent: s.cfg.AgentName}); err != nil {
		return r, false, 1, err
	}
	if err := s.commitLedger(ctx, m, r, store.CasesCommitted); err != nil {
		return r, false, 1, err
	}
	s.afterWrite(ctx, in, r)
	if len(r.Files) > 0 {
		err := s.recoverFiles(ctx, m, &r)
		if cerr := s.commitLedger(ctx, m, r, store.CasesCommitted); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			return r, true, 1, err
		}
	}
	return r, true, 1, nil
}

// recordDryRun records the writes the stage would make.
func (s *Stage) recordDryRun(ctx context.Context, m store.Message, p *plan) (Result, error) {
	r := p.res
	r.DryRun = true
	r.Writes = p.writes
	var entries []auditItem
	for _, w := range p.writes {
		entries = append(entries, auditItem{Write: w, Result: "dry_run"})
	}
	if err := s.audit(ctx, m.ID, entries); err != nil {
		return r, err
	}
	if err := s.commitLedgerDry(ctx, m, p, r); err != nil {
		return r, err
	}
	return r, nil
}

func (s *Stage) commitLedgerDry(ctx context.Context, m store.Message, p *plan, r Result) error {
	plan, _ := json.Marshal(r)
	return s.st.CasesPutLedger(ctx, nil, store.CasesWrite{MessageID: m.ID, State: store.CasesDryRun, Action: r.Action,
		ThreadKey: r.ThreadKey, MessageIdentifier: p.mid, CaseID: r.CaseID, Plan: plan})
}
