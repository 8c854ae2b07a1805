package cases

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/dedupe"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// StageName is the stage's name in events and stage data.
const StageName = "cases"

// SalesforceAPI is what the cases stage calls; *salesforce.Client has it.
type SalesforceAPI interface {
	Composite(ctx context.Context, req *salesforce.CompositeRequest, opts ...salesforce.CallOption) (*salesforce.CompositeResponse, error)
	CompositeGraph(ctx context.Context, g *salesforce.GraphRequest, opts ...salesforce.CallOption) (*salesforce.GraphResponse, error)
	Query(ctx context.Context, soql string, dst any) error
	Describe(ctx context.Context, sobject string) (*salesforce.DescribeResult, error)
}

// DedupeHooks is what the stage tells the dedupe stage; *dedupe.Stage has it.
type DedupeHooks interface {
	RecordCase(ctx context.Context, threadKey, caseID string, participants []string) error
	ClaimContact(ctx context.Context, email string) (existing, token string, owned bool, err error)
	FinishContact(ctx context.Context, email, token, contactID, accountID string, created bool) error
	ReleaseContact(ctx context.Context, email, token string) error
	RecordContact(ctx context.Context, addr, contactID, accountID string, created bool) error
}

// Input is everything the earlier stages decided about a message.
type Input struct {
	Parsed    *ingest.Parsed
	Dedupe    dedupe.Result
	Classify  classify.Result
	Knowledge knowledge.Result
}

// Actions in Result.Action.
const (
	ActionCreated  = "created"  // a new case
	ActionUpdated  = "updated"  // a reply on an existing case
	ActionActivity = "activity" // a Task on an existing case (bounce, auto-reply)
	ActionNone     = "none"     // nothing to write (skipped by dedupe)
)

// Write is one Salesforce write the stage makes (or would make in dry-run).
// Text values are already PII-redacted and truncated.
type Write struct {
	Ref      string         `json:"ref"`
	Op       string         `json:"op"` // create, update, upsert, query
	SObject  string         `json:"sobject"`
	ID       string         `json:"id,omitempty"`
	ExtField string         `json:"ext_field,omitempty"`
	ExtID    string         `json:"ext_id,omitempty"`
	SOQL     string         `json:"soql,omitempty"`
	Fields   map[string]any `json:"fields,omitempty"`
}

// Result is the stage's outcome for a message (its stage data).
type Result struct {
	Action         string  `json:"action"`
	DryRun         bool    `json:"dry_run,omitempty"`
	ThreadKey      string  `json:"thread_key,omitempty"`
	CaseID         string  `json:"case_id,omitempty"`
	ContactID      string  `json:"contact_id,omitempty"`
	EmailMessageID string  `json:"email_message_id,omitempty"`
	TaskID         string  `json:"task_id,omitempty"`
	ArticleLinks   int     `json:"article_links,omitempty"`
	ContactCreated bool    `json:"contact_created,omitempty"`
	Escalated      bool    `json:"escalated,omitempty"`
	Closed         bool    `json:"closed,omitempty"`
	CloseReason    string  `json:"close_reason,omitempty"`
	CloseDenied    string  `json:"close_denied,omitempty"` // why a "resolved" reply did not close
	Reopened       bool    `json:"reopened,omitempty"`
	Recovered      bool    `json:"recovered,omitempty"` // the writes were found already committed
	APICalls       int     `json:"api_calls"`
	Writes         []Write `json:"writes,omitempty"`
	Detail         string  `json:"detail,omitempty"`
	// Files is what happened to each attachment; Malware is set when clamd
	// found one infected (it was not uploaded; the Task warns).
	Files   []FileResult `json:"files,omitempty"`
	Malware bool         `json:"malware,omitempty"`
}

// Option adjusts a Stage.
type Option func(*Stage)

// WithDedupe lets the stage record cases and contacts with the dedupe stage.
func WithDedupe(d DedupeHooks) Option { return func(s *Stage) { s.dedupe = d } }

// WithRedactor sets the PII redactor for text written to Salesforce
// (default: classify.NewRedactor(nil), every category).
func WithRedactor(r *classify.Redactor) Option { return func(s *Stage) { s.red = r } }

// WithIntegrationUser names the Salesforce user the app writes as (audit trail).
func WithIntegrationUser(u string) Option { return func(s *Stage) { s.user = u } }

// WithCloseThreshold is the confidence a "resolved" reply needs to close its
// case when close.min_confidence is 0 (pass classify's automate threshold).
func WithCloseThreshold(t float64) Option { return func(s *Stage) { s.closeAt = t } }

// WithCategoryValue maps a classifier category to the value written to the
// category field (pass classify.Config.SalesforceValue); field_map.category_values wins.
func WithCategoryValue(fn func(category string) string) Option {
	return func(s *Stage) { s.catValue = fn }
}

// WithOnChange is called for each case change seen by PollChanges or the webhook.
func WithOnChange(fn func(ctx context.Context, c CaseChange)) Option {
	return func(s *Stage) { s.onChange = fn }
}

// Stage is the cases stage.
type Stage struct {
	cfg      Config
	st       *store.Store
	sf       SalesforceAPI
	log      *slog.Logger
	now      func() time.Time
	dedupe   DedupeHooks
	red      *classify.Redactor
	traceRed *classify.Redactor // red for headers mail servers write (see redactHeaders)
	user     string
	closeAt  float64
	catValue func(string) string
	onChange func(context.Context, CaseChange)
	// inflight holds the ids of messages being written by this process: a
	// second worker that got the same message (its lease expired while the
	// first still waited on Salesforce) must not send it in parallel.
	inflight sync.Map
	uploader FileUploader // multipart uploads (nil: the client's own, if any)
	scans    sync.Map     // sha256 → clamd signature ("" clean)
}

// busyError: another worker of this process is writing the message.
type busyError struct{ id int64 }

func (e busyError) Error() string {
	return fmt.Sprintf("cases: message %d is being written by another worker", e.id)
}
func (busyError) Temporary() bool           { return true }
func (busyError) RetryAfter() time.Duration { return 5 * time.Second }

// caseNotYetError: an activity's thread has an email still in the pipeline,
// whose case is not written yet. It waits without spending attempts.
type caseNotYetError struct{ threadKey string }

func (e caseNotYetError) Error() string {
	return fmt.Sprintf("cases: the case of thread %s is not written yet", e.threadKey)
}
func (caseNotYetError) Temporary() bool           { return true }
func (caseNotYetError) RetryAfter() time.Duration { return 2 * time.Second }

// NewStage builds the stage. sf nil (or a nil *salesforce.Client) means
// offline: every message is handled as in dry-run.
func NewStage(cfg Config, st *store.Store, sf SalesforceAPI, log *slog.Logger, now func() time.Time, opts ...Option) *Stage {
	cfg.SetDefaults()
	if c, ok := sf.(*salesforce.Client); ok && c == nil {
		sf = nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Stage{cfg: cfg, st: st, sf: sf, log: log, now: now, closeAt: 0.9}
	for _, o := range opts {
		o(s)
	}
	if s.red == nil {
		s.red = classify.NewRedactor(nil)
	}
	s.traceRed = s.red.Without("phone", "apikey", "iban")
	return s
}

// Config returns the stage's config with defaults applied.
func (s *Stage) Config() Config { return s.cfg }

// DryRun reports whether the stage sends nothing.
func (s *Stage) DryRun() bool { return s.cfg.DryRun || s.sf == nil }

// permanentError marks input problems no retry can fix.
type permanentError struct{ error }

func (e permanentError) Permanent() bool { return true }
func (e permanentError) Unwrap() error   { return e.error }

// Reason is the dead-letter reason code.
func (e permanentError) Reason() string { return "cases_invalid_input" }

// Process executes the earlier stages' decisions for m in Salesforce: one
// /composite request (allOrNone) per email. It is idempotent across retries
// and crashes (see ledger handling in DESIGN below).
//
// Exactly-once design: EmailMessage has no external ID, so a plain retry after
// a timeout could add a second one. Before the request goes out the stage
// commits a ledger row (state "sending") in its own transaction. A later
// attempt that finds "sending" first asks Salesforce for the EmailMessage by
// MessageIdentifier (or the Task by its marker subject): allOrNone means that
// if it exists, everything in the request committed, so the stage records the
// result and sends nothing. A definite refusal (the composite answered with
// errors, all rolled back) moves the row to "failed", so the next attempt
// skips that check. The Case itself is upserted by the thread's external ID,
// so it can never be duplicated either way.
func (s *Stage) Process(ctx context.Context, m store.Message, in Input) (Result, error) {
	if in.Parsed == nil {
		return Result{}, permanentError{errors.New("cases: message has no parsed form")}
	}
	if in.Dedupe.Skip {
		return Result{Action: ActionNone, Detail: "skipped by dedupe: " + in.Dedupe.Reason}, nil
	}
	if _, busy := s.inflight.LoadOrStore(m.ID, struct{}{}); busy {
		return Result{}, busyError{m.ID}
	}
	defer s.inflight.Delete(m.ID)
	led, hasLed, err := s.st.CasesLedger(ctx, m.ID)
	if err != nil {
		return Result{}, err
	}
	if hasLed && led.State == store.CasesCommitted {
		r := resultFromLedger(led)
		if hasPendingUploads(r) && !s.DryRun() {
			// The email is in; some of its files are not yet.
			err := s.uploadPending(ctx, m, &r, nil)
			if cerr := s.commitLedger(ctx, m, r, store.CasesCommitted); cerr != nil && err == nil {
				err = cerr
			}
			return r, err
		}
		return r, nil
	}
	dry := s.DryRun()
	if hasLed && led.State == store.CasesDryRun && dry {
		return resultFromLedger(led), nil
	}
	if err := s.fillKnownCase(ctx, &in); err != nil {
		return Result{}, err
	}
	var calls int
	var caseInfo *caseSnapshot
	// The read is done in dry-run too (it writes nothing): shadow mode then
	// shows the closes the app would make.
	if s.sf != nil && s.wantsCaseRead(in) {
		caseInfo, err = s.readCase(ctx, in.Dedupe.CaseID)
		calls++
		if err != nil {
			return Result{}, fmt.Errorf("cases: read case %s: %w", in.Dedupe.CaseID, err)
		}
	}
	p, err := s.plan(ctx, m, in, caseInfo, planOpts{})
	if err != nil {
		return Result{}, err
	}
	if dry {
		return s.recordDryRun(ctx, m, p)
	}
	if hasLed && led.State == store.CasesSending {
		r, found, n, err := s.recover(ctx, m, in, p)
		calls += n
		if err != nil {
			return Result{}, err
		}
		if found {
			r.APICalls = calls
			return r, nil
		}
	}
	r, err := s.send(ctx, m, in, p, caseInfo)
	r.APICalls += calls
	return r, err
}

// fillKnownCase gives a reply whose case dedupe did not know yet (the first
// message of the thread was still in flight) the case written since: it
// saves the upsert's round trip through "create-only field refused".
func (s *Stage) fillKnownCase(ctx context.Context, in *Input) error {
	d := &in.Dedupe
	if d.CaseID != "" || !d.IsReply || d.Activity || d.ThreadKey == "" || d.ParentCaseID != "" {
		return nil
	}
	id, err := s.knownCase(ctx, d.ThreadKey)
	if err == nil && id != "" {
		d.CaseID = id
	}
	return err
}

// knownCase is the thread's case as recorded since dedupe ran: by dedupe's
// thread index (RecordCase) or by this stage's ledger.
func (s *Stage) knownCase(ctx context.Context, threadKey string) (string, error) {
	if t, ok, err := s.st.DedupeThreadByKey(ctx, threadKey); err != nil {
		return "", err
	} else if ok && t.CaseID != "" {
		return t.CaseID, nil
	}
	id, _, err := s.st.CasesCaseByThread(ctx, threadKey)
	return id, err
}

func resultFromLedger(w store.CasesWrite) Result {
	var r Result
	if len(w.Plan) > 0 {
		_ = json.Unmarshal(w.Plan, &r)
	}
	r.Action, r.ThreadKey, r.CaseID, r.EmailMessageID, r.ContactID, r.TaskID = w.Action, w.ThreadKey, w.CaseID, w.EmailMessageID, w.ContactID, w.TaskID
	r.DryRun = w.State == store.CasesDryRun
	r.APICalls = 0
	return r
}

// caseSnapshot is what a pre-read of the case tells.
type caseSnapshot struct {
	ID        string `json:"Id"`
	ContactID string `json:"ContactId"`
	Status    string `json:"Status"`
	IsClosed  bool   `json:"IsClosed"`
}

// wantsCaseRead: only a reply that may close its case costs a read (the close
// rule needs the case's contact and whether a human closed it already).
func (s *Stage) wantsCaseRead(in Input) bool {
	why, ok := s.closeCandidate(in)
	return ok && why == "" && in.Dedupe.CaseID != ""
}

func (s *Stage) readCase(ctx context.Context, id string) (*caseSnapshot, error) {
	q, err := salesforce.BuildSOQL("SELECT Id, ContactId, Status, IsClosed FROM Case WHERE Id = ?", id)
	if err != nil {
		return nil, permanentError{err}
	}
	var rows []caseSnapshot
	if err := s.sf.Query(ctx, q, &rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return &caseSnapshot{}, nil
	}
	return &rows[0], nil
}

// closeThreshold is the confidence a close needs.
func (s *Stage) closeThreshold() float64 {
	if s.cfg.Close.MinConfidence > 0 {
		return s.cfg.Close.MinConfidence
	}
	return s.closeAt
}

// closeCandidate applies the close rules that need no Salesforce data.
// ok is false when the message does not ask to close at all; why explains a refusal.
func (s *Stage) closeCandidate(in Input) (why string, ok bool) {
	c := in.Classify
	if !c.Resolved {
		return "", false
	}
	d := in.Dedupe
	switch {
	case !*s.cfg.Close.Enabled:
		return "closing is disabled (cases.close.enabled)", true
	case !d.IsReply || (d.CaseID == "" && d.ThreadKey == "") || d.Reopen || d.ParentCaseID != "" && d.CaseID == "":
		return "a new email never closes a case", true
	case d.CaseID == "":
		return "the case is not known yet", true
	case c.Confidence < s.closeThreshold():
		return fmt.Sprintf("confidence %.2f is below the automate threshold %.2f", c.Confidence, s.closeThreshold()), true
	case c.Flags.InjectionSuspected:
		return "prompt injection suspected", true
	case c.Flags.SensitiveData:
		return "sensitive data in the email", true
	case c.Escalate:
		return "the email is escalated", true
	case d.AmbiguousContact:
		return "the sender's contact is ambiguous", true
	case d.ContactID == "":
		return "the sender has no contact", true
	}
	return "", true
}

// closeDecision completes closeCandidate with the case's data.
func (s *Stage) closeDecision(in Input, cs *caseSnapshot) (closeIt bool, why string) {
	why, ok := s.closeCandidate(in)
	if !ok {
		return false, ""
	}
	if why != "" {
		return false, why
	}
	switch {
	case cs == nil:
		return false, "the case could not be read"
	case cs.ID == "":
		return false, "the case no longer exists"
	case cs.IsClosed:
		return false, "the case is already closed"
	case cs.ContactID == "" || !strings.EqualFold(cs.ContactID, in.Dedupe.ContactID):
		return false, "the sender is not the case's contact"
	}
	return true, ""
}

// planOpts change how a plan is built on a retry within one attempt.
type planOpts struct {
	matchedContact string // a duplicate rule matched this contact: do not create one
	caseExists     bool   // upsert hit an existing case: leave create-only fields out
	caseGone       bool   // the known case was deleted: upsert a new one by thread key
}

// plan is the list of writes for one message.
type plan struct {
	res         Result
	writes      []Write
	caseRef     string // ref of the case write ("" when none)
	contactRef  string // ref of the contact create ("" when none)
	contactAddr string
	createOnly  []string // create-only Case fields in the case write
	taskSubject string
	mid         string // MessageIdentifier
	autoAssign  *bool  // nil: no header
	files       []plannedFile
	filesSent   bool    // the composite carried the composite-borne files
	raw         []byte  // the message's raw bytes (attachments are read from them)
	text        *string // the redacted body text, once computed (see redactedText)
}

// redactedText is the message's body text as written to Salesforce: redacted
// once per plan, though the Description, the EmailMessage and a Task all carry it.
func (s *Stage) redactedText(p *plan, in Input) string {
	if p.text == nil {
		t := s.redact(in.Parsed.Text)
		p.text = &t
	}
	return *p.text
}

func (s *Stage) plan(ctx context.Context, m store.Message, in Input, cs *caseSnapshot, o planOpts) (*plan, error) {
	p := &plan{mid: messageIdentifier(in.Parsed, m)}
	d, c := in.Dedupe, in.Classify
	p.res.ThreadKey = d.ThreadKey
	var notes []string

	if d.Activity {
		caseID := d.AttachToCaseID
		if caseID == "" && d.AttachToThreadKey != "" {
			if t, ok, err := s.st.DedupeThreadByKey(ctx, d.AttachToThreadKey); err != nil {
				return nil, err
			} else if ok {
				caseID = t.CaseID
			}
		}
		if caseID == "" && d.AttachToThreadKey != "" {
			if id, ok, err := s.st.CasesCaseByThread(ctx, d.AttachToThreadKey); err != nil {
				return nil, err
			} else if ok {
				caseID = id
			}
		}
		if caseID == "" && d.AttachToThreadKey != "" {
			// The thread's first email may still be on its way to Salesforce
			// (stages run concurrently): wait for its case rather than fail.
			pending, err := s.st.ThreadPending(ctx, d.AttachToThreadKey, m.ID)
			if err != nil {
				return nil, err
			}
			if pending {
				return nil, caseNotYetError{d.AttachToThreadKey}
			}
		}
		what := caseID
		if what == "" {
			if d.AttachToThreadKey == "" {
				return nil, permanentError{errors.New("cases: activity without a case to attach to")}
			}
			q, err := salesforce.BuildSOQL("SELECT Id FROM Case WHERE ? = ? LIMIT 1", salesforce.Ident(s.cfg.FieldMap.ExternalID), d.AttachToThreadKey)
			if err != nil {
				return nil, permanentError{err}
			}
			p.writes = append(p.writes, Write{Ref: "findcase", Op: "query", SObject: "Case", SOQL: q})
			what = salesforce.Ref("findcase").Field("records[0].Id")
			p.res.ThreadKey = d.AttachToThreadKey
		}
		p.res.Action = ActionActivity
		p.res.CaseID = caseID
		kind := "Automatic reply"
		if d.Reason != "" {
			kind = strings.ReplaceAll(d.Reason, "_", " ")
		}
		p.taskSubject = s.trunc(fmt.Sprintf("triage: %s received", kind), 200) + " " + marker(p.mid)
		body := []string{
			fmt.Sprintf("%s from %s about this case; no case was opened.", kind, in.Parsed.From.Addr),
			"Subject: " + in.Parsed.Subject,
		}
		if d.Detail != "" {
			body = append(body, "Why: "+d.Detail)
		}
		body = append(body, "", s.trunc(s.redactedText(p, in), 2000))
		p.writes = append(p.writes, s.taskWrite(p, what, d.ContactID, body))
		p.res.Detail = "task on case (" + kind + ")"
		return p, nil
	}

	existing := d.CaseID != "" && !o.caseGone
	if o.caseGone {
		notes = append(notes, "The thread's case "+d.CaseID+" no longer exists in Salesforce: opened a new case.")
	}
	// Without a known case id the case is upserted by the thread key with
	// everything a new case needs; when the upsert finds the case already
	// there (a create-only field is refused), the plan is rebuilt as an update.
	newCase := !existing && !o.caseExists
	p.res.Action = ActionUpdated
	if newCase {
		p.res.Action = ActionCreated
	}

	// Contact.
	contactID := d.ContactID
	if o.matchedContact != "" {
		contactID = o.matchedContact
		notes = append(notes, "A duplicate rule matched an existing contact; it was used.")
	}
	if contactID == "" && d.CreateContact != nil && o.matchedContact == "" {
		nc := d.CreateContact
		f := map[string]any{"LastName": s.trunc(nc.LastName, 80), "Email": nc.Email}
		if f["LastName"] == "" {
			f["LastName"] = nc.Email
		}
		if nc.FirstName != "" {
			f["FirstName"] = s.trunc(nc.FirstName, 40)
		}
		if nc.AccountID != "" {
			f["AccountId"] = nc.AccountID
		}
		p.writes = append(p.writes, Write{Ref: "contact", Op: "create", SObject: "Contact", Fields: f})
		p.contactRef, p.contactAddr = "contact", nc.Email
		contactID = salesforce.Ref("contact").ID()
		notes = append(notes, "Created a contact for the unknown sender "+nc.Email+".")
	} else {
		p.res.ContactID = contactID
	}

	// Case.
	cf := s.aiFields(c)
	if newCase {
		subj := s.trunc(in.Parsed.Subject, s.cfg.Truncate.Subject)
		if d.ThreadToken != "" {
			subj = s.trunc(in.Parsed.Subject, s.cfg.Truncate.Subject-len(d.ThreadToken)-1) + " " + d.ThreadToken
		}
		if strings.TrimSpace(in.Parsed.Subject) == "" && d.ThreadToken == "" {
			subj = "(no subject)"
		}
		cf["Subject"] = strings.TrimSpace(subj)
		cf["Description"] = s.trunc(s.redactedText(p, in), s.cfg.Truncate.Description)
		cf["Origin"] = "Email"
		if a := senderAddr(in); a != "" {
			cf["SuppliedEmail"] = truncate(a, 80)
		}
		if n := in.Parsed.From.Name; n != "" {
			cf["SuppliedName"] = s.trunc(n, 80)
		}
		p.createOnly = []string{"SuppliedEmail", "SuppliedName"}
		cf["Status"] = s.cfg.Status.New
		if d.ParentCaseID != "" {
			cf["ParentId"] = d.ParentCaseID
			notes = append(notes, "Follow-up of closed case "+d.ParentCaseID+": opened a new linked case.")
		}
	}
	if contactID != "" && !existing {
		cf["ContactId"] = contactID
		if d.AccountID != "" {
			cf["AccountId"] = d.AccountID
		}
	}
	// Status changes on an existing case.
	if !newCase {
		if d.Reopen {
			cf["Status"] = s.cfg.Status.Working
			p.res.Reopened = true
			notes = append(notes, "The customer wrote again on a closed case: reopened it.")
		} else if w := s.cfg.Status.WaitingOnCustomer; w != "" && existing {
			if t, ok, err := s.st.CasesTouchedCase(ctx, d.CaseID); err != nil {
				return nil, err
			} else if ok && t.Status == w {
				cf["Status"] = s.cfg.Status.Working
				notes = append(notes, "The customer answered: status "+w+" → "+s.cfg.Status.Working+".")
			}
		}
	}
	if c.Escalate {
		if *s.cfg.Escalation.SetIsEscalated {
			cf["IsEscalated"] = true
		}
		if *s.cfg.Escalation.SetStatus {
			cf["Status"] = s.cfg.Status.Escalated
		}
		p.res.Escalated = true
		p.autoAssign = s.cfg.AutoAssign
		if s.cfg.Escalation.AutoAssign {
			p.autoAssign = boolp(true)
		}
		notes = append(notes, "Escalated: "+nonEmpty(c.EscalationReason, "classifier asked for escalation")+".")
	} else {
		p.autoAssign = s.cfg.AutoAssign
	}
	if !existing {
		if why, ok := s.closeCandidate(in); ok {
			if why == "" {
				why = "the case is new"
			}
			p.res.CloseDenied = why
			notes = append(notes, "Not closed although the email says it is resolved: "+why+".")
		}
	} else {
		closeIt, why := s.closeDecision(in, cs)
		p.res.CloseDenied = why
		if closeIt {
			cf["Status"] = s.cfg.Status.Closed
			p.res.Closed, p.res.CloseReason = true, s.cfg.Close.Reason
			notes = append(notes, fmt.Sprintf("Closed: the customer confirmed the issue is resolved (confidence %.2f ≥ %.2f, reason %s).", c.Confidence, s.closeThreshold(), s.cfg.Close.Reason))
		} else if why != "" {
			notes = append(notes, "Not closed although the customer says it is resolved: "+why+".")
		}
	}
	var caseTarget string
	if existing {
		p.writes = append(p.writes, Write{Ref: "case", Op: "update", SObject: "Case", ID: d.CaseID, Fields: cf})
		caseTarget = d.CaseID
		p.res.CaseID = d.CaseID
	} else {
		if d.ThreadKey == "" {
			return nil, permanentError{errors.New("cases: no thread key and no case id")}
		}
		p.writes = append(p.writes, Write{Ref: "case", Op: "upsert", SObject: "Case", ExtField: s.cfg.FieldMap.ExternalID, ExtID: d.ThreadKey, Fields: cf})
		caseTarget = salesforce.Ref("case").ID()
	}
	p.caseRef = "case"

	// EmailMessage.
	if len(in.Parsed.Attachments) > 0 && m.SHA256 != "" {
		// Read once: the headers and the attachments come from the same bytes.
		p.raw, _ = s.st.Raw(ctx, m.SHA256)
	}
	p.writes = append(p.writes, Write{Ref: "email", Op: "create", SObject: "EmailMessage", Fields: s.emailFields(ctx, m, in, caseTarget, p)})

	// Knowledge links on a new case.
	if !existing {
		n := 0
		seen := map[string]bool{}
		for _, a := range in.Knowledge.Articles {
			if a.KnowledgeArticleID == "" || seen[a.KnowledgeArticleID] || n >= 10 {
				continue
			}
			seen[a.KnowledgeArticleID] = true
			p.writes = append(p.writes, Write{Ref: fmt.Sprintf("article%d", n), Op: "create", SObject: "CaseArticle",
				Fields: map[string]any{"CaseId": caseTarget, "KnowledgeArticleId": a.KnowledgeArticleID}})
			notes = append(notes, fmt.Sprintf("Linked article %q (score %.2f).", a.Title, a.Score))
			n++
		}
		p.res.ArticleLinks = n
		if in.Knowledge.Gap {
			notes = append(notes, "Knowledge gap: no article answers this email.")
		}
	}

	fileNotes, err := s.planFiles(ctx, m, in, p)
	if err != nil {
		return nil, err
	}
	notes = append(notes, fileNotes...)

	// Task: what the app did and why.
	subject, lead := "triage: case updated from a reply", "Updated this case from a reply by %s (agent %s)."
	if p.res.Action == ActionCreated {
		subject, lead = "triage: case created from an email", "Created this case from an email by %s (agent %s)."
	}
	p.taskSubject = subject + " " + marker(p.mid)
	body := []string{
		fmt.Sprintf(lead, senderAddr(in), s.cfg.AgentName),
		fmt.Sprintf("Category %s (confidence %.2f), priority %s, sentiment %s, language %s.",
			nonEmpty(c.Category, "unknown"), c.Confidence, nonEmpty(c.Priority, "unknown"), nonEmpty(c.Sentiment, "unknown"), nonEmpty(c.Language, "und")),
	}
	if c.Explanation != "" {
		body = append(body, "Why: "+s.redact(c.Explanation))
	}
	if c.Flags.InjectionSuspected {
		body = append(body, "Warning: the email contains instruction-like text aimed at the model.")
	}
	if c.Flags.SensitiveData {
		body = append(body, "Warning: the email held card or national ID numbers (redacted here); purge them at the source.")
	}
	body = append(body, notes...)
	p.writes = append(p.writes, s.taskWrite(p, caseTarget, contactID, body))
	p.res.Detail = s.detail(p)
	return p, nil
}

func (s *Stage) detail(p *plan) string {
	parts := []string{p.res.Action}
	if p.res.Escalated {
		parts = append(parts, "escalated")
	}
	if p.res.Closed {
		parts = append(parts, "closed")
	}
	if p.res.Reopened {
		parts = append(parts, "reopened")
	}
	if p.contactRef != "" {
		parts = append(parts, "contact created")
	}
	if p.res.ArticleLinks > 0 {
		parts = append(parts, fmt.Sprintf("%d article(s)", p.res.ArticleLinks))
	}
	if p.res.CloseDenied != "" {
		parts = append(parts, "not closed: "+p.res.CloseDenied)
	}
	return strings.Join(parts, ", ")
}

func (s *Stage) taskWrite(p *plan, what, who string, body []string) Write {
	f := map[string]any{
		"Subject":      p.taskSubject,
		"Description":  s.trunc(strings.Join(body, "\n"), s.cfg.Truncate.TaskBody),
		"Status":       "Completed",
		"Priority":     "Normal",
		"WhatId":       what,
		"ActivityDate": s.now().UTC().Format("2006-01-02"),
	}
	if who != "" {
		f["WhoId"] = who
	}
	return Write{Ref: "task", Op: "create", SObject: "Task", Fields: f}
}

// aiFields maps the classification through the field map. Custom (__c)
// fields are the app's own and always written; a standard field (Priority,
// Type) is only written when the classifier's automation level for that
// intent is "automated", so a guess never overwrites what agents rely on.
func (s *Stage) aiFields(c classify.Result) map[string]any {
	fm := s.cfg.FieldMap
	out := map[string]any{}
	set := func(field, intent string, v any) {
		if field == "" || v == "" || v == nil {
			return
		}
		if !strings.HasSuffix(strings.ToLower(field), "__c") && intent != "" && c.Automation[intent] != classify.LevelAutomated {
			return
		}
		out[field] = v
	}
	if c.Category != "" {
		conf := c.Confidence
		if *fm.ConfidencePercent {
			conf = math.Round(conf*10000) / 100
		} else {
			conf = math.Round(conf*10000) / 10000
		}
		set(fm.Confidence, "", conf)
		set(fm.Category, classify.FieldCategory, s.categoryValue(c.Category))
	}
	if c.Priority != "" {
		set(fm.Priority, classify.FieldPriority, s.priorityValue(c.Priority))
		set(fm.AIPriority, "", s.trunc(c.Priority, 40))
	}
	set(fm.Sentiment, classify.FieldSentiment, s.trunc(c.Sentiment, 40))
	set(fm.Language, classify.FieldLanguage, s.trunc(c.Language, 20))
	set(fm.Summary, "", s.trunc(s.redact(c.Summary), s.cfg.Truncate.Summary))
	if c.Escalate {
		set(fm.EscalationReason, "", s.trunc(c.EscalationReason, s.cfg.Truncate.Short))
	}
	set(fm.Explanation, "", s.trunc(s.redact(c.Explanation), s.cfg.Truncate.Summary))
	return out
}

// categoryValue is the value written to the category field for a
// classifier category (field_map.category_values, else the taxonomy's
// salesforce_value), truncated. Shared by the stage and review corrections.
func (s *Stage) categoryValue(cat string) string {
	if v, ok := s.cfg.FieldMap.CategoryValues[cat]; ok {
		cat = v
	} else if s.catValue != nil {
		if v := s.catValue(cat); v != "" {
			cat = v
		}
	}
	return s.trunc(cat, s.cfg.Truncate.Short)
}

// priorityValue is the org's Priority picklist value for low..urgent ("" unmapped).
func (s *Stage) priorityValue(p string) string {
	return s.cfg.FieldMap.PriorityValues[strings.ToLower(p)]
}

func (s *Stage) emailFields(ctx context.Context, m store.Message, in Input, parent string, pl *plan) map[string]any {
	p, mid, raw := in.Parsed, pl.mid, pl.raw
	t := s.cfg.Truncate
	f := map[string]any{
		"ParentId":          parent,
		"Incoming":          true,
		"MessageIdentifier": mid,
		"ThreadIdentifier":  s.trunc(threadIdentifier(p, mid), 255),
		"Subject":           s.trunc(p.Subject, t.EmailSubj),
		"TextBody":          s.trunc(s.redactedText(pl, in), t.TextBody),
		"Status":            "0", // New
	}
	if a := senderAddr(in); a != "" {
		f["FromAddress"] = truncate(a, 1000)
	}
	if p.From.Name != "" {
		f["FromName"] = s.trunc(p.From.Name, 1000)
	}
	if v := joinAddrs(p.To); v != "" {
		f["ToAddress"] = s.trunc(v, t.Address)
	}
	if v := joinAddrs(p.Cc); v != "" {
		f["CcAddress"] = s.trunc(v, t.Address)
	}
	if p.HTML != "" {
		f["HtmlBody"] = s.trunc(s.redact(p.HTML), t.HTMLBody)
	}
	if h := s.headers(ctx, m, p, raw); h != "" {
		f["Headers"] = s.trunc(s.redactHeaders(h), t.Headers)
	}
	date := p.Date
	if date.IsZero() {
		date = m.CreatedAt
	}
	if !date.IsZero() {
		f["MessageDate"] = date.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return f
}

// headers returns the message's raw header block (the store keeps the raw
// bytes), or a reconstruction from the parsed form.
func (s *Stage) headers(ctx context.Context, m store.Message, p *ingest.Parsed, raw []byte) string {
	if raw == nil && m.SHA256 != "" {
		raw, _ = s.st.Raw(ctx, m.SHA256)
	}
	if len(raw) > 0 {
		hb := raw
		if i := bytes.Index(hb, []byte("\r\n\r\n")); i >= 0 {
			hb = hb[:i]
		} else if i := bytes.Index(hb, []byte("\n\n")); i >= 0 {
			hb = hb[:i]
		}
		h := string(hb)
		if utf8.ValidString(h) {
			return h
		}
		return strings.ToValidUTF8(h, "\uFFFD")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\n", fmtAddr(p.From))
	if v := joinAddrs(p.To); v != "" {
		fmt.Fprintf(&b, "To: %s\n", v)
	}
	if v := joinAddrs(p.Cc); v != "" {
		fmt.Fprintf(&b, "Cc: %s\n", v)
	}
	fmt.Fprintf(&b, "Subject: %s\n", p.Subject)
	if !p.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", p.Date.Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, "Message-ID: <%s>\n", p.MessageID)
	return b.String()
}

func (s *Stage) redact(v string) string {
	if !s.cfg.IsRedact() || s.red == nil || v == "" {
		return v
	}
	return s.red.String(v)
}

// trunc cuts v to n characters (Salesforce limits count characters).
func (s *Stage) trunc(v string, n int) string { return truncate(v, n) }

func truncate(v string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(v) <= n {
		return v
	}
	r := []rune(v)
	return string(r[:n])
}

func messageIdentifier(p *ingest.Parsed, m store.Message) string {
	id := p.MessageID
	if id == "" {
		id = m.MessageID
	}
	if id == "" {
		id = fmt.Sprintf("%s@triage.invalid", nonEmpty(m.SHA256, fmt.Sprint(m.ID)))
	}
	return truncate("<"+strings.Trim(id, "<>")+">", 255)
}

func threadIdentifier(p *ingest.Parsed, mid string) string {
	if len(p.References) > 0 {
		return "<" + strings.Trim(p.References[0], "<>") + ">"
	}
	if len(p.InReplyTo) > 0 {
		return "<" + strings.Trim(p.InReplyTo[0], "<>") + ">"
	}
	return mid
}

// marker tags the app's Task subjects with the message, so a retry can find
// a Task it already wrote (Task has no external ID either).
func marker(mid string) string {
	h := sha256.Sum256([]byte(mid))
	return "[tm:" + hex.EncodeToString(h[:5]) + "]"
}

func senderAddr(in Input) string {
	if in.Dedupe.Sender != "" {
		return in.Dedupe.Sender
	}
	return strings.ToLower(in.Parsed.From.Addr)
}

func fmtAddr(a ingest.Address) string {
	if a.Name == "" {
		return a.Addr
	}
	return fmt.Sprintf("%q <%s>", a.Name, a.Addr)
}

func joinAddrs(as []ingest.Address) string {
	var out []string
	for _, a := range as {
		if a.Addr != "" {
			out = append(out, a.Addr)
		}
	}
	return strings.Join(out, "; ")
}

func nonEmpty(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}
