package dedupe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// Contact sources (Result.ContactSource).
const (
	SourceCache         = "cache"
	SourceEmail         = "email"
	SourceAlternate     = "alternate_email"
	SourceAccountName   = "account_name"
	SourceCreated       = "created"
	SourceDuplicateRule = "duplicate_rule"
)

// claimLease bounds how long a crashed creator blocks others. It is far
// longer than one Create call, so a live creator never loses its claim.
const claimLease = 2 * time.Minute

// ErrOffline is returned by EnsureContact without a Salesforce client.
var ErrOffline = errors.New("dedupe: no Salesforce client (offline)")

// ContactResolution is the outcome of ResolveContact.
type ContactResolution struct {
	ContactID  string
	AccountID  string
	Source     string
	Create     *NewContact // no contact: create this one
	Ambiguous  bool
	Why        string
	Candidates []Candidate
}

type contactRec struct {
	ID        string
	AccountID string
	Name      string
	Emails    []string // Email then the alternate fields
}

func (s *Stage) contactFields() string {
	f := []string{"Id", "AccountId", "Name", "FirstName", "LastName", "Email"}
	return strings.Join(append(f, s.cfg.AlternateEmailFields...), ", ")
}

func (s *Stage) decodeContacts(raw []map[string]any) []contactRec {
	out := make([]contactRec, 0, len(raw))
	for _, m := range raw {
		c := contactRec{ID: str(m["Id"]), AccountID: str(m["AccountId"]), Name: str(m["Name"])}
		if c.Name == "" {
			c.Name = strings.TrimSpace(str(m["FirstName"]) + " " + str(m["LastName"]))
		}
		c.Emails = append(c.Emails, str(m["Email"]))
		for _, f := range s.cfg.AlternateEmailFields {
			c.Emails = append(c.Emails, str(m[f]))
		}
		out = append(out, c)
	}
	return out
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// ResolveContact finds the Contact of a normalised sender address: the
// cache, then Contact.Email and the alternate fields, then the sender's
// domain against Account fields and the display name against that account's
// contacts. It never creates anything: no match gives Create.
// asWritten are further forms of the address to look up (the sender's
// address as written, +tag included), since Salesforce holds what people typed.
func (s *Stage) ResolveContact(ctx context.Context, addr, displayName string, asWritten ...string) (ContactResolution, error) {
	row, ok, err := s.st.DedupeContactByAddress(ctx, addr)
	if err != nil {
		return ContactResolution{}, err
	}
	resolved := ok && row.State != store.DedupeContactPending && row.ContactID != ""
	if resolved && (s.sf == nil || s.now().Sub(row.ResolvedAt) < s.cfg.ContactCache.TTL) {
		return ContactResolution{ContactID: row.ContactID, AccountID: row.AccountID, Source: SourceCache}, nil
	}
	create := s.newContact(addr, displayName, "")
	if s.sf == nil {
		return ContactResolution{Create: create}, nil
	}

	// An expired entry: does the cached contact still have the address?
	if resolved {
		recs, err := s.contactByID(ctx, row.ContactID)
		if err != nil {
			return ContactResolution{}, err
		}
		for _, c := range recs {
			for i, e := range c.Emails {
				if n, err := NormalizeAddress(e, s.cfg.Address); err == nil && n == addr {
					src := SourceEmail
					if i > 0 {
						src = SourceAlternate
					}
					return s.link(ctx, addr, c.ID, c.AccountID, src)
				}
			}
		}
	}

	// Contact.Email and alternate fields. The normalised and the as-written
	// forms are both asked for; matches are then compared normalised.
	forms := []string{addr}
	for _, a := range asWritten {
		if a = strings.ToLower(strings.TrimSpace(a)); a != "" && a != addr {
			forms = append(forms, a)
		}
	}
	found, err := s.contactsByEmail(ctx, addr, forms)
	if err != nil {
		return ContactResolution{}, err
	}
	var matches []Candidate
	for _, c := range found {
		for i, e := range c.Emails {
			if n, err := NormalizeAddress(e, s.cfg.Address); err == nil && n == addr {
				why := "Email"
				if i > 0 {
					why = s.cfg.AlternateEmailFields[i-1]
				}
				matches = append(matches, Candidate{ContactID: c.ID, Name: c.Name, Email: e, AccountID: c.AccountID, Why: "same address in " + why})
				break
			}
		}
	}
	switch {
	case len(matches) == 1:
		src := SourceEmail
		if !strings.HasSuffix(matches[0].Why, " Email") {
			src = SourceAlternate
		}
		return s.link(ctx, addr, matches[0].ContactID, matches[0].AccountID, src)
	case len(matches) > 1:
		return ContactResolution{Ambiguous: true, Candidates: matches,
			Why: fmt.Sprintf("%d contacts have this address; none linked", len(matches))}, nil
	}
	if resolved {
		// The cached contact no longer has this address: forget it.
		if _, err := s.st.DedupeForgetContacts(ctx, nil, nil, []string{addr}); err != nil {
			return ContactResolution{}, err
		}
	}

	// The sender's domain against the accounts, then the name on that account.
	acc, why, err := s.accountByDomain(ctx, Domain(addr))
	if err != nil {
		return ContactResolution{}, err
	}
	if acc == "" {
		return ContactResolution{Create: create, Why: why}, nil
	}
	if create != nil {
		create.AccountID = acc
	}
	want := nameKey(displayName)
	if want == "" {
		return ContactResolution{Create: create, AccountID: acc, Why: "no display name to match on the account"}, nil
	}
	onAccount, err := s.accountContacts(ctx, acc)
	if err != nil {
		return ContactResolution{}, err
	}
	var named []contactRec
	for _, c := range onAccount {
		if nameKey(c.Name) == want {
			named = append(named, c)
		}
	}
	switch {
	case len(named) == 1:
		c := named[0]
		if err := s.recordAlternate(ctx, c, addr); err != nil {
			return ContactResolution{}, err
		}
		return s.link(ctx, addr, c.ID, acc, SourceAccountName)
	case len(named) > 1:
		var cands []Candidate
		for _, c := range named {
			cands = append(cands, Candidate{ContactID: c.ID, Name: c.Name, Email: c.Emails[0], AccountID: acc,
				Why: "same name on the account of the sender's domain"})
		}
		return ContactResolution{Ambiguous: true, AccountID: acc, Candidates: cands,
			Why: fmt.Sprintf("%d contacts named %q on the sender's account; none linked", len(named), displayName)}, nil
	}
	return ContactResolution{Create: create, AccountID: acc}, nil
}

func (s *Stage) link(ctx context.Context, addr, contactID, accountID, source string) (ContactResolution, error) {
	if err := s.st.DedupeLinkContact(ctx, addr, contactID, accountID, source, false, s.now()); err != nil {
		return ContactResolution{}, err
	}
	return ContactResolution{ContactID: contactID, AccountID: accountID, Source: source}, nil
}

// recordAlternate writes the new address into the first empty alternate
// field of a contact matched by name, when configured writable.
func (s *Stage) recordAlternate(ctx context.Context, c contactRec, addr string) error {
	if !s.cfg.AlternateEmailWritable {
		return nil
	}
	for i, f := range s.cfg.AlternateEmailFields {
		if c.Emails[i+1] != "" {
			continue
		}
		if err := s.sf.Update(ctx, "Contact", c.ID, map[string]any{f: addr}); err != nil {
			return fmt.Errorf("dedupe: record new address on contact: %w", err)
		}
		return nil
	}
	return nil
}

// accountByDomain matches a (non free-mail) domain against the configured
// Account fields. why explains a non-match worth telling the agent.
func (s *Stage) accountByDomain(ctx context.Context, domain string) (string, string, error) {
	if domain == "" || len(s.cfg.AccountDomainFields) == 0 || s.freeMail(domain) {
		return "", "", nil
	}
	ids, ok := s.pfAccountsByDomain(domain)
	if !ok {
		// Equality on the forms a Website is written in: no LIKE, so no
		// wildcard escaping, and every literal goes through quote.
		var forms []string
		for _, f := range domainForms(domain) {
			forms = append(forms, s.quote(f))
		}
		var where []string
		for _, f := range s.cfg.AccountDomainFields {
			where = append(where, f+" IN ("+strings.Join(forms, ", ")+")")
		}
		var recs []struct {
			ID string `json:"Id"`
		}
		q := "SELECT Id FROM Account WHERE " + strings.Join(where, " OR ") + " LIMIT 5"
		if err := s.sf.Query(ctx, q, &recs); err != nil {
			return "", "", fmt.Errorf("dedupe: find account by domain: %w", err)
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", "", nil
	case 1:
		return ids[0], "", nil
	}
	return "", fmt.Sprintf("%d accounts match the sender's domain; none chosen", min(len(ids), 5)), nil
}

// contactByID reads one contact (prefetched, or asked for now); none when
// it is gone.
func (s *Stage) contactByID(ctx context.Context, id string) ([]contactRec, error) {
	if c, ok := s.pfContactByID(id); ok {
		if c == nil {
			return nil, nil
		}
		return []contactRec{*c}, nil
	}
	var raw []map[string]any
	q := "SELECT " + s.contactFields() + " FROM Contact WHERE Id = " + s.quote(id) + " LIMIT 1"
	if err := s.sf.Query(ctx, q, &raw); err != nil {
		return nil, fmt.Errorf("dedupe: refresh cached contact: %w", err)
	}
	return s.decodeContacts(raw), nil
}

// contactsByEmail finds the contacts with one of forms (lower-case
// addresses as normalised and as written) in Email or an alternate field.
// A prefetched answer holds only the contacts having addr, which is all
// ResolveContact keeps.
func (s *Stage) contactsByEmail(ctx context.Context, addr string, forms []string) ([]contactRec, error) {
	if recs, ok := s.pfContactsFor(addr, forms); ok {
		return recs, nil
	}
	var lits []string
	for _, f := range forms {
		lits = append(lits, s.quote(f))
	}
	var where []string
	for _, f := range append([]string{"Email"}, s.cfg.AlternateEmailFields...) {
		where = append(where, f+" IN ("+strings.Join(lits, ", ")+")")
	}
	var raw []map[string]any
	q := "SELECT " + s.contactFields() + " FROM Contact WHERE " + strings.Join(where, " OR ") + " LIMIT 20"
	if err := s.sf.Query(ctx, q, &raw); err != nil {
		return nil, fmt.Errorf("dedupe: find contact by email: %w", err)
	}
	return s.decodeContacts(raw), nil
}

// accountContacts lists an account's contacts (for a match by name).
func (s *Stage) accountContacts(ctx context.Context, acc string) ([]contactRec, error) {
	if recs, ok := s.pfAccountContacts(acc); ok {
		return recs, nil
	}
	var raw []map[string]any
	q := "SELECT " + s.contactFields() + " FROM Contact WHERE AccountId = " + s.quote(acc) + " LIMIT 200"
	if err := s.sf.Query(ctx, q, &raw); err != nil {
		return nil, fmt.Errorf("dedupe: list account contacts: %w", err)
	}
	return s.decodeContacts(raw), nil
}

func (s *Stage) freeMail(domain string) bool {
	for _, d := range s.cfg.FreeMailDomains {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}

// newContact proposes a Contact from the display name ("Doe, John",
// "John Doe") or, lacking one, the address's local part.
func (s *Stage) newContact(addr, displayName, accountID string) *NewContact {
	if s.cfg.CreateContacts != nil && !*s.cfg.CreateContacts {
		return nil
	}
	nc := &NewContact{Email: addr, AccountID: accountID}
	name := strings.Join(strings.Fields(strings.Trim(displayName, `"' `)), " ")
	if strings.Contains(name, "@") {
		name = ""
	}
	switch {
	case strings.Contains(name, ","):
		last, first, _ := strings.Cut(name, ",")
		nc.FirstName, nc.LastName = strings.TrimSpace(first), strings.TrimSpace(last)
	case strings.Contains(name, " "):
		i := strings.LastIndexByte(name, ' ')
		nc.FirstName, nc.LastName = name[:i], name[i+1:]
	default:
		nc.LastName = name
	}
	if nc.LastName == "" {
		nc.LastName = addr[:strings.LastIndexByte(addr, '@')]
	}
	return nc
}

var foldAccents = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

// nameKey compares person names: case, accents, punctuation and "Last,
// First" order do not matter.
func nameKey(name string) string {
	name = strings.TrimSpace(strings.Trim(name, `"'`))
	if last, first, ok := strings.Cut(name, ","); ok {
		name = first + " " + last
	}
	folded, _, err := transform.String(foldAccents, name)
	if err != nil {
		folded = name
	}
	var b strings.Builder
	for _, w := range strings.FieldsFunc(strings.ToLower(folded), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

// EnsureContact returns the Contact of nc.Email, creating it when none
// exists. However many callers ask at once, and across crashes, at most one
// Contact is created per normalised address: the creator holds the
// address's claim row in SQLite; the others wait for its result. A creator
// that crashed is detected by its lease expiring; the next one first asks
// Salesforce for the address (the crashed call may have succeeded), and the
// org's duplicate rules run on the create (DUPLICATES_DETECTED → the match).
func (s *Stage) EnsureContact(ctx context.Context, nc NewContact) (string, error) {
	addr, err := NormalizeAddress(nc.Email, s.cfg.Address)
	if err != nil {
		return "", err
	}
	tok := make([]byte, 12)
	if _, err := rand.Read(tok); err != nil {
		return "", err
	}
	token := hex.EncodeToString(tok)
	wait := 2 * time.Millisecond
	for {
		row, owned, err := s.st.DedupeClaimContact(ctx, addr, token, claimLease, s.now())
		if err != nil {
			return "", err
		}
		if row.State != store.DedupeContactPending && row.ContactID != "" {
			return row.ContactID, nil
		}
		if owned {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("dedupe: waiting for another creator of the contact: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
	id, created, source, err := s.createContact(ctx, addr, nc)
	if err != nil {
		if rerr := s.st.DedupeReleaseContact(context.WithoutCancel(ctx), addr, token); rerr != nil {
			s.log.Warn("could not release contact claim", "err", rerr)
		}
		return "", err
	}
	ok, err := s.st.DedupeFinishContact(ctx, addr, token, id, nc.AccountID, source, created, s.now())
	if err != nil {
		return "", err
	}
	if !ok {
		s.log.Warn("contact claim expired before the contact was recorded", "contact", id)
	}
	return id, nil
}

func (s *Stage) createContact(ctx context.Context, addr string, nc NewContact) (id string, created bool, source string, err error) {
	if s.sf == nil {
		return "", false, "", ErrOffline
	}
	var recs []struct {
		ID string `json:"Id"`
	}
	if err := s.sf.Query(ctx, "SELECT Id FROM Contact WHERE Email = "+s.quote(addr)+" ORDER BY CreatedDate LIMIT 1", &recs); err != nil {
		return "", false, "", fmt.Errorf("dedupe: look for contact before creating: %w", err)
	}
	if len(recs) == 1 {
		return recs[0].ID, false, SourceEmail, nil
	}
	fields := map[string]any{"Email": addr, "LastName": nc.LastName}
	if nc.FirstName != "" {
		fields["FirstName"] = nc.FirstName
	}
	if nc.AccountID != "" {
		fields["AccountId"] = nc.AccountID
	}
	// allowSave=false: the org's duplicate rules run and block a duplicate.
	id, err = s.sf.Create(ctx, "Contact", fields, salesforce.AllowDuplicateSave(false))
	if err == nil {
		return id, true, SourceCreated, nil
	}
	if ids, dup := isDuplicatesDetected(err); dup && len(ids) > 0 {
		return ids[0], false, SourceDuplicateRule, nil
	}
	return "", false, "", fmt.Errorf("dedupe: create contact: %w", err)
}

// ClaimContact is EnsureContact's first half for callers that create the
// Contact themselves (the cases stage, inside its composite request). When
// the address already has a contact, existing is its id. Otherwise owned
// says whether the caller may create it now; it must then call
// FinishContact (or ReleaseContact on failure) with token. Not owned and no
// contact: another worker is creating it; retry later (ErrContactPending).
func (s *Stage) ClaimContact(ctx context.Context, email string) (existing, token string, owned bool, err error) {
	addr, err := NormalizeAddress(email, s.cfg.Address)
	if err != nil {
		return "", "", false, err
	}
	tok := make([]byte, 12)
	if _, err := rand.Read(tok); err != nil {
		return "", "", false, err
	}
	token = hex.EncodeToString(tok)
	row, owned, err := s.st.DedupeClaimContact(ctx, addr, token, claimLease, s.now())
	if err != nil {
		return "", "", false, err
	}
	if row.State != store.DedupeContactPending && row.ContactID != "" {
		return row.ContactID, "", false, nil
	}
	if !owned {
		return "", "", false, ErrContactPending
	}
	return "", token, true, nil
}

// ErrContactPending: another worker holds the claim to create this contact.
// It is temporary: retry after a short wait.
var ErrContactPending = &pendingError{}

type pendingError struct{}

func (*pendingError) Error() string   { return "dedupe: another worker is creating this contact" }
func (*pendingError) Temporary() bool { return true }
func (*pendingError) RetryAfter() time.Duration {
	return 5 * time.Second
}

// FinishContact records the contact created (or matched by a duplicate
// rule) under a claim from ClaimContact.
func (s *Stage) FinishContact(ctx context.Context, email, token, contactID, accountID string, created bool) error {
	addr, err := NormalizeAddress(email, s.cfg.Address)
	if err != nil {
		return err
	}
	src := SourceDuplicateRule
	if created {
		src = SourceCreated
	}
	ok, err := s.st.DedupeFinishContact(ctx, addr, token, contactID, accountID, src, created, s.now())
	if err != nil {
		return err
	}
	if !ok {
		// The claim expired and was taken over; record the link anyway.
		return s.st.DedupeLinkContact(ctx, addr, contactID, accountID, src, created, s.now())
	}
	return nil
}

// ReleaseContact gives up a claim whose create failed.
func (s *Stage) ReleaseContact(ctx context.Context, email, token string) error {
	addr, err := NormalizeAddress(email, s.cfg.Address)
	if err != nil {
		return err
	}
	return s.st.DedupeReleaseContact(ctx, addr, token)
}

// RecordContact records a contact the cases stage created (or found through
// a duplicate rule) in its composite request.
func (s *Stage) RecordContact(ctx context.Context, addr, contactID, accountID string, created bool) error {
	n, err := NormalizeAddress(addr, s.cfg.Address)
	if err != nil {
		return err
	}
	src := SourceDuplicateRule
	if created {
		src = SourceCreated
	}
	return s.st.DedupeLinkContact(ctx, n, contactID, accountID, src, created, s.now())
}

// maybePoll runs PollChanges when the poll interval has passed; one caller
// polls while the others go on.
func (s *Stage) maybePoll(ctx context.Context) {
	if s.sf == nil || s.cfg.ContactCache.PollInterval <= 0 || !s.pollMu.TryLock() {
		return
	}
	defer s.pollMu.Unlock()
	if now := s.now(); now.Sub(s.lastPoll) >= s.cfg.ContactCache.PollInterval {
		s.lastPoll = now
		if err := s.pollChanges(ctx); err != nil {
			s.log.Warn("contact cache poll failed; entries still expire by TTL", "err", err)
		}
	}
}

// PollChanges drops cached contacts that Salesforce changed since the last
// poll (Contact and Account SystemModstamp).
func (s *Stage) PollChanges(ctx context.Context) error {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	s.lastPoll = s.now()
	return s.pollChanges(ctx)
}

func (s *Stage) pollChanges(ctx context.Context) error {
	for _, obj := range []string{"Contact", "Account"} {
		name := strings.ToLower(obj) + "_modstamp"
		mark, err := s.st.DedupeSyncValue(ctx, name)
		if err != nil {
			return err
		}
		if mark == "" {
			// Never polled and nothing cached (a new database): there is
			// nothing to drop, so the calls are saved. The next poll looks
			// back a whole TTL, so no change in between is missed.
			if idle, err := s.nothingCached(ctx); err != nil {
				return err
			} else if idle {
				continue
			}
		}
		since := parseSFTime(mark)
		if since.IsZero() {
			since = s.now().Add(-s.cfg.ContactCache.TTL)
		}
		fields := "Id, SystemModstamp"
		if obj == "Contact" {
			fields += ", Email"
		}
		var recs []map[string]any
		// >= with second precision: a change in the watermark's second is seen twice, never missed.
		q := "SELECT " + fields + " FROM " + obj + " WHERE SystemModstamp >= " + since.UTC().Format("2006-01-02T15:04:05Z") +
			" ORDER BY SystemModstamp LIMIT 2000"
		if err := s.sf.Query(ctx, q, &recs); err != nil {
			return fmt.Errorf("dedupe: poll %s changes: %w", obj, err)
		}
		var ids, addrs []string
		latest := since
		for _, r := range recs {
			ids = append(ids, str(r["Id"]))
			if n, err := NormalizeAddress(str(r["Email"]), s.cfg.Address); err == nil {
				addrs = append(addrs, n)
			}
			if t := parseSFTime(str(r["SystemModstamp"])); t.After(latest) {
				latest = t
			}
		}
		var n int
		if obj == "Contact" {
			if len(recs) > 0 {
				s.pf.forgetContacts(ids, addrs)
			}
			n, err = s.st.DedupeForgetContacts(ctx, ids, nil, addrs)
		} else {
			if len(recs) > 0 {
				s.pf.forgetAccounts()
			}
			n, err = s.st.DedupeForgetContacts(ctx, nil, ids, nil)
		}
		if err != nil {
			return err
		}
		if n > 0 {
			s.log.Info("dropped changed contacts from the cache", "object", obj, "entries", n)
		}
		if err := s.st.DedupeSetSyncValue(ctx, name, latest.UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
	}
	return nil
}

// nothingCached: no contact link in the database and no answer in memory.
func (s *Stage) nothingCached(ctx context.Context) (bool, error) {
	if has, err := s.st.DedupeHasContacts(ctx); err != nil || has {
		return false, err
	}
	s.ctxMu.Lock()
	n := len(s.ctxCache)
	s.ctxMu.Unlock()
	return n == 0 && s.pf.empty(), nil
}

// accountContext reads layer-1 context: only the configured Account fields,
// never a sensitive one, plus open-case count and recent case subjects.
// Context is kept in memory for contextTTL: a burst of mail from one account
// costs three API calls, not three per message.
const contextTTL = 5 * time.Minute

type cachedContext struct {
	ac *AccountContext
	at time.Time
}

func (s *Stage) accountContext(ctx context.Context, accountID, contactID string) (*AccountContext, error) {
	if s.sf == nil || !*s.cfg.Context.Enabled || (accountID == "" && contactID == "") {
		return nil, nil
	}
	key := ctxKey(accountID, contactID)
	s.ctxMu.Lock()
	c, ok := s.ctxCache[key]
	s.ctxMu.Unlock()
	if ok && s.now().Sub(c.at) < contextTTL {
		return c.ac.clone(), nil
	}
	ac, err := s.readAccountContext(ctx, accountID, contactID)
	if err != nil {
		return nil, err
	}
	s.putContext(key, ac, s.now())
	return ac.clone(), nil
}

// ctxKey is what a context depends on: the account, or the contact when
// there is no account.
func ctxKey(accountID, contactID string) string {
	if accountID != "" {
		return "a/" + accountID
	}
	return "c/" + contactID
}

func (s *Stage) ctxFresh(key string) bool {
	s.ctxMu.Lock()
	defer s.ctxMu.Unlock()
	c, ok := s.ctxCache[key]
	return ok && s.now().Sub(c.at) < contextTTL
}

func (s *Stage) putContext(key string, ac *AccountContext, at time.Time) {
	s.ctxMu.Lock()
	defer s.ctxMu.Unlock()
	if len(s.ctxCache) > 10000 {
		clear(s.ctxCache)
	}
	s.ctxCache[key] = cachedContext{ac: ac, at: at}
}

func (a *AccountContext) clone() *AccountContext {
	cp := *a
	cp.RecentSubjects = slices.Clone(a.RecentSubjects)
	return &cp
}

func (s *Stage) readAccountContext(ctx context.Context, accountID, contactID string) (*AccountContext, error) {
	ac := &AccountContext{}
	cfg := s.cfg.Context
	if accountID != "" {
		fields := []string{"Id"}
		for _, f := range []string{cfg.AccountNameField, cfg.TierField} {
			if f != "" && !s.sensitive(f) {
				fields = append(fields, f)
			}
		}
		var recs []map[string]any
		q := "SELECT " + strings.Join(fields, ", ") + " FROM Account WHERE Id = " + s.quote(accountID) + " LIMIT 1"
		if err := s.sf.Query(ctx, q, &recs); err != nil {
			return nil, fmt.Errorf("dedupe: read account context: %w", err)
		}
		if len(recs) == 1 {
			if !s.sensitive(cfg.AccountNameField) {
				ac.AccountName = fmt.Sprint(orEmpty(recs[0][cfg.AccountNameField]))
			}
			if cfg.TierField != "" && !s.sensitive(cfg.TierField) {
				ac.Tier = fmt.Sprint(orEmpty(recs[0][cfg.TierField]))
			}
		}
	}
	filter := "AccountId = " + s.quote(accountID)
	if accountID == "" {
		filter = "ContactId = " + s.quote(contactID)
	}
	var open []struct {
		ID string `json:"Id"`
	}
	if err := s.sf.Query(ctx, "SELECT Id FROM Case WHERE "+filter+" AND IsClosed = false LIMIT 200", &open); err != nil {
		return nil, fmt.Errorf("dedupe: count open cases: %w", err)
	}
	ac.OpenCases = len(open)
	if n := *cfg.RecentCases; n > 0 && !s.sensitive("Subject") {
		var recent []struct {
			Subject string `json:"Subject"`
		}
		q := fmt.Sprintf("SELECT Subject FROM Case WHERE %s ORDER BY CreatedDate DESC LIMIT %d", filter, n)
		if err := s.sf.Query(ctx, q, &recent); err != nil {
			return nil, fmt.Errorf("dedupe: read recent cases: %w", err)
		}
		for _, r := range recent {
			ac.RecentSubjects = append(ac.RecentSubjects, r.Subject)
		}
	}
	return ac, nil
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

func (s *Stage) sensitive(field string) bool {
	for _, f := range s.cfg.Context.SensitiveFields {
		if strings.EqualFold(f, field) {
			return true
		}
	}
	return false
}
