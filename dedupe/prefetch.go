package dedupe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/store"
)

// Prefetch answers, in a few SOQL queries, what Process would ask
// Salesforce message by message for a batch and the next waiting messages:
// contacts by address, accounts by domain and their contacts, cases by the
// Message-IDs replies point to, case status, account context. Answers
// (negative ones too) are kept for Prefetch.TTL; Process uses them first and
// asks Salesforce itself on a miss, so nothing depends on Prefetch having
// run. A "no contact has this address" answer can only lead to a Create
// proposal; the claim row and the org's duplicate rules still keep it to one
// Contact per address.

// maxQueryLen bounds a query's URL-encoded length: GET /query carries the
// SOQL in the URI, and long URIs (around 16k) are refused.
const maxQueryLen = 15000

// maxPrefetchRows is each prefetch query's LIMIT. A full answer may be cut
// off, so only what it proves is kept (see each query).
const maxPrefetchRows = 2000

type pfContacts struct {
	matches []contactRec    // contacts with an address that normalises to the key
	forms   map[string]bool // lower-case literal forms asked for
	at      time.Time
}

type pfContact struct {
	rec *contactRec // nil: no such contact (deleted, merged, not visible)
	at  time.Time
}

type pfAccounts struct {
	ids []string
	at  time.Time
}

type pfAccContacts struct {
	contacts []contactRec
	at       time.Time
}

type pfEmail struct {
	parentID string // "" when no EmailMessage has this Message-ID
	created  time.Time
	rank     int // order in Salesforce's answer (CreatedDate DESC), for ties
	at       time.Time
}

type pfCase struct {
	closed   bool
	closedAt time.Time
	at       time.Time
}

// prefetchCache holds Prefetch's answers, each stamped with when it was asked.
type prefetchCache struct {
	run sync.Mutex // one Prefetch at a time

	mu          sync.Mutex
	contacts    map[string]pfContacts    // normalised address →
	byID        map[string]pfContact     // contact id →
	domains     map[string]pfAccounts    // domain →
	accContacts map[string]pfAccContacts // account id →
	emails      map[string]pfEmail       // clean Message-ID →
	cases       map[string]pfCase        // case id →
	covered     map[int64]time.Time      // message row → when prefetched for
	rank        int
}

func newPrefetchCache() *prefetchCache {
	return &prefetchCache{contacts: map[string]pfContacts{}, byID: map[string]pfContact{}, domains: map[string]pfAccounts{},
		accContacts: map[string]pfAccContacts{}, emails: map[string]pfEmail{}, cases: map[string]pfCase{}, covered: map[int64]time.Time{}}
}

// fresh says whether a prefetched answer from at may still be used.
func (s *Stage) fresh(at time.Time) bool {
	return s.cfg.Prefetch.TTL > 0 && s.now().Sub(at) < s.cfg.Prefetch.TTL
}

// maxPrefetchEntries bounds each of the cache's maps. Within the TTL the
// cache would otherwise hold an answer for every message of a backlog that
// the stage works through in two minutes (24,000 at 50,000 emails, ~6 MB of
// live heap, twice that in heap goal), so memory grew with the backlog. The
// newest answers are kept: the lookahead needs those, and 5,000 still covers
// 25 lookaheads of repeat senders and thread replies.
const maxPrefetchEntries = 5000

// prune drops stale answers, then the oldest beyond maxPrefetchEntries.
func (c *prefetchCache) prune(fresh func(time.Time) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	maps := []func(){
		func() { pruneMap(c.contacts, func(v pfContacts) time.Time { return v.at }, fresh) },
		func() { pruneMap(c.byID, func(v pfContact) time.Time { return v.at }, fresh) },
		func() { pruneMap(c.domains, func(v pfAccounts) time.Time { return v.at }, fresh) },
		func() { pruneMap(c.accContacts, func(v pfAccContacts) time.Time { return v.at }, fresh) },
		func() { pruneMap(c.emails, func(v pfEmail) time.Time { return v.at }, fresh) },
		func() { pruneMap(c.cases, func(v pfCase) time.Time { return v.at }, fresh) },
		func() { pruneMap(c.covered, func(v time.Time) time.Time { return v }, fresh) },
	}
	for _, f := range maps {
		f()
	}
}

// pruneMap deletes the entries that are no longer fresh and, when more than
// maxPrefetchEntries remain, the oldest down to three quarters of it (so the
// sort runs once per quarter of the bound, not on every call).
func pruneMap[K comparable, V any](m map[K]V, at func(V) time.Time, fresh func(time.Time) bool) {
	for k, v := range m {
		if !fresh(at(v)) {
			delete(m, k)
		}
	}
	if len(m) <= maxPrefetchEntries {
		return
	}
	times := make([]time.Time, 0, len(m))
	for _, v := range m {
		times = append(times, at(v))
	}
	slices.SortFunc(times, time.Time.Compare)
	keep := maxPrefetchEntries * 3 / 4
	cutoff := times[len(times)-keep] // entries older than this go
	for k, v := range m {
		if at(v).Before(cutoff) {
			delete(m, k)
		}
	}
	for k := range m { // many answers of the same instant: any of them
		if len(m) <= maxPrefetchEntries {
			break
		}
		delete(m, k)
	}
}

func (c *prefetchCache) empty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.contacts)+len(c.byID)+len(c.domains)+len(c.accContacts)+len(c.emails)+len(c.cases) == 0
}

// forgetContacts drops answers about changed contacts (the change poll).
func (c *prefetchCache) forgetContacts(ids, addrs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gone := map[string]bool{}
	for _, id := range ids {
		gone[id] = true
		delete(c.byID, id)
	}
	for _, a := range addrs {
		delete(c.contacts, a)
	}
	for a, e := range c.contacts {
		for _, m := range e.matches {
			if gone[m.ID] {
				delete(c.contacts, a)
				break
			}
		}
	}
	// A changed contact may have joined or left any account.
	clear(c.accContacts)
}

// forgetAccounts drops answers about accounts after any account changed: a
// new Website may make a domain match that was "none" before.
func (c *prefetchCache) forgetAccounts() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.domains)
	clear(c.accContacts)
}

// forgetCase drops a case's status: the cases stage just wrote it (and may
// have closed it).
func (c *prefetchCache) forgetCase(caseID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cases, caseID)
}

// pfPlan is what one message will need from Salesforce.
type pfPlan struct {
	addr     string
	name     string
	forms    []string // lower-case literal forms of the address
	resolve  bool     // goes through contact resolution
	activity bool     // a bounce/auto-reply/own mail: only its thread matters
	refs     []string // Message-IDs it points to (cleaned)
	tokens   []string
}

// Prefetch fetches what the batch and the next waiting messages need from
// Salesforce (see the top of this file). It is the pipeline's batch hook:
// an error only costs efficiency, since Process asks for what is missing.
func (s *Stage) Prefetch(ctx context.Context, batch []store.Message) error {
	if s.sf == nil || s.cfg.Prefetch.TTL <= 0 {
		return nil
	}
	s.pf.run.Lock()
	defer s.pf.run.Unlock()
	s.maybePoll(ctx)
	s.pf.prune(s.fresh)

	msgs, err := s.prefetchMessages(ctx, batch)
	if err != nil || len(msgs) == 0 {
		return err
	}
	var plans []*pfPlan
	for _, m := range msgs {
		if p := s.planFor(ctx, m); p != nil {
			plans = append(plans, p)
		}
	}
	w := &pfWork{s: s, plans: plans, caseIDs: map[string]bool{}, ctxAccounts: map[string]bool{}, ctxContacts: map[string]bool{}}
	for _, step := range []func(context.Context) error{w.local, w.emailMessages, w.contacts, w.accounts, w.accountContacts, w.cases} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	now := s.now()
	s.pf.mu.Lock()
	for _, m := range msgs {
		s.pf.covered[m.ID] = now
	}
	s.pf.mu.Unlock()
	return nil
}

// prefetchMessages is the batch plus the lookahead, without the messages a
// fresh prefetch already covered. Nothing when the whole batch is covered:
// the lookahead is then fetched for in one round when the first message
// beyond it comes up, not a few messages at a time (which would cost a
// query per batch).
func (s *Stage) prefetchMessages(ctx context.Context, batch []store.Message) ([]store.Message, error) {
	s.pf.mu.Lock()
	covered := func(id int64) bool { at, ok := s.pf.covered[id]; return ok && s.fresh(at) }
	if !slices.ContainsFunc(batch, func(m store.Message) bool { return !covered(m.ID) }) {
		s.pf.mu.Unlock()
		return nil, nil
	}
	s.pf.mu.Unlock()
	ids, err := s.st.DedupeLookaheadIDs(ctx, s.cfg.Prefetch.Lookahead)
	if err != nil {
		return nil, err
	}
	s.pf.mu.Lock()
	seen := map[int64]bool{}
	var out []store.Message
	for _, m := range batch {
		if !seen[m.ID] && !covered(m.ID) {
			out = append(out, m)
		}
		seen[m.ID] = true
	}
	var need []int64
	for _, id := range ids {
		if !seen[id] && !covered(id) {
			need = append(need, id)
		}
		seen[id] = true
	}
	s.pf.mu.Unlock()
	more, err := s.st.DedupeMessages(ctx, need)
	if err != nil {
		return nil, err
	}
	return append(out, more...), nil
}

// planFor works out what m will look up, the way Process would.
func (s *Stage) planFor(ctx context.Context, m store.Message) *pfPlan {
	var p ingest.Parsed
	if len(m.Parsed) == 0 || json.Unmarshal(m.Parsed, &p) != nil {
		return nil
	}
	pl := &pfPlan{}
	pl.name, pl.addr, _ = ParseAddress(p.From.Addr, s.cfg.Address)
	if pl.name == "" {
		pl.name = p.From.Name
	}
	pl.refs = referenceIDs(&p)
	if d := Screen(&p, s.screen); d.Skip {
		if !d.Attachable && d.Reason != ReasonOwnOutbound {
			return nil
		}
		pl.activity = true
		if strings.EqualFold(p.ContentType, "multipart/report") && m.SHA256 != "" && !m.HeaderOnly {
			if raw, err := s.st.Raw(ctx, m.SHA256); err == nil {
				pl.refs = append(pl.refs, returnedRefs(raw)...)
			}
		}
		return pl
	}
	if pl.addr != "" {
		pl.resolve = true
		pl.forms = []string{pl.addr}
		if a := strings.ToLower(strings.TrimSpace(addrSpec(p.From.Addr))); a != "" && a != pl.addr {
			pl.forms = append(pl.forms, a)
		}
	}
	pl.tokens = s.token.Keys(p.Subject)
	return pl
}

// pfWork is one Prefetch run: each step adds to what the next asks for.
type pfWork struct {
	s     *Stage
	plans []*pfPlan

	emRefs      []string        // Message-IDs to look up as EmailMessage
	sfRefs      [][]string      // per plan needing it, the ids caseByMessageIDs will get
	caseIDs     map[string]bool // cases whose status to read
	rows        map[string]store.DedupeContact
	emailAddrs  []*pfPlan // contacts to look up by address
	refreshIDs  []string  // cached contacts whose entry expired
	domainPlans []*pfPlan // senders matched by domain
	ctxAccounts map[string]bool
	ctxContacts map[string]bool
	accInfo     map[string]map[string]any // account id → its row (name, tier)
	accAsked    map[string]bool
	namePlans   map[string]bool // accounts whose contacts to list for a name match
}

// local answers what the database can: threads and their cases, cached contacts.
func (w *pfWork) local(ctx context.Context) error {
	s := w.s
	var all []string
	for _, p := range w.plans {
		all = append(all, p.refs...)
	}
	indexed, recorded, err := s.st.DedupeKnownMessageIDs(ctx, all)
	if err != nil {
		return err
	}
	w.rows = map[string]store.DedupeContact{}
	asked := map[string]bool{}
	for _, p := range w.plans {
		if len(p.refs) > 0 {
			switch {
			case slices.ContainsFunc(p.refs, func(id string) bool { return indexed[id] }):
				if th, _, ok, err := s.st.DedupeThreadByMessageIDs(ctx, p.refs); err != nil {
					return err
				} else if ok && th.CaseID != "" {
					w.caseIDs[th.CaseID] = true
				}
			case !p.activity && slices.ContainsFunc(p.refs, func(id string) bool { return recorded[id] }):
				// The parent is recorded: the reply follows it locally.
			default:
				refs := p.refs
				if len(refs) > 20 {
					refs = refs[:20] // as caseByMessageIDs
				}
				w.sfRefs = append(w.sfRefs, refs)
				for _, id := range refs {
					if !asked[id] && !s.pfEmailKnown(id) {
						asked[id] = true
						w.emRefs = append(w.emRefs, id)
					}
				}
			}
		}
		for _, key := range p.tokens {
			if th, ok, err := s.st.DedupeThreadByKey(ctx, key); err != nil {
				return err
			} else if ok && th.CaseID != "" {
				w.caseIDs[th.CaseID] = true
			}
		}
		if !p.resolve {
			continue
		}
		row, ok, err := s.st.DedupeContactByAddress(ctx, p.addr)
		if err != nil {
			return err
		}
		w.rows[p.addr] = row
		resolved := ok && row.State != store.DedupeContactPending && row.ContactID != ""
		if resolved && s.now().Sub(row.ResolvedAt) < s.cfg.ContactCache.TTL {
			w.addContext(row.AccountID, row.ContactID)
			continue
		}
		w.emailAddrs = append(w.emailAddrs, p)
		if resolved {
			w.refreshIDs = append(w.refreshIDs, row.ContactID)
		}
	}
	return nil
}

func (w *pfWork) addContext(accountID, contactID string) {
	if !*w.s.cfg.Context.Enabled {
		return
	}
	switch {
	case accountID != "":
		w.ctxAccounts[accountID] = true
	case contactID != "":
		w.ctxContacts[contactID] = true
	}
}

func (s *Stage) pfEmailKnown(id string) bool {
	s.pf.mu.Lock()
	defer s.pf.mu.Unlock()
	e, ok := s.pf.emails[id]
	return ok && s.fresh(e.at)
}

// emailMessages finds the cases replies point to through the Message-IDs
// of EmailMessages (both bracketed and bare forms, as Salesforce keeps what
// the header said).
func (w *pfWork) emailMessages(ctx context.Context) error {
	s := w.s
	if len(w.emRefs) > 0 {
		base := "SELECT ParentId, MessageIdentifier, CreatedDate FROM EmailMessage WHERE MessageIdentifier IN () AND ParentId != null ORDER BY CreatedDate DESC LIMIT 2000"
		for _, chunk := range chunkBy(w.emRefs, encLen(base), func(id string) int { return litCost(s.quote("<"+id+">")) + litCost(s.quote(id)) }) {
			var lits []string
			for _, id := range chunk {
				lits = append(lits, s.quote("<"+id+">"), s.quote(id))
			}
			var recs []struct {
				ParentID          string `json:"ParentId"`
				MessageIdentifier string `json:"MessageIdentifier"`
				CreatedDate       string `json:"CreatedDate"`
			}
			at := s.now()
			q := "SELECT ParentId, MessageIdentifier, CreatedDate FROM EmailMessage WHERE MessageIdentifier IN (" +
				strings.Join(lits, ", ") + fmt.Sprintf(") AND ParentId != null ORDER BY CreatedDate DESC LIMIT %d", maxPrefetchRows)
			if err := s.sf.Query(ctx, q, &recs); err != nil {
				return fmt.Errorf("dedupe: prefetch EmailMessages by Message-ID: %w", err)
			}
			cut := len(recs) >= maxPrefetchRows
			s.pf.mu.Lock()
			found := map[string]bool{}
			for _, r := range recs {
				id := CleanMessageID(r.MessageIdentifier)
				if found[id] || r.ParentID == "" {
					continue // the newest one (first) decides
				}
				found[id] = true
				s.pf.rank++
				s.pf.emails[id] = pfEmail{parentID: r.ParentID, created: parseSFTime(r.CreatedDate), rank: s.pf.rank, at: at}
			}
			if !cut { // a cut-off answer proves nothing about the ids it lacks
				for _, id := range chunk {
					if !found[id] {
						s.pf.emails[id] = pfEmail{at: at}
					}
				}
			}
			s.pf.mu.Unlock()
		}
	}
	for _, refs := range w.sfRefs {
		if id, ok := s.pfCaseByMessageIDs(refs); ok && id != "" {
			w.caseIDs[id] = true
		}
	}
	return nil
}

// pfCaseByMessageIDs answers caseByMessageIDs from the cache when every id is known.
func (s *Stage) pfCaseByMessageIDs(ids []string) (string, bool) {
	s.pf.mu.Lock()
	defer s.pf.mu.Unlock()
	var best pfEmail
	for _, id := range ids {
		e, ok := s.pf.emails[id]
		if !ok || !s.fresh(e.at) {
			return "", false
		}
		if e.parentID != "" && (best.parentID == "" || e.created.After(best.created) || e.created.Equal(best.created) && e.rank < best.rank) {
			best = e
		}
	}
	return best.parentID, true
}

// contacts looks up every sender's address (each form as written) in
// Contact.Email and the alternate fields, and cached contacts whose entry
// expired by Id.
func (w *pfWork) contacts(ctx context.Context) error {
	s := w.s
	type unit struct {
		addr  string // "" for an id
		forms []string
		id    string
	}
	var units []unit
	merged := map[string][]string{} // address → every form its messages use
	var addrs []string
	for _, p := range w.emailAddrs {
		if _, ok := merged[p.addr]; !ok {
			addrs = append(addrs, p.addr)
		}
		for _, f := range p.forms {
			if !slices.Contains(merged[p.addr], f) {
				merged[p.addr] = append(merged[p.addr], f)
			}
		}
	}
	for _, a := range addrs {
		if !s.pfContactsKnown(a, merged[a]) {
			units = append(units, unit{addr: a, forms: merged[a]})
		}
	}
	seen := map[string]bool{}
	for _, id := range w.refreshIDs {
		if !seen[id] && !s.pfContactKnown(id) {
			units = append(units, unit{id: id})
		}
		seen[id] = true
	}
	emailFields := append([]string{"Email"}, s.cfg.AlternateEmailFields...)
	base := "SELECT " + s.contactFields() + " FROM Contact WHERE " + strings.Join(emailFields, " IN () OR ") + " IN () OR Id IN () LIMIT 2000"
	cost := func(u unit) int {
		if u.addr == "" {
			return litCost(s.quote(u.id))
		}
		n := 0
		for _, f := range u.forms {
			n += len(emailFields) * litCost(s.quote(f))
		}
		return n
	}
	for _, chunk := range chunkBy(units, encLen(base), cost) {
		var lits, ids []string
		forms := map[string]map[string]bool{} // address → forms asked
		litSeen := map[string]bool{}
		for _, u := range chunk {
			if u.addr == "" {
				ids = append(ids, s.quote(u.id))
				continue
			}
			fs := map[string]bool{}
			for _, f := range u.forms {
				fs[f] = true
				if !litSeen[f] {
					litSeen[f] = true
					lits = append(lits, s.quote(f))
				}
			}
			forms[u.addr] = fs
		}
		var where []string
		if len(lits) > 0 {
			for _, f := range emailFields {
				where = append(where, f+" IN ("+strings.Join(lits, ", ")+")")
			}
		}
		if len(ids) > 0 {
			where = append(where, "Id IN ("+strings.Join(ids, ", ")+")")
		}
		var raw []map[string]any
		at := s.now()
		q := "SELECT " + s.contactFields() + " FROM Contact WHERE " + strings.Join(where, " OR ") + fmt.Sprintf(" LIMIT %d", maxPrefetchRows)
		if err := s.sf.Query(ctx, q, &raw); err != nil {
			return fmt.Errorf("dedupe: prefetch contacts by email: %w", err)
		}
		if len(raw) >= maxPrefetchRows {
			continue // cut off: Process asks for these one by one
		}
		recs := s.decodeContacts(raw)
		s.pf.mu.Lock()
		for addr, fs := range forms {
			e := pfContacts{forms: fs, at: at}
			for _, c := range recs {
				if s.contactHas(c, addr, fs) {
					e.matches = append(e.matches, c)
				}
			}
			s.pf.contacts[addr] = e
		}
		for _, u := range chunk {
			if u.addr != "" {
				continue
			}
			e := pfContact{at: at}
			for i := range recs {
				if recs[i].ID == u.id {
					e.rec = &recs[i]
				}
			}
			s.pf.byID[u.id] = e
		}
		s.pf.mu.Unlock()
	}

	// What each sender resolves to decides what comes next: its context, or
	// a match by domain.
	for _, p := range w.emailAddrs {
		row := w.rows[p.addr]
		if row.ContactID != "" && row.State != store.DedupeContactPending {
			if c, ok := s.pfContactByID(row.ContactID); ok && c != nil && s.recHas(*c, p.addr) {
				w.addContext(c.AccountID, c.ID)
				continue
			}
		}
		e, ok := s.pfContactsFor(p.addr, p.forms)
		switch {
		case !ok:
		case len(e) == 1:
			w.addContext(e[0].AccountID, e[0].ID)
		case len(e) == 0:
			w.domainPlans = append(w.domainPlans, p)
		}
	}
	return nil
}

// contactHas says whether the SOQL for addr's forms would find c and c has
// an address that normalises to addr (what ResolveContact keeps).
func (s *Stage) contactHas(c contactRec, addr string, forms map[string]bool) bool {
	asked := false
	for _, e := range c.Emails {
		if forms[strings.ToLower(strings.TrimSpace(e))] {
			asked = true
			break
		}
	}
	return asked && s.recHas(c, addr)
}

func (s *Stage) recHas(c contactRec, addr string) bool {
	for _, e := range c.Emails {
		if n, err := NormalizeAddress(e, s.cfg.Address); err == nil && n == addr {
			return true
		}
	}
	return false
}

func (s *Stage) pfContactsKnown(addr string, forms []string) bool {
	_, ok := s.pfContactsFor(addr, forms)
	return ok
}

// pfContactsFor returns the contacts having addr when a fresh answer asked
// for every one of forms.
func (s *Stage) pfContactsFor(addr string, forms []string) ([]contactRec, bool) {
	s.pf.mu.Lock()
	defer s.pf.mu.Unlock()
	e, ok := s.pf.contacts[addr]
	if !ok || !s.fresh(e.at) {
		return nil, false
	}
	for _, f := range forms {
		if !e.forms[f] {
			return nil, false
		}
	}
	return slices.Clone(e.matches), true
}

func (s *Stage) pfContactKnown(id string) bool {
	_, ok := s.pfContactByID(id)
	return ok
}

func (s *Stage) pfContactByID(id string) (*contactRec, bool) {
	s.pf.mu.Lock()
	defer s.pf.mu.Unlock()
	e, ok := s.pf.byID[id]
	if !ok || !s.fresh(e.at) {
		return nil, false
	}
	if e.rec == nil {
		return nil, true
	}
	c := *e.rec
	return &c, true
}

// accounts matches the senders' domains against the accounts and reads the
// name and tier of every account whose context will be wanted, in one query.
func (w *pfWork) accounts(ctx context.Context) error {
	s := w.s
	domains := map[string]bool{}
	var ds []string
	if len(s.cfg.AccountDomainFields) > 0 {
		for _, p := range w.domainPlans {
			d := Domain(p.addr)
			if d == "" || s.freeMail(d) || domains[d] {
				continue
			}
			domains[d] = true
			if accs, ok := s.pfAccountsByDomain(d); ok {
				if len(accs) == 1 {
					w.addContext(accs[0], "") // known: its row is read by Id below
				}
				continue
			}
			ds = append(ds, d)
		}
	}
	var ids []string
	for id := range w.ctxAccounts {
		if !s.ctxFresh(ctxKey(id, "")) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	fields := []string{"Id"}
	add := func(f string) {
		if f != "" && !slices.ContainsFunc(fields, func(g string) bool { return strings.EqualFold(f, g) }) {
			fields = append(fields, f)
		}
	}
	for _, f := range s.cfg.AccountDomainFields {
		add(f)
	}
	cfg := s.cfg.Context
	if *cfg.Enabled {
		for _, f := range []string{cfg.AccountNameField, cfg.TierField} {
			if f != "" && !s.sensitive(f) {
				add(f)
			}
		}
	}
	type unit struct{ domain, id string }
	var units []unit
	for _, d := range ds {
		units = append(units, unit{domain: d})
	}
	for _, id := range ids {
		units = append(units, unit{id: id})
	}
	base := "SELECT " + strings.Join(fields, ", ") + " FROM Account WHERE " + strings.Join(s.cfg.AccountDomainFields, " IN () OR ") +
		" IN () OR Id IN () LIMIT 2000"
	cost := func(u unit) int {
		if u.domain == "" {
			return litCost(s.quote(u.id))
		}
		n := 0
		for _, f := range domainForms(u.domain) {
			n += len(s.cfg.AccountDomainFields) * litCost(s.quote(f))
		}
		return n
	}
	w.accInfo, w.accAsked = map[string]map[string]any{}, map[string]bool{}
	for _, chunk := range chunkBy(units, encLen(base), cost) {
		var forms, idLits []string
		formDomain := map[string]string{}
		for _, u := range chunk {
			if u.domain == "" {
				idLits = append(idLits, s.quote(u.id))
				continue
			}
			for _, f := range domainForms(u.domain) {
				forms = append(forms, s.quote(f))
				formDomain[strings.ToLower(f)] = u.domain
			}
		}
		var where []string
		if len(forms) > 0 {
			for _, f := range s.cfg.AccountDomainFields {
				where = append(where, f+" IN ("+strings.Join(forms, ", ")+")")
			}
		}
		if len(idLits) > 0 {
			where = append(where, "Id IN ("+strings.Join(idLits, ", ")+")")
		}
		var recs []map[string]any
		at := s.now()
		q := "SELECT " + strings.Join(fields, ", ") + " FROM Account WHERE " + strings.Join(where, " OR ") + fmt.Sprintf(" LIMIT %d", maxPrefetchRows)
		if err := s.sf.Query(ctx, q, &recs); err != nil {
			return fmt.Errorf("dedupe: prefetch accounts: %w", err)
		}
		if len(recs) >= maxPrefetchRows {
			continue
		}
		byDomain := map[string][]string{}
		for _, r := range recs {
			id := str(r["Id"])
			w.accInfo[id] = r
			for _, f := range s.cfg.AccountDomainFields {
				if d, ok := formDomain[strings.ToLower(strings.TrimSpace(str(r[f])))]; ok && !slices.Contains(byDomain[d], id) {
					byDomain[d] = append(byDomain[d], id)
				}
			}
		}
		s.pf.mu.Lock()
		for _, u := range chunk {
			if u.domain != "" {
				s.pf.domains[u.domain] = pfAccounts{ids: byDomain[u.domain], at: at}
			} else {
				w.accAsked[u.id] = true
			}
		}
		s.pf.mu.Unlock()
	}

	// Senders matched by domain: the account's context, and its contacts
	// when a display name is to be matched.
	w.namePlans = map[string]bool{}
	for _, p := range w.domainPlans {
		d := Domain(p.addr)
		if d == "" || s.freeMail(d) || len(s.cfg.AccountDomainFields) == 0 {
			continue
		}
		accs, ok := s.pfAccountsByDomain(d)
		if !ok || len(accs) != 1 {
			continue
		}
		acc := accs[0]
		if w.accInfo[acc] != nil {
			w.accAsked[acc] = true // found by its domain: its row came along
		}
		w.addContext(acc, "")
		if nameKey(p.name) != "" && !s.pfAccContactsKnown(acc) {
			w.namePlans[acc] = true
		}
	}
	return nil
}

// domainForms are the ways a Website is written for a domain (accountByDomain).
func domainForms(domain string) []string {
	var forms []string
	for _, host := range []string{domain, "www." + domain} {
		for _, pre := range []string{"", "http://", "https://"} {
			forms = append(forms, pre+host, pre+host+"/")
		}
	}
	return forms
}

func (s *Stage) pfDomainKnown(d string) bool {
	_, ok := s.pfAccountsByDomain(d)
	return ok
}

func (s *Stage) pfAccountsByDomain(d string) ([]string, bool) {
	s.pf.mu.Lock()
	defer s.pf.mu.Unlock()
	e, ok := s.pf.domains[d]
	if !ok || !s.fresh(e.at) {
		return nil, false
	}
	return slices.Clone(e.ids), true
}

func (s *Stage) pfAccContactsKnown(acc string) bool {
	_, ok := s.pfAccountContacts(acc)
	return ok
}

func (s *Stage) pfAccountContacts(acc string) ([]contactRec, bool) {
	s.pf.mu.Lock()
	defer s.pf.mu.Unlock()
	e, ok := s.pf.accContacts[acc]
	if !ok || !s.fresh(e.at) {
		return nil, false
	}
	return slices.Clone(e.contacts), true
}

// accountContacts lists the contacts of the accounts a display name is matched on.
func (w *pfWork) accountContacts(ctx context.Context) error {
	s := w.s
	var accs []string
	for a := range w.namePlans {
		accs = append(accs, a)
	}
	slices.Sort(accs)
	base := "SELECT " + s.contactFields() + " FROM Contact WHERE AccountId IN () LIMIT 2000"
	for _, chunk := range chunkBy(accs, encLen(base), func(a string) int { return litCost(s.quote(a)) }) {
		var lits []string
		for _, a := range chunk {
			lits = append(lits, s.quote(a))
		}
		var raw []map[string]any
		at := s.now()
		q := "SELECT " + s.contactFields() + " FROM Contact WHERE AccountId IN (" + strings.Join(lits, ", ") + fmt.Sprintf(") LIMIT %d", maxPrefetchRows)
		if err := s.sf.Query(ctx, q, &raw); err != nil {
			return fmt.Errorf("dedupe: prefetch account contacts: %w", err)
		}
		if len(raw) >= maxPrefetchRows {
			continue
		}
		by := map[string][]contactRec{}
		for _, c := range s.decodeContacts(raw) {
			by[c.AccountID] = append(by[c.AccountID], c)
		}
		s.pf.mu.Lock()
		for _, a := range chunk {
			s.pf.accContacts[a] = pfAccContacts{contacts: by[a], at: at}
		}
		s.pf.mu.Unlock()
	}
	return nil
}

// cases reads, in one query, the status of the cases replies go to and the
// cases of every account (or account-less contact) whose context is wanted:
// open count and recent subjects come from the newest cases.
func (w *pfWork) cases(ctx context.Context) error {
	s := w.s
	cfg := s.cfg.Context
	type unit struct{ kind, id string }
	var units []unit
	add := func(kind string, set map[string]bool, keep func(string) bool) {
		var ids []string
		for id := range set {
			if keep(id) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			units = append(units, unit{kind, id})
		}
	}
	add("Id", w.caseIDs, func(id string) bool { return !s.pfCaseKnown(id) })
	if *cfg.Enabled {
		// Only accounts whose row was read (or proven missing) get a context here.
		add("AccountId", w.ctxAccounts, func(id string) bool { return w.accAsked[id] && !s.ctxFresh(ctxKey(id, "")) })
		add("ContactId", w.ctxContacts, func(id string) bool { return !s.ctxFresh(ctxKey("", id)) })
	}
	if len(units) == 0 {
		return nil
	}
	fields := "Id, AccountId, ContactId, IsClosed, ClosedDate, CreatedDate"
	withSubject := *cfg.RecentCases > 0 && !s.sensitive("Subject")
	if withSubject {
		fields += ", Subject"
	}
	base := "SELECT " + fields + " FROM Case WHERE AccountId IN () OR ContactId IN () OR Id IN () ORDER BY CreatedDate DESC LIMIT 2000"
	for _, chunk := range chunkBy(units, encLen(base), func(u unit) int { return litCost(s.quote(u.id)) }) {
		lits := map[string][]string{}
		for _, u := range chunk {
			lits[u.kind] = append(lits[u.kind], s.quote(u.id))
		}
		var where []string
		for _, k := range []string{"AccountId", "ContactId", "Id"} {
			if len(lits[k]) > 0 {
				where = append(where, k+" IN ("+strings.Join(lits[k], ", ")+")")
			}
		}
		var recs []struct {
			ID          string `json:"Id"`
			AccountID   string `json:"AccountId"`
			ContactID   string `json:"ContactId"`
			IsClosed    bool   `json:"IsClosed"`
			ClosedDate  string `json:"ClosedDate"`
			CreatedDate string `json:"CreatedDate"`
			Subject     string `json:"Subject"`
		}
		at := s.now()
		q := "SELECT " + fields + " FROM Case WHERE " + strings.Join(where, " OR ") + fmt.Sprintf(" ORDER BY CreatedDate DESC LIMIT %d", maxPrefetchRows)
		if err := s.sf.Query(ctx, q, &recs); err != nil {
			return fmt.Errorf("dedupe: prefetch cases: %w", err)
		}
		cut := len(recs) >= maxPrefetchRows
		s.pf.mu.Lock()
		for _, r := range recs {
			if w.caseIDs[r.ID] {
				s.pf.cases[r.ID] = pfCase{closed: r.IsClosed, closedAt: parseSFTime(r.ClosedDate), at: at}
			}
		}
		s.pf.mu.Unlock()
		if cut {
			continue // counts and recent subjects may be incomplete
		}
		for _, u := range chunk {
			var ac AccountContext
			switch u.kind {
			case "Id":
				continue
			case "AccountId":
				if row := w.accInfo[u.id]; row != nil {
					if !s.sensitive(cfg.AccountNameField) {
						ac.AccountName = fmt.Sprint(orEmpty(row[cfg.AccountNameField]))
					}
					if cfg.TierField != "" && !s.sensitive(cfg.TierField) {
						ac.Tier = fmt.Sprint(orEmpty(row[cfg.TierField]))
					}
				}
			}
			for _, r := range recs {
				if u.kind == "AccountId" && r.AccountID != u.id || u.kind == "ContactId" && r.ContactID != u.id {
					continue
				}
				if !r.IsClosed && ac.OpenCases < 200 { // readAccountContext counts up to 200
					ac.OpenCases++
				}
				if withSubject && len(ac.RecentSubjects) < *cfg.RecentCases {
					ac.RecentSubjects = append(ac.RecentSubjects, r.Subject)
				}
			}
			key := ctxKey(u.id, "")
			if u.kind == "ContactId" {
				key = ctxKey("", u.id)
			}
			s.putContext(key, &ac, at)
		}
	}
	return nil
}

func (s *Stage) pfCaseKnown(id string) bool {
	_, _, ok := s.pfCaseStatus(id)
	return ok
}

func (s *Stage) pfCaseStatus(id string) (bool, time.Time, bool) {
	s.pf.mu.Lock()
	defer s.pf.mu.Unlock()
	e, ok := s.pf.cases[id]
	if !ok || !s.fresh(e.at) {
		return false, time.Time{}, false
	}
	return e.closed, e.closedAt, true
}

// chunkBy splits items so that base plus the items' costs stays under maxQueryLen.
func chunkBy[T any](items []T, base int, cost func(T) int) [][]T {
	var out [][]T
	var cur []T
	n := base
	for _, it := range items {
		c := cost(it)
		if len(cur) > 0 && n+c > maxQueryLen {
			out = append(out, cur)
			cur, n = nil, base
		}
		cur = append(cur, it)
		n += c
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// encLen is the URL-encoded length of a query text.
func encLen(q string) int { return len(url.QueryEscape(q)) }

// litCost is what a quoted literal adds to an IN list, separator included.
func litCost(quoted string) int { return encLen(quoted) + encLen(", ") }
