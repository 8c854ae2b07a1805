package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// This file holds the dedupe stage's tables (migration 0020_dedupe.sql).

// DedupeCopy is an earlier recorded message with the same Message-ID.
type DedupeCopy struct {
	ID      int64
	From    string
	Subject string
	SentAt  time.Time
	Parsed  []byte // JSON of the parsed form
}

// DedupeEarlierCopies lists messages recorded before id with the same
// Message-ID header (other bytes: another folder, mailbox or a re-fetch), oldest first.
func (s *Store) DedupeEarlierCopies(ctx context.Context, messageID string, id int64) ([]DedupeCopy, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT m.id, m.from_addr, m.subject, m.sent_at, p.data
		FROM messages m LEFT JOIN message_parsed p ON p.message_id = m.id
		WHERE m.message_id=? AND m.id<? ORDER BY m.id LIMIT 20`, messageID, id)
	if err != nil {
		return nil, fmt.Errorf("store: earlier copies: %w", classify(err))
	}
	defer rows.Close()
	var out []DedupeCopy
	for rows.Next() {
		var c DedupeCopy
		var sent sql.NullInt64
		if err := rows.Scan(&c.ID, &c.From, &c.Subject, &sent, &c.Parsed); err != nil {
			return nil, err
		}
		if sent.Valid {
			c.SentAt = time.UnixMilli(sent.Int64).UTC()
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DedupeThread is one thread of the dedupe index.
type DedupeThread struct {
	Key           string
	RootMessageID string
	CaseID        string
	ParentCaseID  string
	SubjectNorm   string
}

const dedupeThreadCols = `thread_key, root_message_id, case_id, parent_case_id, subject_norm`

func scanDedupeThread(r scanner) (DedupeThread, bool, error) {
	var t DedupeThread
	err := r.Scan(&t.Key, &t.RootMessageID, &t.CaseID, &t.ParentCaseID, &t.SubjectNorm)
	if errors.Is(err, sql.ErrNoRows) {
		return DedupeThread{}, false, nil
	}
	if err != nil {
		return DedupeThread{}, false, fmt.Errorf("store: dedupe thread: %w", classify(err))
	}
	return t, true, nil
}

// DedupeThreadByKey loads a thread.
func (s *Store) DedupeThreadByKey(ctx context.Context, key string) (DedupeThread, bool, error) {
	return scanDedupeThread(s.reader.QueryRowContext(ctx, `SELECT `+dedupeThreadCols+` FROM dedupe_threads WHERE thread_key=?`, key))
}

// DedupeThreadByCase finds the thread of a Salesforce case (the newest when several).
func (s *Store) DedupeThreadByCase(ctx context.Context, caseID string) (DedupeThread, bool, error) {
	return scanDedupeThread(s.reader.QueryRowContext(ctx, `SELECT `+dedupeThreadCols+` FROM dedupe_threads
		WHERE case_id=? ORDER BY created_at DESC LIMIT 1`, caseID))
}

// DedupeThreadByMessageIDs returns the thread of the first of ids (in the
// given order) that is indexed, and which id matched.
func (s *Store) DedupeThreadByMessageIDs(ctx context.Context, ids []string) (DedupeThread, string, bool, error) {
	for _, id := range ids {
		if id == "" {
			continue
		}
		t, ok, err := scanDedupeThread(s.reader.QueryRowContext(ctx, `SELECT t.thread_key, t.root_message_id, t.case_id,
			t.parent_case_id, t.subject_norm FROM dedupe_message_ids m JOIN dedupe_threads t ON t.thread_key = m.thread_key
			WHERE m.message_id=?`, id))
		if err != nil || ok {
			return t, id, ok, err
		}
	}
	return DedupeThread{}, "", false, nil
}

// DedupeThreadBySubject finds the newest thread where sender sent a message
// with this normalised subject since the given time (excluding message row except).
func (s *Store) DedupeThreadBySubject(ctx context.Context, sender, subjectNorm string, since time.Time, except int64) (string, bool, error) {
	var key string
	err := s.reader.QueryRowContext(ctx, `SELECT thread_key FROM dedupe_message_ids
		WHERE sender=? AND subject_norm=? AND seen_at>=? AND msg_row IS NOT NULL AND msg_row<>?
		ORDER BY seen_at DESC LIMIT 1`, sender, subjectNorm, since.UnixMilli(), except).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: dedupe thread by subject: %w", classify(err))
	}
	return key, true, nil
}

// DedupeIsParticipant reports whether addr took part in the thread.
func (s *Store) DedupeIsParticipant(ctx context.Context, threadKey, addr string) (bool, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM dedupe_participants WHERE thread_key=? AND address=?`,
		threadKey, addr).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: dedupe participant: %w", classify(err))
	}
	return n > 0, nil
}

// DedupeIndexEntry is one message's place in the thread index.
type DedupeIndexEntry struct {
	ThreadKey     string
	RootMessageID string
	CaseID        string // known case of the thread (kept if one is already recorded)
	ParentCaseID  string
	SubjectNorm   string
	MessageID     string
	MsgRow        int64
	Sender        string
	At            time.Time
	// References are Message-IDs the message points to; indexed to the thread
	// when not known yet, so later replies quoting only them still match.
	References   []string
	Participants []string
}

// DedupeIndex records a message in the thread index. It is idempotent: a
// retried message writes the same rows again.
func (s *Store) DedupeIndex(ctx context.Context, e DedupeIndexEntry) error {
	at := e.At.UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		if err := upsertDedupeThread(ctx, tx, e.ThreadKey, e.RootMessageID, e.CaseID, e.ParentCaseID, e.SubjectNorm, at); err != nil {
			return err
		}
		if e.MessageID != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dedupe_message_ids (message_id, thread_key, msg_row, sender, subject_norm, seen_at)
				VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (message_id) DO UPDATE SET thread_key=excluded.thread_key, msg_row=excluded.msg_row,
					sender=excluded.sender, subject_norm=excluded.subject_norm, seen_at=excluded.seen_at`,
				e.MessageID, e.ThreadKey, nullRow(e.MsgRow), e.Sender, e.SubjectNorm, at); err != nil {
				return fmt.Errorf("index message id: %w", err)
			}
		}
		for _, r := range e.References {
			if r == "" || r == e.MessageID {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO dedupe_message_ids (message_id, thread_key, seen_at)
				VALUES (?, ?, ?) ON CONFLICT (message_id) DO NOTHING`, r, e.ThreadKey, at); err != nil {
				return fmt.Errorf("index reference: %w", err)
			}
		}
		return insertParticipants(ctx, tx, e.ThreadKey, e.Participants)
	})
	if err != nil {
		return fmt.Errorf("store: dedupe index %s: %w", e.MessageID, err)
	}
	return nil
}

func nullRow(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func upsertDedupeThread(ctx context.Context, tx *sql.Tx, key, root, caseID, parent, subj string, at int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO dedupe_threads (thread_key, root_message_id, case_id, parent_case_id, subject_norm, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (thread_key) DO UPDATE SET
			case_id = CASE WHEN dedupe_threads.case_id = '' THEN excluded.case_id ELSE dedupe_threads.case_id END,
			parent_case_id = CASE WHEN dedupe_threads.parent_case_id = '' THEN excluded.parent_case_id ELSE dedupe_threads.parent_case_id END,
			root_message_id = CASE WHEN dedupe_threads.root_message_id = '' THEN excluded.root_message_id ELSE dedupe_threads.root_message_id END,
			subject_norm = CASE WHEN dedupe_threads.subject_norm = '' THEN excluded.subject_norm ELSE dedupe_threads.subject_norm END,
			updated_at = excluded.updated_at`,
		key, root, caseID, parent, subj, at, at)
	if err != nil {
		return fmt.Errorf("upsert thread: %w", err)
	}
	return nil
}

func insertParticipants(ctx context.Context, tx *sql.Tx, key string, addrs []string) error {
	for _, a := range addrs {
		if a == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO dedupe_participants (thread_key, address) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, key, a); err != nil {
			return fmt.Errorf("add participant: %w", err)
		}
	}
	return nil
}

// DedupeRecordCase records the Salesforce case of a thread (replacing an
// earlier one: the cases stage knows best) and its participants.
func (s *Store) DedupeRecordCase(ctx context.Context, threadKey, caseID string, participants []string, at time.Time) error {
	err := s.Write(ctx, func(tx *sql.Tx) error {
		if err := upsertDedupeThread(ctx, tx, threadKey, "", caseID, "", "", at.UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dedupe_threads SET case_id=? WHERE thread_key=?`, caseID, threadKey); err != nil {
			return err
		}
		return insertParticipants(ctx, tx, threadKey, participants)
	})
	if err != nil {
		return fmt.Errorf("store: dedupe record case for thread %s: %w", threadKey, err)
	}
	return nil
}

// Contact row states.
const (
	DedupeContactPending = "pending" // a claim to create the contact
	DedupeContactLinked  = "linked"  // found in Salesforce
	DedupeContactCreated = "created" // created by this app
)

// DedupeContact is the address → Contact row.
type DedupeContact struct {
	Address      string
	State        string
	ContactID    string
	AccountID    string
	Source       string
	ClaimToken   string
	ClaimedUntil time.Time
	ResolvedAt   time.Time
}

// DedupeContactByAddress loads an address's row.
func (s *Store) DedupeContactByAddress(ctx context.Context, addr string) (DedupeContact, bool, error) {
	return scanDedupeContact(s.reader.QueryRowContext(ctx, `SELECT address, state, contact_id, account_id, source,
		claim_token, claimed_until, resolved_at FROM dedupe_contacts WHERE address=?`, addr))
}

func scanDedupeContact(r scanner) (DedupeContact, bool, error) {
	var c DedupeContact
	var until, resolved int64
	err := r.Scan(&c.Address, &c.State, &c.ContactID, &c.AccountID, &c.Source, &c.ClaimToken, &until, &resolved)
	if errors.Is(err, sql.ErrNoRows) {
		return DedupeContact{}, false, nil
	}
	if err != nil {
		return DedupeContact{}, false, fmt.Errorf("store: dedupe contact: %w", classify(err))
	}
	c.ClaimedUntil = time.UnixMilli(until).UTC()
	c.ResolvedAt = time.UnixMilli(resolved).UTC()
	return c, true, nil
}

// DedupeLinkContact records that addr belongs to contactID (found or created).
// A row this app created keeps its 'created' mark when the id is the same.
func (s *Store) DedupeLinkContact(ctx context.Context, addr, contactID, accountID, source string, created bool, at time.Time) error {
	state := DedupeContactLinked
	if created {
		state = DedupeContactCreated
	}
	err := s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO dedupe_contacts (address, state, contact_id, account_id, source, resolved_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (address) DO UPDATE SET
				state = CASE WHEN dedupe_contacts.state='created' AND dedupe_contacts.contact_id=excluded.contact_id THEN 'created' ELSE excluded.state END,
				contact_id=excluded.contact_id, account_id=excluded.account_id, source=excluded.source,
				claim_token='', claimed_until=0, resolved_at=excluded.resolved_at, updated_at=excluded.updated_at`,
			addr, state, contactID, accountID, source, at.UnixMilli(), at.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: dedupe link contact: %w", err)
	}
	return nil
}

// DedupeClaimContact takes the right to create the contact of addr: it
// succeeds (owned) when no row exists or the previous claim has expired. A
// linked or created row is returned as it is (not owned). One statement
// decides, so concurrent callers cannot both win.
func (s *Store) DedupeClaimContact(ctx context.Context, addr, token string, lease time.Duration, at time.Time) (DedupeContact, bool, error) {
	var row DedupeContact
	var found bool
	err := s.Write(ctx, func(tx *sql.Tx) error {
		now := at.UnixMilli()
		if _, err := tx.ExecContext(ctx, `INSERT INTO dedupe_contacts (address, state, claim_token, claimed_until, resolved_at, updated_at)
			VALUES (?, 'pending', ?, ?, ?, ?)
			ON CONFLICT (address) DO UPDATE SET claim_token=excluded.claim_token, claimed_until=excluded.claimed_until,
				updated_at=excluded.updated_at
			WHERE dedupe_contacts.state='pending' AND dedupe_contacts.claimed_until <= ?`,
			addr, token, at.Add(lease).UnixMilli(), now, now, now); err != nil {
			return err
		}
		var err error
		row, found, err = scanDedupeContact(tx.QueryRowContext(ctx, `SELECT address, state, contact_id, account_id, source,
			claim_token, claimed_until, resolved_at FROM dedupe_contacts WHERE address=?`, addr))
		return err
	})
	if err != nil {
		return DedupeContact{}, false, fmt.Errorf("store: dedupe claim contact: %w", err)
	}
	if !found {
		return DedupeContact{}, false, fmt.Errorf("store: dedupe claim contact: row vanished")
	}
	return row, row.State == DedupeContactPending && row.ClaimToken == token, nil
}

// DedupeFinishContact turns the caller's claim into a link. It reports false
// when the claim was lost (expired and taken by someone else).
func (s *Store) DedupeFinishContact(ctx context.Context, addr, token, contactID, accountID, source string, created bool, at time.Time) (bool, error) {
	state := DedupeContactLinked
	if created {
		state = DedupeContactCreated
	}
	var ok bool
	err := s.Write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE dedupe_contacts SET state=?, contact_id=?, account_id=?, source=?,
			claim_token='', claimed_until=0, resolved_at=?, updated_at=? WHERE address=? AND state='pending' AND claim_token=?`,
			state, contactID, accountID, source, at.UnixMilli(), at.UnixMilli(), addr, token)
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		ok = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: dedupe finish contact: %w", err)
	}
	return ok, nil
}

// DedupeReleaseContact drops the caller's unfinished claim.
func (s *Store) DedupeReleaseContact(ctx context.Context, addr, token string) error {
	err := s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM dedupe_contacts WHERE address=? AND state='pending' AND claim_token=?`, addr, token)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: dedupe release contact: %w", err)
	}
	return nil
}

// DedupeForgetContacts drops resolved rows (never live claims) of the given
// contacts, accounts or addresses, so they are resolved again. It returns
// how many rows went.
func (s *Store) DedupeForgetContacts(ctx context.Context, contactIDs, accountIDs, addrs []string) (int, error) {
	var n int64
	err := s.Write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, set := range []struct {
			col  string
			vals []string
		}{{"contact_id", contactIDs}, {"account_id", accountIDs}, {"address", addrs}} {
			for start := 0; start < len(set.vals); start += 200 {
				chunk := set.vals[start:min(start+200, len(set.vals))]
				in, args := inList(chunk)
				r, err := tx.ExecContext(ctx, `DELETE FROM dedupe_contacts WHERE state<>'pending' AND `+set.col+` IN `+in, args...)
				if err != nil {
					return err
				}
				k, _ := r.RowsAffected()
				n += k
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: dedupe forget contacts: %w", err)
	}
	return int(n), nil
}

// DedupeSyncValue reads a poll watermark ("" when unset).
func (s *Store) DedupeSyncValue(ctx context.Context, name string) (string, error) {
	var v string
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM dedupe_sync WHERE name=?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: dedupe sync %s: %w", name, classify(err))
	}
	return v, nil
}

// DedupeSetSyncValue writes a poll watermark.
func (s *Store) DedupeSetSyncValue(ctx context.Context, name, value string) error {
	err := s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO dedupe_sync (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value=excluded.value`, name, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: dedupe set sync %s: %w", name, err)
	}
	return nil
}

// DedupeLoopVerdict is the loop breaker's answer for one message.
type DedupeLoopVerdict struct {
	Blocked bool // the pair is tripped: open no case
	Tripped bool // this message tripped it (the alert was recorded)
	Resumed bool // the pair had been tripped and was quiet long enough
	Count   int  // messages of the pair within the window, this one included
}

// DedupeLoopHit counts a message for (sender, subject) and applies the
// breaker: more than max within window trips it (one loop_tripped event);
// a tripped pair stays blocked until no message came for quiet. Counting is
// keyed by message row, so a retried message is counted once.
func (s *Store) DedupeLoopHit(ctx context.Context, sender, subject string, msgRow int64, at time.Time,
	window, quiet time.Duration, max int) (DedupeLoopVerdict, error) {
	var v DedupeLoopVerdict
	now := at.UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		v = DedupeLoopVerdict{}
		var blocked bool
		var last int64
		err := tx.QueryRowContext(ctx, `SELECT blocked, last_at FROM dedupe_loops WHERE sender=? AND subject=?`,
			sender, subject).Scan(&blocked, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if blocked {
			if now-last < quiet.Milliseconds() {
				v.Blocked = true
				_, err := tx.ExecContext(ctx, `UPDATE dedupe_loops SET last_at=max(last_at, ?) WHERE sender=? AND subject=?`,
					now, sender, subject)
				return err
			}
			v.Resumed = true
			if _, err := tx.ExecContext(ctx, `UPDATE dedupe_loops SET blocked=0, last_at=? WHERE sender=? AND subject=?`,
				now, sender, subject); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM dedupe_loop_hits WHERE sender=? AND subject=?`, sender, subject); err != nil {
				return err
			}
			if err := s.appendEvent(ctx, tx, Event{MessageID: msgRow, At: at, Stage: "dedupe", Kind: "loop_resumed",
				Detail: fmt.Sprintf("quiet for %s", quiet)}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO dedupe_loop_hits (sender, subject, msg_row, at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, sender, subject, msgRow, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dedupe_loop_hits WHERE sender=? AND subject=? AND at<=?`,
			sender, subject, now-window.Milliseconds()); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM dedupe_loop_hits WHERE sender=? AND subject=?`,
			sender, subject).Scan(&v.Count); err != nil {
			return err
		}
		if v.Count <= max {
			return nil
		}
		v.Blocked, v.Tripped = true, true
		if _, err := tx.ExecContext(ctx, `INSERT INTO dedupe_loops (sender, subject, tripped_at, last_at, blocked) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (sender, subject) DO UPDATE SET tripped_at=excluded.tripped_at, last_at=excluded.last_at, blocked=1`,
			sender, subject, now, now); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, Event{MessageID: msgRow, At: at, Stage: "dedupe", Kind: "loop_tripped",
			Detail: fmt.Sprintf("%d messages from one sender with one subject within %s; no cases until quiet for %s",
				v.Count, window, quiet)})
	})
	if err != nil {
		return DedupeLoopVerdict{}, fmt.Errorf("store: dedupe loop breaker: %w", err)
	}
	return v, nil
}

// DedupeParsedByMessageID returns the parsed form of the earliest recorded
// message with this Message-ID header (for replies that arrive before their
// parent has been through dedupe).
func (s *Store) DedupeParsedByMessageID(ctx context.Context, messageID string) ([]byte, bool, error) {
	var b []byte
	err := s.reader.QueryRowContext(ctx, `SELECT p.data FROM messages m JOIN message_parsed p ON p.message_id = m.id
		WHERE m.message_id=? ORDER BY m.id LIMIT 1`, messageID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: parsed by message id: %w", classify(err))
	}
	return b, true, nil
}

// DedupeLookaheadIDs lists up to limit messages waiting for dedupe, in the
// order Claim takes them (leased ones included: they are being worked on
// and may be retried). It only reads, so a batch prefetch can see what
// comes next without taking it.
func (s *Store) DedupeLookaheadIDs(ctx context.Context, limit int) ([]int64, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id FROM messages WHERE state=? ORDER BY next_attempt_at, id LIMIT ?`,
		StateReceived, limit)
	if err != nil {
		return nil, fmt.Errorf("store: dedupe lookahead: %w", classify(err))
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: dedupe lookahead: %w", classify(err))
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DedupeMessages loads the given messages (those that exist), in id order.
func (s *Store) DedupeMessages(ctx context.Context, ids []int64) ([]Message, error) {
	out, err := s.messagesByID(ctx, slices.Sorted(slices.Values(ids)))
	if err != nil {
		return nil, fmt.Errorf("store: dedupe messages: %w", err)
	}
	return out, nil
}

// DedupeKnownMessageIDs reports which of ids (cleaned Message-IDs) are in
// the thread index and which are Message-IDs of recorded messages.
func (s *Store) DedupeKnownMessageIDs(ctx context.Context, ids []string) (indexed, recorded map[string]bool, err error) {
	indexed, recorded = map[string]bool{}, map[string]bool{}
	for start := 0; start < len(ids); start += 200 {
		chunk := ids[start:min(start+200, len(ids))]
		in, args := inList(chunk)
		for _, q := range []struct {
			sql string
			set map[string]bool
		}{
			{`SELECT message_id FROM dedupe_message_ids WHERE message_id IN ` + in, indexed},
			{`SELECT DISTINCT m.message_id FROM messages m JOIN message_parsed p ON p.message_id = m.id WHERE m.message_id IN ` + in, recorded},
		} {
			rows, err := s.reader.QueryContext(ctx, q.sql, args...)
			if err != nil {
				return nil, nil, fmt.Errorf("store: dedupe known message ids: %w", classify(err))
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return nil, nil, fmt.Errorf("store: dedupe known message ids: %w", classify(err))
				}
				q.set[id] = true
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("store: dedupe known message ids: %w", classify(err))
			}
		}
	}
	return indexed, recorded, nil
}

// DedupeHasContacts reports whether any address → Contact link is cached.
func (s *Store) DedupeHasContacts(ctx context.Context) (bool, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM dedupe_contacts WHERE state<>'pending')`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: dedupe has contacts: %w", classify(err))
	}
	return n == 1, nil
}
