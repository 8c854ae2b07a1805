package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// This file holds the cases stage's tables (migration 0040_cases.sql).

// Ledger states of CasesWrite.
const (
	CasesSending   = "sending"   // request about to go out (or went out, outcome unknown)
	CasesFailed    = "failed"    // Salesforce answered and refused: nothing was committed
	CasesCommitted = "committed" // Salesforce confirmed the writes
	CasesDryRun    = "dry_run"   // recorded in shadow mode, nothing sent
)

// CasesWrite is the ledger row of one message's Salesforce writes.
type CasesWrite struct {
	MessageID         int64
	State             string
	Action            string
	ThreadKey         string
	MessageIdentifier string
	CaseID            string
	EmailMessageID    string
	ContactID         string
	TaskID            string
	Plan              []byte // JSON of the redacted writes
	Sends             int    // how many times the request was sent
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const casesWriteCols = `message_id, state, action, thread_key, message_identifier, case_id,
	email_message_id, contact_id, task_id, plan, sends, created_at, updated_at`

func scanCasesWrite(r scanner) (CasesWrite, error) {
	var w CasesWrite
	var plan string
	var c, u int64
	err := r.Scan(&w.MessageID, &w.State, &w.Action, &w.ThreadKey, &w.MessageIdentifier, &w.CaseID,
		&w.EmailMessageID, &w.ContactID, &w.TaskID, &plan, &w.Sends, &c, &u)
	w.Plan = []byte(plan)
	w.CreatedAt, w.UpdatedAt = time.UnixMilli(c).UTC(), time.UnixMilli(u).UTC()
	return w, err
}

// CasesLedger loads a message's ledger row; ok is false when there is none.
func (s *Store) CasesLedger(ctx context.Context, messageID int64) (CasesWrite, bool, error) {
	w, err := scanCasesWrite(s.reader.QueryRowContext(ctx, `SELECT `+casesWriteCols+` FROM cases_writes WHERE message_id=?`, messageID))
	if errors.Is(err, sql.ErrNoRows) {
		return CasesWrite{}, false, nil
	}
	if err != nil {
		return CasesWrite{}, false, fmt.Errorf("store: cases ledger: %w", classify(err))
	}
	return w, true, nil
}

// CasesLedgerByState lists ledger rows in a state, oldest first (limit <= 0: all).
func (s *Store) CasesLedgerByState(ctx context.Context, state string, limit int) ([]CasesWrite, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+casesWriteCols+` FROM cases_writes WHERE state=? ORDER BY message_id LIMIT ?`, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: cases ledger: %w", classify(err))
	}
	defer rows.Close()
	var out []CasesWrite
	for rows.Next() {
		w, err := scanCasesWrite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// CasesPutLedger inserts or replaces a message's ledger row. With tx nil it
// runs in its own transaction (the "sending" mark must be durable before the
// request goes out, independent of the stage's state change).
func (s *Store) CasesPutLedger(ctx context.Context, tx *sql.Tx, w CasesWrite) error {
	now := s.now().UnixMilli()
	put := func(tx *sql.Tx) error {
		plan := string(w.Plan)
		_, err := tx.ExecContext(ctx, `INSERT INTO cases_writes (`+casesWriteCols+`)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (message_id) DO UPDATE SET state=excluded.state, action=excluded.action,
				thread_key=excluded.thread_key, message_identifier=excluded.message_identifier,
				case_id=excluded.case_id, email_message_id=excluded.email_message_id,
				contact_id=excluded.contact_id, task_id=excluded.task_id, plan=excluded.plan,
				sends=excluded.sends, updated_at=excluded.updated_at`,
			w.MessageID, w.State, w.Action, w.ThreadKey, w.MessageIdentifier, w.CaseID,
			w.EmailMessageID, w.ContactID, w.TaskID, plan, w.Sends, now, now)
		return err
	}
	err := s.writeIn(ctx, tx, put)
	if err != nil {
		return fmt.Errorf("store: put cases ledger: %w", classify(err))
	}
	return nil
}

// CasesAuditEntry is one line of the audit trail.
type CasesAuditEntry struct {
	Seq             int64           `json:"seq"`
	At              time.Time       `json:"at"`
	MessageID       int64           `json:"message_id,omitempty"`
	Action          string          `json:"action"`
	SObject         string          `json:"sobject,omitempty"`
	RecordID        string          `json:"record_id,omitempty"`
	Fields          json.RawMessage `json:"fields,omitempty"` // PII-redacted
	Result          string          `json:"result"`
	Detail          string          `json:"detail,omitempty"`
	IntegrationUser string          `json:"integration_user,omitempty"`
	Agent           string          `json:"agent,omitempty"`
	PrevHash        string          `json:"prev_hash"`
	Hash            string          `json:"hash"`
}

// CasesAuditHash is the chain hash of e after prev: SHA-256 over prev and
// every recorded column in a fixed, unambiguous (JSON array) encoding.
func CasesAuditHash(prev string, e CasesAuditEntry) string {
	fields := string(e.Fields)
	if fields == "" {
		fields = "{}"
	}
	b, _ := json.Marshal([]any{prev, e.Seq, e.At.UnixMilli(), e.MessageID, e.Action, e.SObject, e.RecordID,
		fields, e.Result, e.Detail, e.IntegrationUser, e.Agent})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// CasesAppendAudit appends entries to the audit trail in one transaction,
// chaining each to the previous row's hash. With tx nil it opens its own.
func (s *Store) CasesAppendAudit(ctx context.Context, tx *sql.Tx, entries ...CasesAuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	app := func(tx *sql.Tx) error {
		var prev string
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM cases_audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for _, e := range entries {
			seq++
			e.Seq = seq
			if e.At.IsZero() {
				e.At = s.now()
			}
			e.At = time.UnixMilli(e.At.UnixMilli()).UTC()
			if len(e.Fields) == 0 {
				e.Fields = json.RawMessage("{}")
			}
			e.PrevHash = prev
			e.Hash = CasesAuditHash(prev, e)
			if _, err := tx.ExecContext(ctx, `INSERT INTO cases_audit (seq, at, message_id, action, sobject,
				record_id, fields, result, detail, integration_user, agent, prev_hash, hash)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, e.Seq, e.At.UnixMilli(), e.MessageID, e.Action, e.SObject,
				e.RecordID, string(e.Fields), e.Result, e.Detail, e.IntegrationUser, e.Agent, e.PrevHash, e.Hash); err != nil {
				return err
			}
			prev = e.Hash
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO cases_sync (name, value) VALUES ('audit_head', ?)
			ON CONFLICT (name) DO UPDATE SET value=excluded.value`, fmt.Sprintf("%d:%s", seq, prev))
		return err
	}
	err := s.writeIn(ctx, tx, app)
	if err != nil {
		return fmt.Errorf("store: append audit: %w", classify(err))
	}
	return nil
}

// CasesAuditFilter selects audit lines, oldest first.
type CasesAuditFilter struct {
	Since     time.Time
	MessageID int64
	Limit     int
}

const casesAuditCols = `seq, at, message_id, action, sobject, record_id, fields, result, detail,
	integration_user, agent, prev_hash, hash`

func scanCasesAudit(r scanner) (CasesAuditEntry, error) {
	var e CasesAuditEntry
	var at int64
	var fields string
	err := r.Scan(&e.Seq, &at, &e.MessageID, &e.Action, &e.SObject, &e.RecordID, &fields, &e.Result,
		&e.Detail, &e.IntegrationUser, &e.Agent, &e.PrevHash, &e.Hash)
	e.At = time.UnixMilli(at).UTC()
	e.Fields = json.RawMessage(fields)
	return e, err
}

// CasesAudit lists audit lines matching f, oldest first.
func (s *Store) CasesAudit(ctx context.Context, f CasesAuditFilter) ([]CasesAuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+casesAuditCols+` FROM cases_audit
		WHERE at >= ? AND (? = 0 OR message_id = ?) ORDER BY seq LIMIT ?`,
		f.Since.UnixMilli(), f.MessageID, f.MessageID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", classify(err))
	}
	defer rows.Close()
	var out []CasesAuditEntry
	for rows.Next() {
		e, err := scanCasesAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditTamperError locates the first audit row that breaks the chain.
type AuditTamperError struct {
	Seq    int64
	Reason string
}

func (e *AuditTamperError) Error() string {
	return fmt.Sprintf("audit trail broken at seq %d: %s", e.Seq, e.Reason)
}

// Permanent: re-reading does not repair a broken chain.
func (e *AuditTamperError) Permanent() bool { return true }

// CasesVerifyAudit walks the whole chain: every row's hash must match its
// content and the previous row's hash, and sequence numbers must be dense
// (a deleted row shows as a gap). It returns the number of rows checked.
func (s *Store) CasesVerifyAudit(ctx context.Context) (int, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+casesAuditCols+` FROM cases_audit ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("store: audit verify: %w", classify(err))
	}
	defer rows.Close()
	prev, n, want := "", 0, int64(1)
	for rows.Next() {
		e, err := scanCasesAudit(rows)
		if err != nil {
			return n, err
		}
		switch {
		case e.Seq != want:
			return n, &AuditTamperError{Seq: want, Reason: fmt.Sprintf("row missing (next row is %d)", e.Seq)}
		case e.PrevHash != prev:
			return n, &AuditTamperError{Seq: e.Seq, Reason: "prev_hash does not match the previous row"}
		case CasesAuditHash(prev, e) != e.Hash:
			return n, &AuditTamperError{Seq: e.Seq, Reason: "content does not match its hash"}
		}
		prev, want = e.Hash, want+1
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	// A truncated tail is only detectable against an anchor kept elsewhere:
	// the last hash is recorded in cases_sync after every append batch.
	var anchor string
	err = s.reader.QueryRowContext(ctx, `SELECT value FROM cases_sync WHERE name='audit_head'`).Scan(&anchor)
	if err == nil && anchor != "" && anchor != fmt.Sprintf("%d:%s", n, prev) {
		return n, &AuditTamperError{Seq: int64(n), Reason: "chain head does not match the recorded head (rows removed or rewritten at the end)"}
	}
	return n, nil
}

// CasesTouched is a case the app wrote and what Salesforce last said about it.
type CasesTouched struct {
	CaseID    string
	ThreadKey string
	Status    string
	IsClosed  bool
	OwnerID   string
	ModStamp  time.Time
	Source    string
}

// CasesTouch records (or refreshes) a case the app touched.
func (s *Store) CasesTouch(ctx context.Context, tx *sql.Tx, c CasesTouched) error {
	now := s.now().UnixMilli()
	put := func(tx *sql.Tx) error {
		var ms int64
		if !c.ModStamp.IsZero() {
			ms = c.ModStamp.UnixMilli()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO cases_touched (case_id, thread_key, status, is_closed, owner_id, modstamp, source, updated_at)
			VALUES (?,?,?,?,?,?,?,?)
			ON CONFLICT (case_id) DO UPDATE SET
				thread_key = CASE WHEN excluded.thread_key <> '' THEN excluded.thread_key ELSE cases_touched.thread_key END,
				status = CASE WHEN excluded.status <> '' THEN excluded.status ELSE cases_touched.status END,
				is_closed = CASE WHEN excluded.status <> '' THEN excluded.is_closed ELSE cases_touched.is_closed END,
				owner_id = CASE WHEN excluded.owner_id <> '' THEN excluded.owner_id ELSE cases_touched.owner_id END,
				modstamp = max(cases_touched.modstamp, excluded.modstamp),
				source = excluded.source, updated_at = excluded.updated_at`,
			c.CaseID, c.ThreadKey, c.Status, c.IsClosed, c.OwnerID, ms, c.Source, now)
		return err
	}
	err := s.writeIn(ctx, tx, put)
	if err != nil {
		return fmt.Errorf("store: touch case: %w", classify(err))
	}
	return nil
}

// CasesTouchedCase loads one touched case.
func (s *Store) CasesTouchedCase(ctx context.Context, caseID string) (CasesTouched, bool, error) {
	var c CasesTouched
	var ms int64
	err := s.reader.QueryRowContext(ctx, `SELECT case_id, thread_key, status, is_closed, owner_id, modstamp, source
		FROM cases_touched WHERE case_id=?`, caseID).Scan(&c.CaseID, &c.ThreadKey, &c.Status, &c.IsClosed, &c.OwnerID, &ms, &c.Source)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("store: touched case: %w", classify(err))
	}
	if ms != 0 {
		c.ModStamp = time.UnixMilli(ms).UTC()
	}
	return c, true, nil
}

// CasesTouchedCount counts the cases the app touched.
func (s *Store) CasesTouchedCount(ctx context.Context) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM cases_touched`).Scan(&n)
	return n, err
}

// CasesSyncValue reads a watermark ("" when unset).
func (s *Store) CasesSyncValue(ctx context.Context, name string) (string, error) {
	var v string
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM cases_sync WHERE name=?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// CasesSetSyncValue writes a watermark (inside tx when given).
func (s *Store) CasesSetSyncValue(ctx context.Context, tx *sql.Tx, name, value string) error {
	put := func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cases_sync (name, value) VALUES (?,?)
			ON CONFLICT (name) DO UPDATE SET value=excluded.value`, name, value)
		return err
	}
	return s.writeIn(ctx, tx, put)
}

// CasesCaseByThread returns the case a committed write of the thread went to
// (the newest), or ok false.
func (s *Store) CasesCaseByThread(ctx context.Context, threadKey string) (string, bool, error) {
	var id string
	err := s.reader.QueryRowContext(ctx, `SELECT case_id FROM cases_writes
		WHERE thread_key=? AND state='committed' AND case_id<>'' ORDER BY message_id DESC LIMIT 1`, threadKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: case by thread: %w", classify(err))
	}
	return id, true, nil
}
