package dedupe

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// StageName is the stage's name in events and stage data.
const StageName = "dedupe"

// SalesforceAPI is what dedupe calls on Salesforce; *salesforce.Client has it.
type SalesforceAPI interface {
	Query(ctx context.Context, soql string, dst any) error
	Create(ctx context.Context, sobject string, fields any, opts ...salesforce.CallOption) (string, error)
	Update(ctx context.Context, sobject, id string, fields any, opts ...salesforce.CallOption) error
}

// How a reply found its thread (Result.MatchedBy).
const (
	MatchInReplyTo  = "in_reply_to"
	MatchReferences = "references"
	MatchSalesforce = "salesforce_message_id"
	MatchToken      = "token"
	MatchSubject    = "subject"
)

// Result is the stage's decision for one message, stored as its stage data.
//
// Skip: the message goes to state skipped with Reason. Activity: the message
// (a bounce or auto-reply about a known case) opens nothing and is attached
// to AttachToCaseID (or the case of AttachToThreadKey) as an activity.
// Otherwise the cases stage upserts the Case by ThreadKey (or updates CaseID
// when set: that case may have been made outside triage), reopening it when
// Reopen, setting ParentId to ParentCaseID on a new linked case.
type Result struct {
	Skip     bool   `json:"skip"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
	Activity bool   `json:"activity,omitempty"`

	AttachToCaseID    string `json:"attach_to_case_id,omitempty"`
	AttachToThreadKey string `json:"attach_to_thread_key,omitempty"`
	DuplicateOf       int64  `json:"duplicate_of,omitempty"`

	ThreadKey     string `json:"thread_key,omitempty"`
	ThreadToken   string `json:"thread_token,omitempty"` // put it in the case subject
	IsReply       bool   `json:"is_reply,omitempty"`
	MatchedBy     string `json:"matched_by,omitempty"`
	TokenRejected bool   `json:"token_rejected,omitempty"` // a token from a non-participant was ignored
	CaseID        string `json:"case_id,omitempty"`
	CaseClosed    bool   `json:"case_closed,omitempty"`
	Reopen        bool   `json:"reopen,omitempty"`
	ParentCaseID  string `json:"parent_case_id,omitempty"`

	Sender     string `json:"sender,omitempty"` // normalised
	SenderName string `json:"sender_name,omitempty"`

	ContactID        string          `json:"contact_id,omitempty"`
	AccountID        string          `json:"account_id,omitempty"`
	ContactSource    string          `json:"contact_source,omitempty"`
	CreateContact    *NewContact     `json:"create_contact,omitempty"`
	AmbiguousContact bool            `json:"ambiguous_contact,omitempty"`
	AmbiguousWhy     string          `json:"ambiguous_why,omitempty"`
	Candidates       []Candidate     `json:"candidates,omitempty"`
	AccountContext   *AccountContext `json:"account_context,omitempty"`
}

// NewContact is a Contact to create for an unknown sender.
type NewContact struct {
	Email     string `json:"email"` // normalised address
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name"`
	AccountID string `json:"account_id,omitempty"`
}

// Candidate is one of several contacts a sender could be.
type Candidate struct {
	ContactID string `json:"contact_id"`
	Name      string `json:"name,omitempty"`
	Email     string `json:"email,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	Why       string `json:"why"`
}

// AccountContext is layer-1 context for the classifier; only configured
// fields are read.
type AccountContext struct {
	AccountName    string   `json:"account_name,omitempty"`
	Tier           string   `json:"tier,omitempty"`
	OpenCases      int      `json:"open_cases"`
	RecentSubjects []string `json:"recent_subjects,omitempty"`
}

// Option adjusts a Stage.
type Option func(*Stage)

// WithQuote sets the SOQL string-literal function (it returns the quoted,
// escaped literal). Every value from mail goes through it.
func WithQuote(q func(string) string) Option { return func(s *Stage) { s.quote = q } }

// WithOnLoopTripped is called once each time the loop breaker trips (the
// pipeline posts an alert); sender is normalised, subject normalised.
func WithOnLoopTripped(fn func(ctx context.Context, sender, subject string, count int)) Option {
	return func(s *Stage) { s.onLoop = fn }
}

// Stage is the dedupe stage.
type Stage struct {
	cfg    Config
	st     *store.Store
	sf     SalesforceAPI
	log    *slog.Logger
	now    func() time.Time
	quote  func(string) string
	onLoop func(ctx context.Context, sender, subject string, count int)
	screen ScreenOptions
	token  *tokenCodec

	pollMu   sync.Mutex
	lastPoll time.Time

	ctxMu    sync.Mutex
	ctxCache map[string]cachedContext

	pf *prefetchCache
}

// NewStage builds the stage. sf may be nil (offline): resolution then uses
// only what the database knows. cfg gets its defaults applied.
func NewStage(cfg Config, st *store.Store, sf SalesforceAPI, log *slog.Logger, now func() time.Time, opts ...Option) *Stage {
	cfg.SetDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Stage{cfg: cfg, st: st, sf: sf, log: log, now: now, quote: salesforce.QuoteSOQL,
		screen: cfg.ScreenOptions(), token: newTokenCodec(cfg.Thread.TokenFormat), ctxCache: map[string]cachedContext{},
		pf: newPrefetchCache()}
	if isNilAPI(sf) {
		s.sf = nil
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func isNilAPI(sf SalesforceAPI) bool {
	if sf == nil {
		return true
	}
	c, ok := sf.(*salesforce.Client)
	return ok && c == nil
}

// Token is the subject token of a thread key.
func (s *Stage) Token(threadKey string) string { return s.token.Token(threadKey) }

// NormalizeSubject is NormalizeSubject that also removes the configured token.
func (s *Stage) NormalizeSubject(subject string) string { return normalizeSubject(subject, s.token.re) }

// Process decides what m is. It writes the dedupe index, loop counts and
// contact rows (all idempotent, so a retried message gets the same answer);
// the caller stores the Result with PutStageData in its state transition.
func (s *Stage) Process(ctx context.Context, m store.Message, p *ingest.Parsed) (Result, error) {
	if p == nil {
		var parsed ingest.Parsed
		if len(m.Parsed) == 0 || json.Unmarshal(m.Parsed, &parsed) != nil {
			return Result{Skip: true, Reason: "unparsed", Detail: "no parsed form to decide on"}, nil
		}
		p = &parsed
	}
	s.maybePoll(ctx)
	var r Result
	r.SenderName, r.Sender, _ = ParseAddress(p.From.Addr, s.cfg.Address)
	if r.SenderName == "" {
		r.SenderName = p.From.Name
	}
	msgID := CleanMessageID(p.MessageID)
	subjNorm := s.NormalizeSubject(p.Subject)

	// 1. The same email seen before (another folder or mailbox, a re-fetch).
	if dup, err := s.duplicateOf(ctx, m, p, r.Sender); err != nil {
		return Result{}, err
	} else if dup != 0 {
		r.Skip, r.Reason, r.DuplicateOf = true, ReasonDuplicate, dup
		r.Detail = fmt.Sprintf("same Message-ID, sender and date as message %d", dup)
		return r, nil
	}

	// 2. Mail that must not open a case.
	if d := Screen(p, s.screen); d.Skip {
		r.Skip, r.Reason, r.Detail = true, d.Reason, d.Detail
		switch {
		case d.Attachable:
			th, err := s.activityThread(ctx, m, p)
			if err != nil {
				return Result{}, err
			}
			if th.Key != "" || th.CaseID != "" {
				r.Skip, r.Activity = false, true
				r.AttachToThreadKey, r.AttachToCaseID = th.Key, th.CaseID
			}
		case d.Reason == ReasonOwnOutbound:
			// Our own mail (e.g. an agent's answer bcc'd to the mailbox):
			// index its Message-ID so replies to it find the thread.
			if err := s.indexOwn(ctx, m, p, msgID); err != nil {
				return Result{}, err
			}
		}
		return r, nil
	}

	// 3. Loop breaker.
	v, err := s.st.DedupeLoopHit(ctx, r.Sender, subjNorm, m.ID, s.now(), s.cfg.Loop.Window, s.cfg.Loop.QuietPeriod, s.cfg.Loop.MaxMessages)
	if err != nil {
		return Result{}, err
	}
	if v.Tripped {
		s.log.Warn("loop breaker tripped: no cases for this sender and subject until quiet",
			"message", m.ID, "sender_domain", Domain(r.Sender), "count", v.Count, "quiet", s.cfg.Loop.QuietPeriod)
		if s.onLoop != nil {
			s.onLoop(ctx, r.Sender, subjNorm, v.Count)
		}
	}
	if v.Resumed {
		s.log.Info("loop breaker resumed", "message", m.ID, "sender_domain", Domain(r.Sender))
	}
	if v.Blocked {
		r.Skip, r.Reason = true, ReasonLoop
		r.Detail = fmt.Sprintf("more than %d messages from this sender with this subject within %s", s.cfg.Loop.MaxMessages, s.cfg.Loop.Window)
		return r, nil
	}

	// 4. Thread and case.
	if err := s.thread(ctx, m, p, &r, msgID, subjNorm); err != nil {
		return Result{}, err
	}

	// 5. Contact and account context.
	cr, err := s.ResolveContact(ctx, r.Sender, r.SenderName, addrSpec(p.From.Addr))
	if err != nil {
		return Result{}, err
	}
	r.ContactID, r.AccountID, r.ContactSource = cr.ContactID, cr.AccountID, cr.Source
	r.CreateContact, r.AmbiguousContact, r.Candidates = cr.Create, cr.Ambiguous, cr.Candidates
	contactNote := ""
	if cr.Ambiguous {
		r.AmbiguousWhy = cr.Why
	} else {
		contactNote = cr.Why
	}
	if ac, err := s.accountContext(ctx, r.AccountID, r.ContactID); err != nil {
		return Result{}, err
	} else {
		r.AccountContext = ac
	}
	r.Reason = ReasonAccept
	var notes []string
	if r.IsReply {
		notes = append(notes, "reply matched by "+r.MatchedBy)
	}
	if r.TokenRejected {
		notes = append(notes, "thread token ignored: the sender is not a participant of that case")
	}
	if r.Detail != "" {
		notes = append(notes, r.Detail)
	}
	if r.ParentCaseID != "" && r.CaseID == "" {
		notes = append(notes, "follows up closed case "+r.ParentCaseID)
	}
	if r.AmbiguousContact {
		notes = append(notes, "ambiguous_contact: "+r.AmbiguousWhy)
	}
	if contactNote != "" {
		notes = append(notes, "contact: "+contactNote)
	}
	r.Detail = strings.Join(notes, "; ")
	return r, nil
}

// Transition is the state change for m with result r: skipped with the
// reason, or deduped; the result is stored as the stage's data in the same
// transaction.
func (s *Stage) Transition(m store.Message, r Result) store.Transition {
	t := store.Transition{ID: m.ID, From: m.State, To: store.StateDeduped, Stage: StageName, Detail: r.Detail}
	if r.Skip {
		t.To, t.Reason = store.StateSkipped, r.Reason
	}
	t.Extra = func(tx *sql.Tx) error {
		return s.st.PutStageData(context.Background(), tx, m.ID, StageName, r)
	}
	return t
}

// duplicateOf returns the id of an earlier copy of this email: same
// Message-ID, same sender, subject and Date. A Message-ID reused by a broken
// mailer for different mail is not a duplicate.
func (s *Stage) duplicateOf(ctx context.Context, m store.Message, p *ingest.Parsed, sender string) (int64, error) {
	if p.Synthesized || m.MessageID == "" {
		return 0, nil // synthesized ids are content hashes: the store already merged equal content
	}
	copies, err := s.st.DedupeEarlierCopies(ctx, m.MessageID, m.ID)
	if err != nil {
		return 0, err
	}
	for _, c := range copies {
		from, _ := NormalizeAddress(c.From, s.cfg.Address)
		// Copies of one email agree on sender, subject and date; templates
		// reusing a Message-ID (test corpora, broken mailers) do not.
		if from != sender || s.NormalizeSubject(c.Subject) != s.NormalizeSubject(p.Subject) {
			continue
		}
		if !c.SentAt.Equal(m.SentAt) && !(c.SentAt.IsZero() && p.Date.IsZero()) && !c.SentAt.Equal(p.Date) {
			continue
		}
		if !sameContent(c.Parsed, p) {
			continue
		}
		return c.ID, nil
	}
	return 0, nil
}

// sameContent compares the body text and attachments of an earlier copy
// with this one's, blanks collapsed; a missing text (header-only copy) does
// not count against it.
func sameContent(parsed []byte, p *ingest.Parsed) bool {
	var q ingest.Parsed
	if len(parsed) == 0 || json.Unmarshal(parsed, &q) != nil {
		return true
	}
	if q.Text != "" && p.Text != "" && collapse(q.Text) != collapse(p.Text) {
		return false
	}
	if len(q.Attachments) != len(p.Attachments) {
		return q.Text == "" || p.Text == "" // header-only copies list no attachments
	}
	for i := range q.Attachments {
		if q.Attachments[i].SHA256 != p.Attachments[i].SHA256 {
			return false
		}
	}
	return true
}

func collapse(s string) string {
	f := strings.Fields(s)
	if len(f) > 400 {
		f = f[:400]
	}
	return strings.Join(f, " ")
}

// thread finds (or starts) the message's thread and its case, fills r and
// indexes the message.
func (s *Stage) thread(ctx context.Context, m store.Message, p *ingest.Parsed, r *Result, msgID, subjNorm string) error {
	refs := referenceIDs(p)
	var th store.DedupeThread
	found := false

	// a. Headers against every Message-ID we recorded.
	if len(refs) > 0 {
		t, matched, ok, err := s.st.DedupeThreadByMessageIDs(ctx, refs)
		if err != nil {
			return err
		}
		if ok {
			th, found = t, true
			r.MatchedBy = MatchReferences
			if len(p.InReplyTo) > 0 && CleanMessageID(p.InReplyTo[0]) == matched {
				r.MatchedBy = MatchInReplyTo
			}
		}
	}
	// a'. …and every message recorded but not yet through dedupe (a reply
	// overtaking its parent): the parent's thread key follows from its root.
	if !found && len(refs) > 0 {
		for _, id := range refs {
			raw, ok, err := s.st.DedupeParsedByMessageID(ctx, id)
			if err != nil {
				return err
			}
			var parent ingest.Parsed
			if !ok || json.Unmarshal(raw, &parent) != nil {
				continue
			}
			root := rootID(&parent)
			th, found = store.DedupeThread{Key: ThreadKey(root), RootMessageID: root}, true
			if t, ok, err := s.st.DedupeThreadByKey(ctx, th.Key); err != nil {
				return err
			} else if ok {
				th = t
			}
			r.MatchedBy = MatchReferences
			if len(p.InReplyTo) > 0 && CleanMessageID(p.InReplyTo[0]) == id {
				r.MatchedBy = MatchInReplyTo
			}
			break
		}
	}
	// a''. …and against EmailMessage.MessageIdentifier in Salesforce.
	if !found && len(refs) > 0 && s.sf != nil {
		caseID, err := s.caseByMessageIDs(ctx, refs)
		if err != nil {
			return err
		}
		if caseID != "" {
			t, ok, err := s.st.DedupeThreadByCase(ctx, caseID)
			if err != nil {
				return err
			}
			if !ok {
				t = store.DedupeThread{Key: ThreadKey(rootID(p)), RootMessageID: rootID(p), CaseID: caseID}
			}
			th, found = t, true
			r.MatchedBy = MatchSalesforce
		}
	}
	// b. The thread token, only from a participant.
	if !found {
		for _, key := range s.token.Keys(p.Subject) {
			t, ok, rejected, err := s.threadByToken(ctx, key, r.Sender)
			if err != nil {
				return err
			}
			if rejected {
				r.TokenRejected = true
				s.log.Info("thread token from a non-participant ignored", "message", m.ID, "sender_domain", Domain(r.Sender))
			}
			if ok {
				th, found = t, true
				r.MatchedBy = MatchToken
				break
			}
		}
	}
	// c. Same sender, same normalised subject, recently.
	if !found && *s.cfg.Thread.SubjectMatching && len(subjNorm) >= 3 {
		key, ok, err := s.st.DedupeThreadBySubject(ctx, r.Sender, subjNorm, s.now().Add(-s.cfg.Thread.SubjectWindow), m.ID)
		if err != nil {
			return err
		}
		if ok {
			if t, ok, err := s.st.DedupeThreadByKey(ctx, key); err != nil {
				return err
			} else if ok {
				th, found = t, true
				r.MatchedBy = MatchSubject
			}
		}
	}
	if !found {
		root := rootID(p)
		th = store.DedupeThread{Key: ThreadKey(root), RootMessageID: root, SubjectNorm: subjNorm}
	}
	r.IsReply = found
	r.CaseID, r.ParentCaseID = th.CaseID, th.ParentCaseID

	// Reply to a closed case: reopen within the window, else a new linked case.
	if th.CaseID != "" && s.sf != nil {
		closed, closedAt, err := s.caseClosed(ctx, th.CaseID)
		if err != nil {
			return err
		}
		if closed {
			r.CaseClosed = true
			if s.cfg.Reopen.Behaviour == ReopenWithinWindow && !closedAt.IsZero() && s.now().Sub(closedAt) <= s.cfg.Reopen.Window {
				r.Reopen = true
				r.Detail = "reopens case closed " + closedAt.UTC().Format(time.RFC3339)
			} else {
				// A new thread rooted at this message, so later replies (whose
				// In-Reply-To is this message or the new case's mail) find it.
				r.ParentCaseID = th.CaseID
				r.CaseID = ""
				th = store.DedupeThread{Key: ThreadKey(msgID), RootMessageID: msgID, ParentCaseID: r.ParentCaseID, SubjectNorm: subjNorm}
			}
		}
	}
	r.ThreadKey = th.Key
	r.ThreadToken = s.Token(th.Key)
	return s.st.DedupeIndex(ctx, store.DedupeIndexEntry{
		ThreadKey: th.Key, RootMessageID: th.RootMessageID, CaseID: th.CaseID, ParentCaseID: th.ParentCaseID,
		SubjectNorm: th.SubjectNorm, MessageID: msgID, MsgRow: m.ID, Sender: r.Sender, At: s.now(),
		References: refs, Participants: s.participants(p),
	})
}

// threadByToken resolves a subject token. rejected is true when the thread
// exists but the sender never took part in it.
func (s *Stage) threadByToken(ctx context.Context, key, sender string) (th store.DedupeThread, ok, rejected bool, err error) {
	t, known, err := s.st.DedupeThreadByKey(ctx, key)
	if err != nil {
		return th, false, false, err
	}
	if known {
		part, err := s.st.DedupeIsParticipant(ctx, key, sender)
		if err != nil {
			return th, false, false, err
		}
		if !part {
			return th, false, true, nil
		}
		return t, true, false, nil
	}
	if s.sf == nil {
		return th, false, false, nil
	}
	// A case we have no local record of (database restored, case made
	// elsewhere): accept the token only from the case's own contact.
	var cases []struct {
		ID            string `json:"Id"`
		ContactID     string `json:"ContactId"`
		SuppliedEmail string `json:"SuppliedEmail"`
	}
	q := "SELECT Id, ContactId, SuppliedEmail FROM Case WHERE Triage_Key__c = " + s.quote(key) + " LIMIT 1"
	if err := s.sf.Query(ctx, q, &cases); err != nil {
		return th, false, false, fmt.Errorf("dedupe: look up case by thread token: %w", err)
	}
	if len(cases) == 0 {
		return th, false, false, nil
	}
	emails := []string{cases[0].SuppliedEmail}
	if cases[0].ContactID != "" {
		var contacts []map[string]any
		q := "SELECT " + s.contactFields() + " FROM Contact WHERE Id = " + s.quote(cases[0].ContactID) + " LIMIT 1"
		if err := s.sf.Query(ctx, q, &contacts); err != nil {
			return th, false, false, fmt.Errorf("dedupe: read case contact: %w", err)
		}
		for _, c := range s.decodeContacts(contacts) {
			emails = append(emails, c.Emails...)
		}
	}
	for _, e := range emails {
		if n, err := NormalizeAddress(e, s.cfg.Address); err == nil && n == sender {
			return store.DedupeThread{Key: key, CaseID: cases[0].ID}, true, false, nil
		}
	}
	return th, false, true, nil
}

// activityThread finds the case a bounce or auto-reply is about: by its
// references (and, for a bounce, those of the returned message it carries)
// against the index, the recorded messages and Salesforce, or by the token
// in its subject or text. Bounces come from the mail system, not a
// participant, so the token is enough for them: an activity never opens,
// reopens or re-routes a case.
func (s *Stage) activityThread(ctx context.Context, m store.Message, p *ingest.Parsed) (store.DedupeThread, error) {
	refs := referenceIDs(p)
	if strings.EqualFold(p.ContentType, "multipart/report") && m.SHA256 != "" && !m.HeaderOnly {
		if raw, err := s.st.Raw(ctx, m.SHA256); err == nil {
			refs = append(refs, returnedRefs(raw)...)
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.DedupeThread{}, err
		}
	}
	if len(refs) > 0 {
		t, _, ok, err := s.st.DedupeThreadByMessageIDs(ctx, refs)
		if err != nil || ok {
			return t, err
		}
		if s.sf != nil {
			caseID, err := s.caseByMessageIDs(ctx, refs)
			if err != nil {
				return store.DedupeThread{}, err
			}
			if caseID != "" {
				t, ok, err := s.st.DedupeThreadByCase(ctx, caseID)
				if err != nil {
					return store.DedupeThread{}, err
				}
				if !ok {
					t = store.DedupeThread{CaseID: caseID}
				}
				return t, nil
			}
		}
	}
	for _, text := range []string{p.Subject, p.Text} {
		for _, key := range s.token.Keys(text) {
			t, ok, err := s.st.DedupeThreadByKey(ctx, key)
			if err != nil {
				return store.DedupeThread{}, err
			}
			if ok {
				return t, nil
			}
		}
	}
	return store.DedupeThread{}, nil
}

// indexOwn records the Message-ID of our own outbound mail in its thread.
func (s *Stage) indexOwn(ctx context.Context, m store.Message, p *ingest.Parsed, msgID string) error {
	th, err := s.activityThread(ctx, m, p)
	if err != nil || th.Key == "" || msgID == "" {
		return err
	}
	return s.st.DedupeIndex(ctx, store.DedupeIndexEntry{ThreadKey: th.Key, MessageID: msgID, At: s.now()})
}

// participants are the people on a message other than ourselves.
func (s *Stage) participants(p *ingest.Parsed) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a ingest.Address) {
		if n, err := NormalizeAddress(a.Addr, s.cfg.Address); err == nil && !seen[n] && !s.screen.Own[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	add(p.From)
	for _, a := range p.To {
		add(a)
	}
	for _, a := range p.Cc {
		add(a)
	}
	return out
}

// RecordCase is called by the cases stage once the thread's case exists, so
// replies find it; participants (the contact's address, agents' recipients)
// may use the thread token.
func (s *Stage) RecordCase(ctx context.Context, threadKey, caseID string, participants []string) error {
	var norm []string
	for _, a := range participants {
		if n, err := NormalizeAddress(a, s.cfg.Address); err == nil {
			norm = append(norm, n)
		}
	}
	s.pf.forgetCase(caseID)
	return s.st.DedupeRecordCase(ctx, threadKey, caseID, norm, s.now())
}

// caseByMessageIDs asks Salesforce which case has an EmailMessage with one of ids.
func (s *Stage) caseByMessageIDs(ctx context.Context, ids []string) (string, error) {
	if len(ids) > 20 {
		ids = ids[:20]
	}
	if id, ok := s.pfCaseByMessageIDs(ids); ok {
		return id, nil
	}
	var lits []string
	for _, id := range ids {
		// Salesforce stores the header as written, usually with brackets.
		lits = append(lits, s.quote("<"+id+">"), s.quote(id))
	}
	var recs []struct {
		ParentID string `json:"ParentId"`
	}
	q := "SELECT ParentId FROM EmailMessage WHERE MessageIdentifier IN (" + strings.Join(lits, ", ") +
		") AND ParentId != null ORDER BY CreatedDate DESC LIMIT 1"
	if err := s.sf.Query(ctx, q, &recs); err != nil {
		return "", fmt.Errorf("dedupe: look up EmailMessage by Message-ID: %w", err)
	}
	if len(recs) == 0 {
		return "", nil
	}
	return recs[0].ParentID, nil
}

// caseClosed reads a case's status.
func (s *Stage) caseClosed(ctx context.Context, caseID string) (bool, time.Time, error) {
	if closed, at, ok := s.pfCaseStatus(caseID); ok {
		return closed, at, nil
	}
	var recs []struct {
		IsClosed   bool   `json:"IsClosed"`
		ClosedDate string `json:"ClosedDate"`
	}
	if err := s.sf.Query(ctx, "SELECT Id, IsClosed, ClosedDate FROM Case WHERE Id = "+s.quote(caseID)+" LIMIT 1", &recs); err != nil {
		return false, time.Time{}, fmt.Errorf("dedupe: read case status: %w", err)
	}
	if len(recs) == 0 {
		return false, time.Time{}, nil
	}
	return recs[0].IsClosed, parseSFTime(recs[0].ClosedDate), nil
}

// addrSpec is the addr-spec of an address as written.
func addrSpec(a string) string {
	if i, j := strings.LastIndexByte(a, '<'), strings.LastIndexByte(a, '>'); i >= 0 && j > i {
		return strings.TrimSpace(a[i+1 : j])
	}
	return strings.TrimSpace(a)
}

// parseSFTime reads Salesforce's datetime formats.
func parseSFTime(v string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z0700", time.RFC3339Nano, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

func isDuplicatesDetected(err error) ([]string, bool) {
	var ae *salesforce.APIError
	if !errors.As(err, &ae) || !ae.HasCode("DUPLICATES_DETECTED") {
		return nil, false
	}
	return ae.DuplicateResult().MatchedIDs(), true
}
