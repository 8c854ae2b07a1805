package review

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/store"
)

// Every action is recorded in the UI action log and, when it concerns a
// message, in the message's events, with the user's name, whether it
// succeeded or not.

func (s *Server) record(r *http.Request, id *identity, action string, msgID int64, detail string, ok bool, extra func(*store.ReviewRecord)) error {
	rec := store.ReviewRecord{Action: store.ReviewAction{Actor: id.Name, Role: string(id.Role), Action: action, MessageID: msgID, Detail: detail, OK: ok}}
	if extra != nil {
		extra(&rec)
	}
	return s.st.RecordReview(r.Context(), rec)
}

// external runs a call into another package, recording a failure before
// reporting it. Its error text is logged, not shown: it may hold details of
// the org the user should not see in a browser.
func (s *Server) external(r *http.Request, id *identity, action string, msgID int64, detail string, call func() error) error {
	if err := call(); err != nil {
		s.log.Warn("review action failed", "action", action, "message", msgID, "user", id.Name, "err", err)
		_ = s.record(r, id, action, msgID, detail, false, nil)
		return &httpError{code: http.StatusBadGateway, msg: fmt.Sprintf("%s failed: %s", strings.ReplaceAll(action, "_", " "), publicReason(err))}
	}
	return nil
}

// publicReason shows an error's message only when it says it is meant for users.
func publicReason(err error) string {
	var pe interface{ PublicMessage() string }
	if errors.As(err, &pe) {
		return pe.PublicMessage()
	}
	return "see the server log"
}

func msgPage(id int64) string { return fmt.Sprintf("/messages/%d", id) }

func (s *Server) approve(r *http.Request, id *identity) (string, string, any, error) {
	d, err := s.loadMessage(r)
	if err != nil {
		return "", "", nil, err
	}
	c := d.Classification
	if c == nil {
		return "", "", nil, &httpError{code: http.StatusConflict, msg: "this message has no classification to approve"}
	}
	detail := fmt.Sprintf("category %s, priority %s, escalate %t", c.Category, c.Priority, c.Escalate)
	err = s.record(r, id, "approve", d.ID, detail, true, func(rec *store.ReviewRecord) {
		rec.ItemStatus = "approved"
		rec.Label = &store.ReviewLabel{MessageID: d.ID, Kind: "approve", PredictedCategory: c.Category, PredictedPriority: c.Priority,
			PredictedEscalate: c.Escalate, Confidence: c.Confidence, Model: c.Model,
			Category: c.Category, Priority: c.Priority, Escalate: c.Escalate, EscalationReason: c.EscalationReason}
	})
	return msgPage(d.ID), "approved", nil, err
}

func (s *Server) correct(r *http.Request, id *identity) (string, string, any, error) {
	if s.deps.Corrector == nil {
		return "", "", nil, errUnavailable
	}
	d, err := s.loadMessage(r)
	if err != nil {
		return "", "", nil, err
	}
	c := Correction{MessageID: d.ID, Actor: id.Name,
		Category: strings.TrimSpace(r.PostFormValue("category")), Priority: strings.TrimSpace(r.PostFormValue("priority")),
		EscalationReason: strings.TrimSpace(r.PostFormValue("escalation_reason")), Note: strings.TrimSpace(r.PostFormValue("note"))}
	switch r.PostFormValue("escalate") {
	case "on", "true", "1", "yes":
		c.Escalate = true
	}
	if !slices.Contains(d.Categories, c.Category) {
		return "", "", nil, badRequest("category %q is not in the taxonomy", c.Category)
	}
	if !slices.Contains(d.Priorities, c.Priority) {
		return "", "", nil, badRequest("priority %q is not one of %s", c.Priority, strings.Join(d.Priorities, ", "))
	}
	if c.Escalate && c.EscalationReason == "" {
		c.EscalationReason = "other"
	}
	if !c.Escalate {
		c.EscalationReason = ""
	}
	if c.EscalationReason != "" && !slices.Contains(d.Reasons, c.EscalationReason) {
		return "", "", nil, badRequest("escalation reason %q is not one of the fixed reasons", c.EscalationReason)
	}
	if len(c.Note) > 2000 {
		return "", "", nil, badRequest("the note is longer than 2000 characters")
	}
	label := &store.ReviewLabel{MessageID: d.ID, Kind: "correct", Category: c.Category, Priority: c.Priority, Escalate: c.Escalate, EscalationReason: c.EscalationReason}
	if p := d.Classification; p != nil {
		label.PredictedCategory, label.PredictedPriority, label.PredictedEscalate, label.Confidence, label.Model = p.Category, p.Priority, p.Escalate, p.Confidence, p.Model
	}
	detail := fmt.Sprintf("category %s→%s, priority %s→%s, escalate %t→%t", label.PredictedCategory, c.Category,
		label.PredictedPriority, c.Priority, label.PredictedEscalate, c.Escalate)
	if c.Note != "" {
		detail += "; note: " + c.Note
	}
	if err := s.external(r, id, "correct", d.ID, detail, func() error { return s.deps.Corrector.Correct(r.Context(), c) }); err != nil {
		return "", "", nil, err
	}
	err = s.record(r, id, "correct", d.ID, detail, true, func(rec *store.ReviewRecord) {
		rec.ItemStatus = "corrected"
		rec.Label = label
	})
	if err != nil {
		return "", "", nil, err
	}
	// The labelled example the offline model retrains from and the LLM takes
	// few-shot examples from: redacted new text only, never the raw email.
	body := ""
	if d.Parsed != nil {
		body = classify.NewText(d.Parsed.Text)
		if len(body) > maxExampleBody {
			body = strings.ToValidUTF8(body[:maxExampleBody], "")
		}
	}
	if _, err := s.st.AddCorrection(r.Context(), store.Correction{MessageID: d.ID, Subject: s.redactor.String(d.Subject),
		Body: s.redactor.String(body), Category: c.Category, Priority: c.Priority, Actor: id.Name}); err != nil {
		return "", "", nil, err
	}
	return msgPage(d.ID), "corrected", c, nil
}

const maxExampleBody = 4000

var sfID = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)

func (s *Server) pickContact(r *http.Request, id *identity) (string, string, any, error) {
	if s.deps.ContactPicker == nil {
		return "", "", nil, errUnavailable
	}
	d, err := s.loadMessage(r)
	if err != nil {
		return "", "", nil, err
	}
	contact := strings.TrimSpace(r.PostFormValue("contact_id"))
	if !sfID.MatchString(contact) {
		return "", "", nil, badRequest("%q is not a Salesforce record id", contact)
	}
	if d.Contact != nil && len(d.Contact.Candidates) > 0 && !slices.ContainsFunc(d.Contact.Candidates, func(c contactCandidate) bool { return c.ID == contact }) &&
		r.PostFormValue("other") == "" {
		return "", "", nil, badRequest("contact %s is not one of the candidates; tick \"other contact\" to link it anyway", contact)
	}
	detail := "contact " + contact
	if err := s.external(r, id, "pick_contact", d.ID, detail, func() error { return s.deps.ContactPicker.PickContact(r.Context(), d.ID, contact, id.Name) }); err != nil {
		return "", "", nil, err
	}
	err = s.record(r, id, "pick_contact", d.ID, detail, true, func(rec *store.ReviewRecord) { rec.ContactID = contact })
	return msgPage(d.ID), "contact", nil, err
}

func (s *Server) rejectArticles(r *http.Request, id *identity) (string, string, any, error) {
	if s.deps.ArticleRejecter == nil {
		return "", "", nil, errUnavailable
	}
	d, err := s.loadMessage(r)
	if err != nil {
		return "", "", nil, err
	}
	if err := r.ParseForm(); err != nil {
		return "", "", nil, badRequest("bad form")
	}
	var suggested []string
	if d.Knowledge != nil {
		for _, a := range d.Knowledge.Articles {
			suggested = append(suggested, a.ID)
		}
	}
	ids := r.PostForm["article"]
	if len(ids) == 0 {
		ids = suggested
	}
	if len(ids) == 0 {
		return "", "", nil, &httpError{code: http.StatusConflict, msg: "this message has no suggested articles"}
	}
	for _, a := range ids {
		if !slices.Contains(suggested, a) {
			return "", "", nil, badRequest("article %q was not suggested for this message", a)
		}
	}
	detail := "articles " + strings.Join(ids, ", ")
	if err := s.external(r, id, "reject_articles", d.ID, detail, func() error { return s.deps.ArticleRejecter.RejectArticles(r.Context(), d.ID, ids, id.Name) }); err != nil {
		return "", "", nil, err
	}
	return msgPage(d.ID), "rejected", ids, s.record(r, id, "reject_articles", d.ID, detail, true, nil)
}

func (s *Server) closeCase(r *http.Request, id *identity) (string, string, any, error) {
	if s.deps.CaseActions == nil {
		return "", "", nil, errUnavailable
	}
	mid, err := pathID(r)
	if err != nil {
		return "", "", nil, err
	}
	if _, err := s.st.Message(r.Context(), mid); err != nil {
		return "", "", nil, err
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		reason = "closed in review"
	}
	if len(reason) > 255 {
		return "", "", nil, badRequest("the reason is longer than 255 characters")
	}
	detail := "reason: " + reason
	if err := s.external(r, id, "close_case", mid, detail, func() error { return s.deps.CaseActions.CloseCase(r.Context(), mid, reason, id.Name) }); err != nil {
		return "", "", nil, err
	}
	err = s.record(r, id, "close_case", mid, detail, true, func(rec *store.ReviewRecord) { rec.ItemStatus = "closed" })
	return msgPage(mid), "closed", nil, err
}

func (s *Server) reopenCase(r *http.Request, id *identity) (string, string, any, error) {
	if s.deps.CaseActions == nil {
		return "", "", nil, errUnavailable
	}
	mid, err := pathID(r)
	if err != nil {
		return "", "", nil, err
	}
	if _, err := s.st.Message(r.Context(), mid); err != nil {
		return "", "", nil, err
	}
	if err := s.external(r, id, "reopen_case", mid, "", func() error { return s.deps.CaseActions.ReopenCase(r.Context(), mid, id.Name) }); err != nil {
		return "", "", nil, err
	}
	err = s.record(r, id, "reopen_case", mid, "", true, func(rec *store.ReviewRecord) { rec.ItemStatus = "open" })
	return msgPage(mid), "reopened", nil, err
}

func (s *Server) replay(r *http.Request, id *identity, f store.ReplayFilter, action string) ([]int64, error) {
	ids, err := s.st.Replay(r.Context(), f, id.Name)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, &httpError{code: http.StatusConflict, msg: "nothing to replay: the message is no longer in that state"}
	}
	detail := fmt.Sprintf("%d message(s)", len(ids))
	if f.Reason != "" {
		detail += " with reason " + f.Reason
	}
	// The store already wrote each message's own "replayed by" event.
	return ids, s.st.RecordReview(r.Context(), store.ReviewRecord{Action: store.ReviewAction{Actor: id.Name, Role: string(id.Role), Action: action, MessageID: f.ID, Detail: detail, OK: true}, NoEvent: true})
}

func (s *Server) replayOne(r *http.Request, id *identity) (string, string, any, error) {
	mid, err := pathID(r)
	if err != nil {
		return "", "", nil, err
	}
	ids, err := s.replay(r, id, store.ReplayFilter{ID: mid}, "replay")
	return "/dead", "replayed", ids, err
}

func (s *Server) replayAll(r *http.Request, id *identity) (string, string, any, error) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	f := store.ReplayFilter{Reason: reason, All: reason == ""}
	ids, err := s.replay(r, id, f, "replay_all")
	return "/dead", "replayed", ids, err
}

func (s *Server) pushThrough(r *http.Request, id *identity) (string, string, any, error) {
	mid, err := pathID(r)
	if err != nil {
		return "", "", nil, err
	}
	ids, err := s.replay(r, id, store.ReplayFilter{ID: mid, Skipped: true}, "push_through")
	return "/skipped", "pushed", ids, err
}

func (s *Server) retrain(r *http.Request, id *identity) (string, string, any, error) {
	if s.deps.Retrainer == nil {
		return "", "", nil, errUnavailable
	}
	if err := s.external(r, id, "retrain", 0, "", func() error { return s.deps.Retrainer.Retrain(r.Context()) }); err != nil {
		return "", "", nil, err
	}
	return "/corrections", "retrained", nil, s.record(r, id, "retrain", 0, "", true, nil)
}
