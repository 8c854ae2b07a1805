package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"
)

// State is where a message is in the pipeline; see ARCHITECTURE.md.
type State string

// The message states, in pipeline order, then the three final ones.
const (
	StateReceived   State = "received"
	StateDeduped    State = "deduped"
	StateClassified State = "classified"
	StateEnriched   State = "enriched"
	StateDone       State = "done"
	StateSkipped    State = "skipped"
	StateDead       State = "dead"
)

// AllStates lists every state in a stable order (for reports).
var AllStates = []State{StateReceived, StateDeduped, StateClassified, StateEnriched, StateDone, StateSkipped, StateDead}

// Final reports whether no worker will touch a message in this state again.
func (s State) Final() bool { return s == StateDone || s == StateSkipped || s == StateDead }

// ErrStateConflict means a transition found the message in another state than
// expected: another worker (or a replay) got there first.
var ErrStateConflict = errors.New("store: message is not in the expected state")

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// NewMessage is what ingest records for one fetched message.
type NewMessage struct {
	Mailbox     string
	Folder      string
	UIDValidity uint32
	UID         uint32
	Raw         []byte // the bytes kept: the whole message, or only its header when HeaderOnly
	SHA256      string // hex SHA-256 of the whole message as fetched
	Size        int64  // size of the whole message as fetched
	HeaderOnly  bool
	MessageID   string
	Subject     string
	From        string
	SentAt      time.Time
	Parsed      []byte // JSON of the parsed form; nil when parsing failed
	State       State  // StateReceived, or StateSkipped/StateDead with Reason
	Reason      string
	LastError   string
	// Watermark, when WatermarkSet, is how far the folder's last UID may
	// advance once this message commits, instead of its UID: the fetcher sets
	// it lower while a lower UID of the same fetch has not been read yet.
	Watermark    uint32
	WatermarkSet bool
}

// RecordResult says what RecordMessage did.
type RecordResult struct {
	ID int64
	// New is true when this call created the message row; false when the same
	// message (Message-ID + SHA-256) or the same location was already recorded.
	New bool
}

// RecordMessage durably records a fetched message, its location, and advances
// the folder's last UID, all in one transaction. Recording the same location or
// the same (Message-ID, SHA-256) again is a no-op that returns the existing id.
func (s *Store) RecordMessage(ctx context.Context, m NewMessage) (RecordResult, error) {
	res, err := s.RecordMessages(ctx, []NewMessage{m})
	if err != nil {
		return RecordResult{}, err
	}
	return res[0], nil
}

// RecordMessages records several messages in one transaction, each exactly as
// RecordMessage would: one commit for a batch is what lets ingest keep up
// with the IMAP server.
func (s *Store) RecordMessages(ctx context.Context, ms []NewMessage) ([]RecordResult, error) {
	out := make([]RecordResult, len(ms))
	err := s.Write(ctx, func(tx *sql.Tx) error {
		rs, err := prepareRecord(ctx, tx)
		if err != nil {
			return err
		}
		defer rs.close()
		// The folders' last UIDs advance once, at the end of the transaction:
		// they commit together with every row, so one update per folder says
		// the same as one per message.
		type folderKey struct {
			mailbox, folder string
			uidvalidity     uint32
		}
		last := map[folderKey]uint32{}
		var order []folderKey
		for i, m := range ms {
			r, err := s.recordTx(ctx, rs, m)
			if err != nil {
				return fmt.Errorf("store: record %s/%s uid %d: %w", m.Mailbox, m.Folder, m.UID, err)
			}
			out[i] = r
			k := folderKey{m.Mailbox, m.Folder, m.UIDValidity}
			mark := m.UID
			if m.WatermarkSet {
				mark = m.Watermark
			}
			// Even a mark of 0 creates the folder's row: it records the UIDVALIDITY.
			if uid, ok := last[k]; !ok || mark > uid {
				if !ok {
					order = append(order, k)
				}
				last[k] = mark
			}
		}
		now := s.now().UnixMilli()
		for _, k := range order {
			if err := rs.advanceUID(ctx, k.mailbox, k.folder, k.uidvalidity, last[k], now); err != nil {
				return fmt.Errorf("store: record %s/%s: %w", k.mailbox, k.folder, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordStmts are RecordMessages' statements, prepared once per transaction:
// SQLite compiling each statement again for every message cost about as much
// as executing it.
type recordStmts struct {
	findLocation, insertBlob, insertChunk, insertMessage, insertParsed, findMessage, insertLocation, insertEvent, advance *sql.Stmt
}

// blobChunk is the size of the rows a large raw message is cut into.
const blobChunk = 1 << 20

// writeBlob stores raw under its hash unless it is stored already: inline
// when small, else as blobChunk-sized rows of blob_chunks.
func (rs *recordStmts) writeBlob(ctx context.Context, sha256 string, raw []byte) error {
	if len(raw) <= blobChunk {
		_, err := rs.insertBlob.ExecContext(ctx, sha256, len(raw), raw, 0)
		return err
	}
	n := (len(raw) + blobChunk - 1) / blobChunk
	r, err := rs.insertBlob.ExecContext(ctx, sha256, len(raw), []byte{}, n)
	if err != nil {
		return err
	}
	if added, _ := r.RowsAffected(); added == 0 {
		return nil // same content recorded before
	}
	for i := range n {
		if _, err := rs.insertChunk.ExecContext(ctx, sha256, i, raw[i*blobChunk:min(len(raw), (i+1)*blobChunk)]); err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
	}
	return nil
}

func prepareRecord(ctx context.Context, tx *sql.Tx) (*recordStmts, error) {
	rs := &recordStmts{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&rs.findLocation, `SELECT message_id FROM message_locations
			WHERE mailbox=? AND folder=? AND uidvalidity=? AND uid=?`},
		{&rs.insertBlob, `INSERT INTO blobs (sha256, size, data, chunks) VALUES (?, ?, ?, ?)
			ON CONFLICT (sha256) DO NOTHING`},
		{&rs.insertChunk, `INSERT INTO blob_chunks (sha256, seq, data) VALUES (?, ?, ?)`},
		{&rs.insertMessage, `INSERT INTO messages (sha256, message_id, mailbox, folder, uidvalidity, uid,
			size, header_only, subject, from_addr, sent_at, state, reason, last_error, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (message_id, sha256) DO NOTHING`},
		{&rs.insertParsed, `INSERT INTO message_parsed (message_id, data) VALUES (?, ?)`},
		{&rs.findMessage, `SELECT id FROM messages WHERE message_id=? AND sha256=?`},
		{&rs.insertLocation, `INSERT INTO message_locations (message_id, mailbox, folder, uidvalidity, uid, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`},
		{&rs.insertEvent, `INSERT INTO events (message_id, at, stage, kind, detail) VALUES (?, ?, ?, ?, ?)`},
		{&rs.advance, advanceUIDQuery},
	} {
		st, err := tx.PrepareContext(ctx, p.query)
		if err != nil {
			rs.close()
			return nil, fmt.Errorf("store: prepare: %w", err)
		}
		*p.dst = st
	}
	return rs, nil
}

func (rs *recordStmts) close() {
	for _, st := range []*sql.Stmt{rs.findLocation, rs.insertBlob, rs.insertChunk, rs.insertMessage, rs.insertParsed, rs.findMessage, rs.insertLocation, rs.insertEvent, rs.advance} {
		if st != nil {
			st.Close()
		}
	}
}

// recordTx records one message's rows; the caller advances the folder's last UID.
func (s *Store) recordTx(ctx context.Context, rs *recordStmts, m NewMessage) (RecordResult, error) {
	if m.State == "" {
		m.State = StateReceived
	}
	now := s.now().UnixMilli()
	var res RecordResult
	// Location first: a UID already recorded means this fetch is a repeat.
	var existing int64
	err := rs.findLocation.QueryRowContext(ctx, m.Mailbox, m.Folder, m.UIDValidity, m.UID).Scan(&existing)
	switch {
	case err == nil:
		res.ID = existing
		return res, nil
	case !errors.Is(err, sql.ErrNoRows):
		return res, fmt.Errorf("look up location: %w", err)
	}
	if err := rs.writeBlob(ctx, m.SHA256, m.Raw); err != nil {
		return res, fmt.Errorf("insert blob: %w", err)
	}
	var sent any
	if !m.SentAt.IsZero() {
		sent = m.SentAt.UnixMilli()
	}
	r, err := rs.insertMessage.ExecContext(ctx, m.SHA256, m.MessageID, m.Mailbox, m.Folder, m.UIDValidity, m.UID, m.Size, m.HeaderOnly,
		m.Subject, m.From, sent, m.State, m.Reason, m.LastError, now, now)
	if err != nil {
		return res, fmt.Errorf("insert message: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 1 {
		res.New = true
		if res.ID, err = r.LastInsertId(); err != nil {
			return res, err
		}
		if m.Parsed != nil {
			if _, err := rs.insertParsed.ExecContext(ctx, res.ID, m.Parsed); err != nil {
				return res, fmt.Errorf("insert parsed form: %w", err)
			}
		}
	} else if err := rs.findMessage.QueryRowContext(ctx, m.MessageID, m.SHA256).Scan(&res.ID); err != nil {
		return res, fmt.Errorf("find existing message: %w", err)
	}
	if _, err := rs.insertLocation.ExecContext(ctx, res.ID, m.Mailbox, m.Folder, m.UIDValidity, m.UID, now); err != nil {
		return res, fmt.Errorf("insert location: %w", err)
	}
	kind, detail := "seen_again", fmt.Sprintf("%s/%s uid %d", m.Mailbox, m.Folder, m.UID)
	if res.New {
		kind = "recorded"
		if m.State != StateReceived {
			kind = string(m.State)
			detail += ": " + m.Reason
		}
	}
	if _, err := rs.insertEvent.ExecContext(ctx, res.ID, now, "ingest", kind, detail); err != nil {
		return res, fmt.Errorf("append event: %w", err)
	}
	return res, nil
}

const advanceUIDQuery = `INSERT INTO mailboxes (mailbox, folder, uidvalidity, last_uid, updated_at)
	VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (mailbox, folder) DO UPDATE SET last_uid = max(last_uid, excluded.last_uid), updated_at = excluded.updated_at
	WHERE uidvalidity = excluded.uidvalidity`

func (rs *recordStmts) advanceUID(ctx context.Context, mailbox, folder string, uidvalidity, uid uint32, now int64) error {
	if _, err := rs.advance.ExecContext(ctx, mailbox, folder, uidvalidity, uid, now); err != nil {
		return fmt.Errorf("advance last uid: %w", err)
	}
	return nil
}

// MailboxState is the sync position of one folder.
type MailboxState struct {
	UIDValidity uint32
	LastUID     uint32
}

// MailboxState returns the folder's sync position (zero when never synced).
func (s *Store) MailboxState(ctx context.Context, mailbox, folder string) (MailboxState, error) {
	var st MailboxState
	err := s.reader.QueryRowContext(ctx, `SELECT uidvalidity, last_uid FROM mailboxes WHERE mailbox=? AND folder=?`,
		mailbox, folder).Scan(&st.UIDValidity, &st.LastUID)
	if errors.Is(err, sql.ErrNoRows) {
		return MailboxState{}, nil
	}
	if err != nil {
		return MailboxState{}, fmt.Errorf("store: mailbox state %s/%s: %w", mailbox, folder, classify(err))
	}
	return st, nil
}

// ResetMailbox records a new UIDVALIDITY for a folder and restarts its sync from
// UID 0. Messages already recorded stay; re-fetched copies are recognised by
// Message-ID + SHA-256 and only gain a location.
func (s *Store) ResetMailbox(ctx context.Context, mailbox, folder string, uidvalidity uint32) error {
	now := s.now().UnixMilli()
	return s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mailboxes (mailbox, folder, uidvalidity, last_uid, updated_at)
			VALUES (?, ?, ?, 0, ?)
			ON CONFLICT (mailbox, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0, updated_at = excluded.updated_at`,
			mailbox, folder, uidvalidity, now)
		if err != nil {
			return fmt.Errorf("store: reset %s/%s: %w", mailbox, folder, err)
		}
		return s.appendEvent(ctx, tx, Event{Stage: "ingest", Kind: "uidvalidity_changed",
			Detail: fmt.Sprintf("%s/%s uidvalidity %d", mailbox, folder, uidvalidity)})
	})
}

// Location is one place a message was seen.
type Location struct {
	MessageID   int64
	Mailbox     string
	Folder      string
	UIDValidity uint32
	UID         uint32
}

// Unacked lists locations in a folder whose message is committed but which have
// not been acknowledged on the server yet (flag or move).
func (s *Store) Unacked(ctx context.Context, mailbox, folder string, uidvalidity uint32, limit int) ([]Location, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT message_id, uid FROM message_locations
		WHERE mailbox=? AND folder=? AND uidvalidity=? AND acked=0 ORDER BY uid LIMIT ?`, mailbox, folder, uidvalidity, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unacked: %w", classify(err))
	}
	defer rows.Close()
	var out []Location
	for rows.Next() {
		l := Location{Mailbox: mailbox, Folder: folder, UIDValidity: uidvalidity}
		if err := rows.Scan(&l.MessageID, &l.UID); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unacked: %w", classify(err))
	}
	if len(out) > 0 {
		// With synchronous=NORMAL a commit survives the process but reaches
		// the disk only at the next checkpoint. These messages are about to be
		// acknowledged (a MOVE takes them out of the folder), so what was
		// committed must be on disk first: a power cut must not lose them.
		if err := s.syncWAL(); err != nil {
			return nil, fmt.Errorf("store: unacked: make commits durable: %w", err)
		}
	}
	return out, nil
}

// syncWAL flushes the WAL file to disk, making every commit so far durable.
// Checkpoints sync what they copy into the database file themselves.
func (s *Store) syncWAL() error {
	if s.fsync != nil {
		return s.fsync(s.path + "-wal")
	}
	f, err := os.Open(s.path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no WAL: everything is in the (synced) database file
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// MarkAcked records that these UIDs were acknowledged on the server.
func (s *Store) MarkAcked(ctx context.Context, mailbox, folder string, uidvalidity uint32, uids []uint32) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		for _, uid := range uids {
			if _, err := tx.ExecContext(ctx, `UPDATE message_locations SET acked=1
				WHERE mailbox=? AND folder=? AND uidvalidity=? AND uid=?`, mailbox, folder, uidvalidity, uid); err != nil {
				return fmt.Errorf("store: mark acked: %w", err)
			}
		}
		return nil
	})
}

// Message is a recorded message as the stages see it.
type Message struct {
	ID            int64
	SHA256        string
	MessageID     string
	Mailbox       string
	Folder        string
	UIDValidity   uint32
	UID           uint32
	Size          int64
	HeaderOnly    bool
	Subject       string
	From          string
	SentAt        time.Time
	Parsed        []byte
	State         State
	Reason        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const messageCols = `id, sha256, message_id, mailbox, folder, uidvalidity, uid, size, header_only, subject, from_addr,
	sent_at, (SELECT data FROM message_parsed WHERE message_parsed.message_id = messages.id), state, reason, attempts, next_attempt_at, last_error, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner) (Message, error) {
	var m Message
	var sent sql.NullInt64
	var next, created, updated int64
	err := r.Scan(&m.ID, &m.SHA256, &m.MessageID, &m.Mailbox, &m.Folder, &m.UIDValidity, &m.UID, &m.Size, &m.HeaderOnly,
		&m.Subject, &m.From, &sent, &m.Parsed, &m.State, &m.Reason, &m.Attempts, &next, &m.LastError, &created, &updated)
	if err != nil {
		return Message{}, err
	}
	if sent.Valid {
		m.SentAt = time.UnixMilli(sent.Int64).UTC()
	}
	m.NextAttemptAt = time.UnixMilli(next).UTC()
	m.CreatedAt = time.UnixMilli(created).UTC()
	m.UpdatedAt = time.UnixMilli(updated).UTC()
	return m, nil
}

// Message loads one message by id.
func (s *Store) Message(ctx context.Context, id int64) (Message, error) {
	m, err := scanMessage(s.reader.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id=?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("store: message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Message{}, fmt.Errorf("store: message %d: %w", id, classify(err))
	}
	return m, nil
}

// Raw returns the kept bytes of a message (the header only when HeaderOnly).
func (s *Store) Raw(ctx context.Context, sha256 string) ([]byte, error) {
	var b []byte
	var size int64
	var chunks int
	err := s.reader.QueryRowContext(ctx, `SELECT data, size, chunks FROM blobs WHERE sha256=?`, sha256).Scan(&b, &size, &chunks)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: blob %s: %w", sha256, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", sha256, classify(err))
	}
	if chunks == 0 {
		return b, nil
	}
	// The chunks committed with the blobs row and are never deleted, so they
	// are all there once the row is visible.
	rows, err := s.reader.QueryContext(ctx, `SELECT data FROM blob_chunks WHERE sha256=? ORDER BY seq`, sha256)
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", sha256, classify(err))
	}
	defer rows.Close()
	out := make([]byte, 0, size)
	n := 0
	for rows.Next() {
		var c sql.RawBytes
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("store: blob %s: %w", sha256, classify(err))
		}
		out = append(out, c...)
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", sha256, classify(err))
	}
	if n != chunks || int64(len(out)) != size {
		return nil, fmt.Errorf("store: blob %s: %d of %d chunks, %d of %d bytes", sha256, n, chunks, len(out), size)
	}
	return out, nil
}

// Claim leases up to limit messages in state whose next attempt is due, oldest
// first. A leased message is not handed out again until the lease expires, so a
// crashed worker's messages come back by themselves.
//
// The writer only takes the leases; the rows are read afterwards through the
// read pool. SQLite holds a RETURNING statement's whole result in memory until
// it ends, and with the parsed forms (tens of KB each) in it a batch held
// megabytes of C heap, kept by SQLite's allocator at its high-water mark.
// Should that read fail, the leases lapse and the messages come back, as
// after a crash.
func (s *Store) Claim(ctx context.Context, state State, limit int, lease time.Duration) ([]Message, error) {
	now := s.now()
	var ids []int64
	err := s.Write(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		rows, err := tx.QueryContext(ctx, sqlClaim,
			now.Add(lease).UnixMilli(), state, now.UnixMilli(), now.UnixMilli(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim %s: %w", state, err)
	}
	// RETURNING's order is unspecified: hand them out oldest first.
	out, err := s.messagesByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("store: claim %s: %w", state, err)
	}
	slices.SortFunc(out, func(a, b Message) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// messagesByID loads the messages of ids that exist, in the order of ids.
func (s *Store) messagesByID(ctx context.Context, ids []int64) ([]Message, error) {
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	found := make([]*Message, len(ids))
	for start := 0; start < len(ids); start += 256 {
		in, args := inList(ids[start:min(start+256, len(ids))])
		if err := s.scanMessages(ctx, `SELECT `+messageCols+` FROM messages WHERE id IN `+in, args, func(m Message) {
			found[pos[m.ID]] = &m
		}); err != nil {
			return nil, err
		}
	}
	out := make([]Message, 0, len(ids))
	for _, m := range found {
		if m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// scanMessages runs a query over messageCols on the read pool.
func (s *Store) scanMessages(ctx context.Context, query string, args []any, each func(Message)) error {
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return classify(err)
		}
		each(m)
	}
	return classify(rows.Err())
}

// Event is one line of a message's history.
type Event struct {
	ID        int64
	MessageID int64 // 0 for events not about one message
	At        time.Time
	Stage     string
	Kind      string
	Detail    string
}

// AppendEvent adds an event inside a stage's transaction.
func (s *Store) AppendEvent(ctx context.Context, tx *sql.Tx, e Event) error {
	return s.appendEvent(ctx, tx, e)
}

func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, e Event) error {
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	var msg any
	if e.MessageID != 0 {
		msg = e.MessageID
	}
	if _, err := tx.ExecContext(ctx, sqlAppendEvent,
		msg, at.UnixMilli(), e.Stage, e.Kind, e.Detail); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}

// Events returns a message's history, oldest first.
func (s *Store) Events(ctx context.Context, messageID int64) ([]Event, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, coalesce(message_id, 0), at, stage, kind, detail FROM events
		WHERE message_id=? ORDER BY id`, messageID)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", classify(err))
	}
	return scanEvents(rows)
}

// scanEvents reads rows of (id, message_id, at, stage, kind, detail) and closes them.
func scanEvents(rows *sql.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.ID, &e.MessageID, &at, &e.Stage, &e.Kind, &e.Detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Transition is one state change of one message.
type Transition struct {
	ID     int64
	From   State
	To     State
	Stage  string // who made the change: "dedupe", "classify", …
	Kind   string // event kind; defaults to the new state
	Detail string
	Reason string // required for skipped and dead
	Error  string // last error, for dead
	// Extra runs in the same transaction: a stage's own rows commit with the state change.
	Extra func(tx *sql.Tx) error
}

// Advance applies a transition atomically. It fails with ErrStateConflict when
// the message is no longer in t.From.
func (s *Store) Advance(ctx context.Context, t Transition) error {
	if (t.To == StateSkipped || t.To == StateDead) && t.Reason == "" {
		return fmt.Errorf("store: transition of message %d to %s needs a reason", t.ID, t.To)
	}
	if t.Kind == "" {
		t.Kind = string(t.To)
	}
	now := s.now().UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		resume := ""
		if t.To == StateDead {
			resume = string(t.From)
		}
		r, err := tx.ExecContext(ctx, sqlAdvance,
			t.To, t.Reason, resume, t.Error, t.To == StateDead, now, t.ID, t.From)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return ErrStateConflict
		}
		if t.Extra != nil {
			if err := t.Extra(tx); err != nil {
				return err
			}
		}
		detail := t.Detail
		if t.Reason != "" {
			detail = joinDetail(t.Reason, detail)
		}
		if t.Error != "" {
			detail = joinDetail(detail, t.Error)
		}
		return s.appendEvent(ctx, tx, Event{MessageID: t.ID, Stage: t.Stage, Kind: t.Kind, Detail: detail})
	})
	if err != nil {
		return fmt.Errorf("store: message %d %s→%s: %w", t.ID, t.From, t.To, err)
	}
	return nil
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ": " + b
}

// Retry records a failed attempt and schedules the next one; the message stays
// in its state. countAttempt is false for waits that are not the message's
// fault (a rate limit), so they do not use up its attempts.
func (s *Store) Retry(ctx context.Context, id int64, state State, stage string, cause error, next time.Time, countAttempt bool) error {
	now := s.now().UnixMilli()
	inc := 0
	if countAttempt {
		inc = 1
	}
	err := s.Write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, sqlRetry, inc, next.UnixMilli(), cause.Error(), now, id, state)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return ErrStateConflict
		}
		return s.appendEvent(ctx, tx, Event{MessageID: id, Stage: stage, Kind: "retry",
			Detail: fmt.Sprintf("next attempt at %s: %s", next.UTC().Format(time.RFC3339Nano), cause)})
	})
	if err != nil {
		return fmt.Errorf("store: retry message %d: %w", id, err)
	}
	return nil
}

// Release gives up a lease without counting an attempt (used at shutdown).
func (s *Store) Release(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE messages SET leased_until=0 WHERE id=?`, id)
		return err
	})
}

// ReplayFilter selects dead (or skipped) messages to re-drive.
type ReplayFilter struct {
	ID     int64  // one message
	Reason string // all with this reason
	All    bool
	// Skipped re-drives a skipped message from the start (a wrongly skipped one);
	// otherwise only dead messages are replayed, into the state they died in.
	Skipped bool
}

// Replay moves matching dead messages back into the state they failed in (or
// skipped ones back to received) with a fresh attempt count. It returns the ids.
func (s *Store) Replay(ctx context.Context, f ReplayFilter, actor string) ([]int64, error) {
	if f.ID == 0 && f.Reason == "" && !f.All {
		return nil, errors.New("store: replay needs an id, a reason or all")
	}
	from := StateDead
	if f.Skipped {
		from = StateSkipped
	}
	now := s.now().UnixMilli()
	var ids []int64
	err := s.Write(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		q := `SELECT id FROM messages WHERE state=?`
		args := []any{from}
		if f.ID != 0 {
			q += ` AND id=?`
			args = append(args, f.ID)
		}
		if f.Reason != "" {
			q += ` AND reason=?`
			args = append(args, f.Reason)
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET
				state = CASE WHEN state='dead' AND resume_state NOT IN ('', 'dead', 'skipped', 'done') THEN resume_state ELSE 'received' END,
				reason='', resume_state='', attempts=0, next_attempt_at=0, leased_until=0, updated_at=? WHERE id=?`, now, id); err != nil {
				return err
			}
			if err := s.appendEvent(ctx, tx, Event{MessageID: id, Stage: "replay", Kind: "replayed", Detail: "by " + actor}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: replay: %w", err)
	}
	return ids, nil
}

// PutStageData stores a stage's result for a message inside the caller's transaction.
func (s *Store) PutStageData(ctx context.Context, tx *sql.Tx, messageID int64, stage string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s data: %w", stage, err)
	}
	_, err = tx.ExecContext(ctx, sqlPutStageData,
		messageID, stage, b, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: put %s data: %w", stage, err)
	}
	return nil
}

// StageData decodes a stage's result for a message into dst; ok is false when there is none.
func (s *Store) StageData(ctx context.Context, messageID int64, stage string, dst any) (ok bool, err error) {
	var b []byte
	err = s.reader.QueryRowContext(ctx, `SELECT data FROM stage_data WHERE message_id=? AND stage=?`, messageID, stage).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: %s data of message %d: %w", stage, messageID, classify(err))
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return false, fmt.Errorf("store: decode %s data of message %d: %w", stage, messageID, err)
	}
	return true, nil
}
