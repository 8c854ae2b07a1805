package cases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// BackfillItem is one message of a backfill with its earlier stages' results.
type BackfillItem struct {
	Message store.Message
	Input   Input
}

// BackfillReport says what a backfill did.
type BackfillReport struct {
	Emails    int // items given
	Written   int // committed by this run
	Already   int // committed before (ledger), nothing sent
	Recovered int // found committed in Salesforce after an unknown outcome
	DryRun    int
	Skipped   int // dedupe said skip
	Failed    int
	APICalls  int
	// CallsPerEmail is APICalls / Emails.
	CallsPerEmail float64
	Results       map[int64]Result
	Errors        map[int64]error
}

// Backfill writes many emails with /composite/graph: each email is its own
// graph (all-or-none on its own, so one bad email does not fail the others),
// up to backfill.batch_size graphs and backfill.max_nodes nodes per request.
// With ~4 nodes per email and 50 graphs per request, 10,000 emails take about
// 200 calls (0.02 per email). A graph refused because the duplicate rule
// matched a contact or the thread's case already exists is rebuilt and
// retried in a later request. Closing cases is never done by a backfill (it
// needs a per-case read). progress, when non-nil, is called after each request.
func (s *Stage) Backfill(ctx context.Context, items []BackfillItem, progress func(done, total int)) (BackfillReport, error) {
	rep := BackfillReport{Emails: len(items), Results: map[int64]Result{}, Errors: map[int64]error{}}
	type job struct {
		it    BackfillItem
		p     *plan
		o     planOpts
		tries int
	}
	var queue []*job
	var sending []*job
	for _, it := range items {
		m, in := it.Message, it.Input
		if in.Parsed == nil {
			rep.Failed++
			rep.Errors[m.ID] = permanentError{errors.New("cases: message has no parsed form")}
			continue
		}
		if in.Dedupe.Skip {
			rep.Skipped++
			continue
		}
		led, ok, err := s.st.CasesLedger(ctx, m.ID)
		if err != nil {
			return rep, err
		}
		if ok && (led.State == store.CasesCommitted || (led.State == store.CasesDryRun && s.DryRun())) {
			rep.Already++
			rep.Results[m.ID] = resultFromLedger(led)
			continue
		}
		if err := s.fillKnownCase(ctx, &in); err != nil {
			return rep, err
		}
		it.Input = in
		p, err := s.plan(ctx, m, in, nil, planOpts{})
		if err != nil {
			rep.Failed++
			rep.Errors[m.ID] = err
			continue
		}
		if s.DryRun() {
			r, err := s.recordDryRun(ctx, m, p)
			if err != nil {
				return rep, err
			}
			rep.DryRun++
			rep.Results[m.ID] = r
			continue
		}
		j := &job{it: it, p: p}
		if ok && led.State == store.CasesSending {
			sending = append(sending, j)
			continue
		}
		queue = append(queue, j)
	}
	// Unknown outcomes of an earlier run: one query per 100 identifiers.
	for start := 0; start < len(sending); start += 100 {
		batch := sending[start:min(start+100, len(sending))]
		mids := make([]string, len(batch))
		for i, j := range batch {
			mids[i] = j.p.mid
		}
		found, err := s.findEmails(ctx, mids)
		rep.APICalls++
		if err != nil {
			return rep, err
		}
		for _, j := range batch {
			row, ok := found[j.p.mid]
			if !ok || j.p.res.Action == ActionActivity {
				queue = append(queue, j)
				continue
			}
			r := j.p.res
			r.Recovered, r.EmailMessageID, r.CaseID = true, row[0], row[1]
			if err := s.commitLedger(ctx, j.it.Message, r, store.CasesCommitted); err != nil {
				return rep, err
			}
			s.afterWrite(ctx, j.it.Input, r)
			rep.Recovered++
			rep.Results[j.it.Message.ID] = r
		}
	}
	done := len(items) - len(queue)
	// Contacts created by earlier graphs of this run, by address: later
	// emails of the same unknown sender use them instead of meeting the
	// duplicate rule (which would cost a retry in another request).
	known := map[string]string{}
	// Likewise the cases written by earlier graphs, by thread key: a reply
	// waits for the request after its thread's first email and then updates
	// that case by id instead of failing an upsert in the same request.
	threadCase := map[string]string{}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		g := salesforce.NewGraph()
		var batch, deferred []*job
		creating := map[string]bool{}
		threads := map[string]bool{}
		nodes := 0
		for len(queue) > 0 && len(batch) < s.cfg.Backfill.BatchSize {
			j := queue[0]
			if d := &j.it.Input.Dedupe; d.ThreadKey != "" && !d.Activity && d.CaseID == "" && d.ParentCaseID == "" {
				if id := threadCase[d.ThreadKey]; id != "" && d.IsReply {
					d.CaseID = id
					np, err := s.plan(ctx, j.it.Message, j.it.Input, nil, j.o)
					if err != nil {
						return rep, err
					}
					j.p = np
				} else if threads[d.ThreadKey] {
					queue = queue[1:]
					deferred = append(deferred, j)
					continue
				} else {
					threads[d.ThreadKey] = true
				}
			}
			if j.p.contactRef != "" {
				if id := known[j.p.contactAddr]; id != "" {
					j.o.matchedContact = id
					np, err := s.plan(ctx, j.it.Message, j.it.Input, nil, j.o)
					if err != nil {
						return rep, err
					}
					j.p = np
				} else if creating[j.p.contactAddr] {
					// another graph of this request creates it: next request
					queue = queue[1:]
					deferred = append(deferred, j)
					continue
				} else {
					creating[j.p.contactAddr] = true
				}
			}
			n := len(j.p.writes)
			if hasQuery(j.p) {
				// Graphs take sObject nodes only: send this one on its own.
				queue = queue[1:]
				r, err := s.Process(ctx, j.it.Message, j.it.Input)
				rep.APICalls += r.APICalls
				if err != nil {
					rep.Failed++
					rep.Errors[j.it.Message.ID] = err
				} else {
					rep.Written++
					rep.Results[j.it.Message.ID] = r
				}
				done++
				continue
			}
			if len(batch) > 0 && nodes+n > s.cfg.Backfill.MaxNodes {
				break
			}
			queue = queue[1:]
			req := salesforce.NewComposite(true)
			addTo(req, j.p.writes)
			g.Add("m"+strconv.FormatInt(j.it.Message.ID, 10), req)
			batch = append(batch, j)
			nodes += n
		}
		queue = append(deferred, queue...)
		if len(batch) == 0 {
			continue
		}
		if err := g.Err(); err != nil {
			return rep, permanentError{fmt.Errorf("cases: build graph: %w", err)}
		}
		for _, j := range batch {
			if err := s.markSending(ctx, j.it.Message, j.p); err != nil {
				return rep, err
			}
		}
		resp, err := s.sf.CompositeGraph(ctx, g, s.callOpts(&plan{autoAssign: s.cfg.AutoAssign})...)
		rep.APICalls++
		if err != nil {
			// The whole request failed; its outcome may be unknown: the
			// ledger rows say "sending", so a rerun checks before resending.
			return rep, fmt.Errorf("cases: backfill request: %w", err)
		}
		byID := map[string]salesforce.GraphResult{}
		for _, gr := range resp.Graphs {
			byID[gr.GraphID] = gr
		}
		for _, j := range batch {
			m, in := j.it.Message, j.it.Input
			gr, ok := byID["m"+strconv.FormatInt(m.ID, 10)]
			if !ok {
				rep.Failed++
				rep.Errors[m.ID] = errors.New("cases: graph missing from the answer")
				done++
				continue
			}
			if gerr := gr.Err(); gerr != nil {
				s.auditFailure(ctx, m, j.p, &salesforce.CompositeResponse{CompositeResponse: gr.GraphResponse.CompositeResponse}, gerr)
				_ = s.setLedgerState(ctx, m, j.p, store.CasesFailed)
				var ae *salesforce.APIError
				retry := false
				if j.tries < 2 && j.p.contactRef != "" && errors.As(gerr, &ae) && ae.HasCode("DUPLICATES_DETECTED") {
					if dr := ae.DuplicateResult(); dr != nil && len(dr.MatchedIDs()) > 0 {
						j.o.matchedContact, retry = dr.MatchedIDs()[0], true
					}
				}
				if !retry && j.tries < 2 && !j.o.caseExists && len(j.p.createOnly) > 0 && refusedCreateOnly(gerr, j.p.createOnly) {
					j.o.caseExists, retry = true, true
				}
				if retry {
					np, perr := s.plan(ctx, m, in, nil, j.o)
					if perr == nil {
						j.p, j.tries = np, j.tries+1
						queue = append(queue, j)
						continue
					}
					gerr = perr
				}
				rep.Failed++
				rep.Errors[m.ID] = gerr
				done++
				continue
			}
			r, err := s.finishSubs(ctx, m, in, j.p, gr.GraphResponse.CompositeResponse, "")
			if err != nil {
				return rep, err
			}
			if r.CaseID != "" && in.Dedupe.ThreadKey != "" {
				threadCase[in.Dedupe.ThreadKey] = r.CaseID
			}
			if r.ContactCreated && j.p.contactAddr != "" {
				known[j.p.contactAddr] = r.ContactID
			}
			rep.Written++
			rep.Results[m.ID] = r
			done++
		}
		if progress != nil {
			progress(done, len(items))
		}
	}
	if rep.Emails > 0 {
		rep.CallsPerEmail = float64(rep.APICalls) / float64(rep.Emails)
	}
	return rep, nil
}

func hasQuery(p *plan) bool {
	for _, w := range p.writes {
		if w.Op == "query" {
			return true
		}
	}
	return false
}

// findEmails looks up EmailMessages by MessageIdentifier; the answer maps an
// identifier to [Id, ParentId].
func (s *Stage) findEmails(ctx context.Context, mids []string) (map[string][2]string, error) {
	q, err := salesforce.BuildSOQL("SELECT Id, ParentId, MessageIdentifier FROM EmailMessage WHERE MessageIdentifier IN ?", mids)
	if err != nil {
		return nil, permanentError{err}
	}
	var rows []struct {
		ID       string `json:"Id"`
		ParentID string `json:"ParentId"`
		MID      string `json:"MessageIdentifier"`
	}
	if err := s.sf.Query(ctx, q, &rows); err != nil {
		return nil, fmt.Errorf("cases: recovery query: %w", err)
	}
	out := map[string][2]string{}
	for _, r := range rows {
		out[r.MID] = [2]string{r.ID, r.ParentID}
	}
	return out, nil
}

// ProgressPrinter returns a Backfill progress callback: a bar redrawn in
// place on a terminal, plain "N/M" lines (at most one per 10%) otherwise.
func ProgressPrinter(w io.Writer, terminal bool) func(done, total int) {
	lastTenth := -1
	return func(done, total int) {
		if total <= 0 {
			return
		}
		if terminal {
			const width = 40
			n := done * width / total
			fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
			if done >= total {
				fmt.Fprintln(w)
			}
			return
		}
		if t := done * 10 / total; t != lastTenth || done >= total {
			lastTenth = t
			fmt.Fprintf(w, "backfill: %d/%d emails\n", done, total)
		}
	}
}
