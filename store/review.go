package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// This file holds the review UI's tables (migration 0050_review.sql) and the
// read queries behind its pages.

// ErrReviewUserExists is returned when adding a user whose name is taken.
var ErrReviewUserExists = errors.New("store: review user already exists")

// ReviewUser is a login of the review UI.
type ReviewUser struct {
	Name         string
	Role         string // viewer, manager, admin
	PasswordHash string // bcrypt
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// AddReviewUser creates a user, or replaces its role and password when replace is set.
func (s *Store) AddReviewUser(ctx context.Context, u ReviewUser, replace bool) error {
	now := s.now().UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		q := `INSERT INTO review_users (name, role, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)`
		if replace {
			q += ` ON CONFLICT (name) DO UPDATE SET role=excluded.role, password_hash=excluded.password_hash, disabled=0, updated_at=excluded.updated_at`
		} else {
			q += ` ON CONFLICT (name) DO NOTHING`
		}
		r, err := tx.ExecContext(ctx, q, u.Name, u.Role, u.PasswordHash, now, now)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrReviewUserExists
		}
		return appendReviewAction(ctx, tx, now, ReviewAction{Actor: "cli", Action: "user_add", Detail: u.Name + " as " + u.Role, OK: true})
	})
	if err != nil {
		return fmt.Errorf("store: add review user %q: %w", u.Name, err)
	}
	return nil
}

// ReviewUser loads one user; ErrNotFound when there is none.
func (s *Store) ReviewUser(ctx context.Context, name string) (ReviewUser, error) {
	var u ReviewUser
	var c, up int64
	err := s.reader.QueryRowContext(ctx, `SELECT name, role, password_hash, disabled, created_at, updated_at
		FROM review_users WHERE name=?`, name).Scan(&u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &c, &up)
	if errors.Is(err, sql.ErrNoRows) {
		return ReviewUser{}, fmt.Errorf("store: review user: %w", ErrNotFound)
	}
	if err != nil {
		return ReviewUser{}, fmt.Errorf("store: review user: %w", classify(err))
	}
	u.CreatedAt, u.UpdatedAt = time.UnixMilli(c).UTC(), time.UnixMilli(up).UTC()
	return u, nil
}

// ReviewUsers lists every user (disabled ones too), by name.
func (s *Store) ReviewUsers(ctx context.Context) ([]ReviewUser, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT name, role, disabled, created_at, updated_at FROM review_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: review users: %w", classify(err))
	}
	defer rows.Close()
	var out []ReviewUser
	for rows.Next() {
		var u ReviewUser
		var c, up int64
		if err := rows.Scan(&u.Name, &u.Role, &u.Disabled, &c, &up); err != nil {
			return nil, err
		}
		u.CreatedAt, u.UpdatedAt = time.UnixMilli(c).UTC(), time.UnixMilli(up).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// DisableReviewUser revokes a user: the login and every session stop working
// at once. The row stays so the audit trail's names keep their meaning.
func (s *Store) DisableReviewUser(ctx context.Context, name, actor string) error {
	now := s.now().UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE review_users SET disabled=1, updated_at=? WHERE name=?`, now, name)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM review_sessions WHERE user_name=? AND source='password'`, name); err != nil {
			return err
		}
		return appendReviewAction(ctx, tx, now, ReviewAction{Actor: actor, Action: "user_disable", Detail: name, OK: true})
	})
	if err != nil {
		return fmt.Errorf("store: disable review user %q: %w", name, err)
	}
	return nil
}

// ReviewUserCount counts enabled users.
func (s *Store) ReviewUserCount(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM review_users WHERE disabled=0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count review users: %w", classify(err))
	}
	return n, nil
}

// ReviewSession is a logged-in browser. TokenHash is the SHA-256 (hex) of the cookie value.
type ReviewSession struct {
	TokenHash string
	User      string
	Role      string
	Source    string // password, oidc, local
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateReviewSession stores a session and drops expired ones.
func (s *Store) CreateReviewSession(ctx context.Context, rs ReviewSession) error {
	now := s.now().UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM review_sessions WHERE expires_at <= ?`, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO review_sessions (token_hash, user_name, role, source, csrf, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, rs.TokenHash, rs.User, rs.Role, rs.Source, rs.CSRF, rs.CreatedAt.UnixMilli(), rs.ExpiresAt.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create review session: %w", err)
	}
	return nil
}

// ReviewSessionByHash returns a live session; ErrNotFound when unknown or expired.
// A password session whose user was disabled or removed is not live either.
func (s *Store) ReviewSessionByHash(ctx context.Context, tokenHash string) (ReviewSession, error) {
	var rs ReviewSession
	var c, e int64
	err := s.reader.QueryRowContext(ctx, `SELECT s.token_hash, s.user_name, s.role, s.source, s.csrf, s.created_at, s.expires_at
		FROM review_sessions s LEFT JOIN review_users u ON u.name = s.user_name
		WHERE s.token_hash=? AND s.expires_at > ? AND (s.source != 'password' OR (u.name IS NOT NULL AND u.disabled = 0))`,
		tokenHash, s.now().UnixMilli()).Scan(&rs.TokenHash, &rs.User, &rs.Role, &rs.Source, &rs.CSRF, &c, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return ReviewSession{}, fmt.Errorf("store: review session: %w", ErrNotFound)
	}
	if err != nil {
		return ReviewSession{}, fmt.Errorf("store: review session: %w", classify(err))
	}
	rs.CreatedAt, rs.ExpiresAt = time.UnixMilli(c).UTC(), time.UnixMilli(e).UTC()
	return rs, nil
}

// DeleteReviewSession ends a session (logout).
func (s *Store) DeleteReviewSession(ctx context.Context, tokenHash string) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM review_sessions WHERE token_hash=?`, tokenHash)
		return err
	})
}

// ReviewAction is one line of the UI's action log.
type ReviewAction struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Role      string    `json:"role,omitempty"`
	Action    string    `json:"action"`
	MessageID int64     `json:"message_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	OK        bool      `json:"ok"`
}

// ReviewLabel is a manager's verdict on a message's classification: the AI's
// prediction and the values the manager approved or set.
type ReviewLabel struct {
	ID                int64     `json:"id"`
	MessageID         int64     `json:"message_id"`
	Kind              string    `json:"kind"` // approve or correct
	Actor             string    `json:"actor"`
	At                time.Time `json:"at"`
	PredictedCategory string    `json:"predicted_category"`
	PredictedPriority string    `json:"predicted_priority"`
	PredictedEscalate bool      `json:"predicted_escalate"`
	Confidence        float64   `json:"confidence"`
	Model             string    `json:"model,omitempty"`
	Category          string    `json:"category"`
	Priority          string    `json:"priority"`
	Escalate          bool      `json:"escalate"`
	EscalationReason  string    `json:"escalation_reason,omitempty"`
}

// ReviewRecord is everything one UI action writes, in one transaction: the
// action log line, the message's event (when it concerns a message), and
// optionally a label and the queue item's new status.
type ReviewRecord struct {
	Action ReviewAction
	Label  *ReviewLabel
	// ItemStatus, when set, moves the escalation-queue item: open, approved, corrected, closed.
	ItemStatus string
	// ContactID, when set, records the contact a manager picked.
	ContactID string
	// NoEvent skips the message event (the caller's store call wrote one already).
	NoEvent bool
}

// RecordReview writes a UI action with its effects.
func (s *Store) RecordReview(ctx context.Context, r ReviewRecord) error {
	now := s.now().UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		a := r.Action
		if err := appendReviewAction(ctx, tx, now, a); err != nil {
			return err
		}
		if a.MessageID != 0 && !r.NoEvent {
			detail := "by " + a.Actor
			if a.Detail != "" {
				detail += ": " + a.Detail
			}
			if !a.OK {
				detail += " (failed)"
			}
			if err := s.appendEvent(ctx, tx, Event{MessageID: a.MessageID, Stage: "review", Kind: a.Action, Detail: detail}); err != nil {
				return err
			}
		}
		if l := r.Label; l != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO review_labels (message_id, kind, actor, at, predicted_category, predicted_priority,
				predicted_escalate, confidence, model, category, priority, escalate, escalation_reason)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				l.MessageID, l.Kind, a.Actor, now, l.PredictedCategory, l.PredictedPriority, l.PredictedEscalate, l.Confidence, l.Model,
				l.Category, l.Priority, l.Escalate, l.EscalationReason); err != nil {
				return fmt.Errorf("insert label: %w", err)
			}
		}
		if r.ItemStatus != "" || r.ContactID != "" {
			status := r.ItemStatus
			if status == "" {
				status = "open"
			}
			q := `INSERT INTO review_items (message_id, status, contact_id, actor, at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (message_id) DO UPDATE SET actor=excluded.actor, at=excluded.at`
			if r.ItemStatus != "" {
				q += `, status=excluded.status`
			}
			if r.ContactID != "" {
				q += `, contact_id=excluded.contact_id`
			}
			if _, err := tx.ExecContext(ctx, q, a.MessageID, status, r.ContactID, a.Actor, now); err != nil {
				return fmt.Errorf("update review item: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record review action %s: %w", r.Action.Action, err)
	}
	return nil
}

func appendReviewAction(ctx context.Context, tx *sql.Tx, now int64, a ReviewAction) error {
	var msg any
	if a.MessageID != 0 {
		msg = a.MessageID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO review_actions (at, actor, role, action, message_id, detail, ok) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		now, a.Actor, a.Role, a.Action, msg, a.Detail, a.OK); err != nil {
		return fmt.Errorf("append review action: %w", err)
	}
	return nil
}

// ReviewActionFilter selects action-log lines, newest first.
type ReviewActionFilter struct {
	Actor     string
	Action    string
	MessageID int64
	Limit     int
	Offset    int
}

// ReviewActions lists the UI's action log, newest first.
func (s *Store) ReviewActions(ctx context.Context, f ReviewActionFilter) ([]ReviewAction, error) {
	q := `SELECT id, at, actor, role, action, coalesce(message_id, 0), detail, ok FROM review_actions WHERE 1=1`
	var args []any
	if f.Actor != "" {
		q += ` AND actor=?`
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		q += ` AND action=?`
		args = append(args, f.Action)
	}
	if f.MessageID != 0 {
		q += ` AND message_id=?`
		args = append(args, f.MessageID)
	}
	q += ` ORDER BY id DESC LIMIT ? OFFSET ?`
	args = append(args, limitOr(f.Limit, 100), f.Offset)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: review actions: %w", classify(err))
	}
	defer rows.Close()
	var out []ReviewAction
	for rows.Next() {
		var a ReviewAction
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Role, &a.Action, &a.MessageID, &a.Detail, &a.OK); err != nil {
			return nil, err
		}
		a.At = time.UnixMilli(at).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// ReviewLabels returns every label since a time, oldest first (all rows; a
// message corrected twice appears twice, the later row wins as training data).
func (s *Store) ReviewLabels(ctx context.Context, since time.Time) ([]ReviewLabel, error) {
	all, err := s.reviewLabels(ctx, `at >= ?`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: review labels: %w", err)
	}
	return all, nil
}

func (s *Store) reviewLabels(ctx context.Context, where string, arg any) ([]ReviewLabel, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, message_id, kind, actor, at, predicted_category, predicted_priority,
		predicted_escalate, confidence, model, category, priority, escalate, escalation_reason
		FROM review_labels WHERE `+where+` ORDER BY at, id`, arg)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []ReviewLabel
	for rows.Next() {
		var l ReviewLabel
		var at int64
		if err := rows.Scan(&l.ID, &l.MessageID, &l.Kind, &l.Actor, &at, &l.PredictedCategory, &l.PredictedPriority,
			&l.PredictedEscalate, &l.Confidence, &l.Model, &l.Category, &l.Priority, &l.Escalate, &l.EscalationReason); err != nil {
			return nil, err
		}
		l.At = time.UnixMilli(at).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// ReviewLabelsOf returns one message's labels, oldest first.
func (s *Store) ReviewLabelsOf(ctx context.Context, messageID int64) ([]ReviewLabel, error) {
	all, err := s.reviewLabels(ctx, `message_id = ?`, messageID)
	if err != nil {
		return nil, fmt.Errorf("store: review labels of %d: %w", messageID, err)
	}
	return all, nil
}

// ReviewItem is an escalation-queue item's status.
type ReviewItem struct {
	MessageID int64     `json:"message_id"`
	Status    string    `json:"status"`
	ContactID string    `json:"contact_id,omitempty"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
}

// ReviewItem returns a message's queue status; Status is "open" when nobody acted on it.
func (s *Store) ReviewItem(ctx context.Context, messageID int64) (ReviewItem, error) {
	it := ReviewItem{MessageID: messageID, Status: "open"}
	var at int64
	err := s.reader.QueryRowContext(ctx, `SELECT status, contact_id, actor, at FROM review_items WHERE message_id=?`, messageID).
		Scan(&it.Status, &it.ContactID, &it.Actor, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return it, nil
	}
	if err != nil {
		return it, fmt.Errorf("store: review item: %w", classify(err))
	}
	it.At = time.UnixMilli(at).UTC()
	return it, nil
}

// MessageSummary is one row of the review UI's message lists: the message and
// the classify stage's headline fields, read from its stage data.
type MessageSummary struct {
	ID               int64     `json:"id"`
	Subject          string    `json:"subject"`
	From             string    `json:"from"`
	State            State     `json:"state"`
	Reason           string    `json:"reason,omitempty"`
	Attempts         int       `json:"attempts"`
	LastError        string    `json:"last_error,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	Category         string    `json:"category,omitempty"`
	Priority         string    `json:"priority,omitempty"`
	Confidence       float64   `json:"confidence"`
	Escalate         bool      `json:"escalate"`
	EscalationReason string    `json:"escalation_reason,omitempty"`
	ReviewStatus     string    `json:"review_status,omitempty"`
}

// MessageFilter selects messages for the review lists, newest first.
type MessageFilter struct {
	State    State
	Reason   string
	Category string
	// Escalated, when set, keeps only messages whose classification escalated (or not).
	Escalated *bool
	// Queue keeps the open escalation queue: escalated and not yet approved,
	// corrected or closed; it is ordered by priority (urgent first), then newest.
	Queue bool
	// EscalationReason keeps messages escalated for this reason.
	EscalationReason string
	// Query matches the subject or sender (substring, case-insensitive).
	Query  string
	Since  time.Time
	Limit  int
	Offset int
}

// stage_data.data is a BLOB; json_extract must see text, not (invalid) JSONB.
const classifyJSON = `CAST(c.data AS TEXT)`

// ReviewMessages lists messages matching f and the total count of matches.
func (s *Store) ReviewMessages(ctx context.Context, f MessageFilter) ([]MessageSummary, int, error) {
	where := []string{"1=1"}
	var args []any
	if f.State != "" {
		where = append(where, "m.state=?")
		args = append(args, f.State)
	}
	if f.Reason != "" {
		where = append(where, "m.reason=?")
		args = append(args, f.Reason)
	}
	if f.Category != "" {
		where = append(where, "json_extract("+classifyJSON+", '$.category')=?")
		args = append(args, f.Category)
	}
	if f.Escalated != nil {
		where = append(where, "coalesce(json_extract("+classifyJSON+", '$.escalate'), 0)=?")
		args = append(args, *f.Escalated)
	}
	if f.EscalationReason != "" {
		where = append(where, "json_extract("+classifyJSON+", '$.escalation_reason')=?")
		args = append(args, f.EscalationReason)
	}
	if f.Queue {
		where = append(where, "coalesce(json_extract("+classifyJSON+", '$.escalate'), 0)=1",
			"coalesce(r.status, 'open')='open'", "m.state NOT IN ('dead','skipped')")
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		where = append(where, "(m.subject LIKE ? ESCAPE '\\' OR m.from_addr LIKE ? ESCAPE '\\')")
		like := "%" + likeEscape(q) + "%"
		args = append(args, like, like)
	}
	if !f.Since.IsZero() {
		where = append(where, "m.created_at >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	from := ` FROM messages m
		LEFT JOIN stage_data c ON c.message_id = m.id AND c.stage = 'classify'
		LEFT JOIN review_items r ON r.message_id = m.id
		WHERE ` + strings.Join(where, " AND ")
	order := "m.id DESC"
	if f.Queue {
		order = `CASE json_extract(` + classifyJSON + `, '$.priority') WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, m.id DESC`
	}
	var total int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*)`+from, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: review messages: %w", classify(err))
	}
	q := `SELECT m.id, m.subject, m.from_addr, m.state, m.reason, m.attempts, m.last_error, m.created_at, m.updated_at,
		coalesce(json_extract(` + classifyJSON + `, '$.category'), ''), coalesce(json_extract(` + classifyJSON + `, '$.priority'), ''),
		coalesce(json_extract(` + classifyJSON + `, '$.confidence'), 0), coalesce(json_extract(` + classifyJSON + `, '$.escalate'), 0),
		coalesce(json_extract(` + classifyJSON + `, '$.escalation_reason'), ''), coalesce(r.status, '')` + from +
		` ORDER BY ` + order + ` LIMIT ? OFFSET ?`
	rows, err := s.reader.QueryContext(ctx, q, append(args, limitOr(f.Limit, 50), f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: review messages: %w", classify(err))
	}
	defer rows.Close()
	var out []MessageSummary
	for rows.Next() {
		var m MessageSummary
		var c, u int64
		var cat, prio, reason any
		var conf any
		var esc any
		if err := rows.Scan(&m.ID, &m.Subject, &m.From, &m.State, &m.Reason, &m.Attempts, &m.LastError, &c, &u,
			&cat, &prio, &conf, &esc, &reason, &m.ReviewStatus); err != nil {
			return nil, 0, err
		}
		m.CreatedAt, m.UpdatedAt = time.UnixMilli(c).UTC(), time.UnixMilli(u).UTC()
		// Stage data written by other packages may hold unexpected types: be tolerant.
		m.Category, m.Priority, m.EscalationReason = anyString(cat), anyString(prio), anyString(reason)
		m.Confidence = anyFloat(conf)
		m.Escalate = anyFloat(esc) != 0
		out = append(out, m)
	}
	return out, total, rows.Err()
}

func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func anyFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	if n > 1000 {
		return 1000
	}
	return n
}

// ClassifiedRow is the classify result's headline of one message, for dashboard statistics.
type ClassifiedRow struct {
	MessageID        int64
	CreatedAt        time.Time
	State            State
	Reason           string
	Classified       bool
	Category         string
	Confidence       float64
	Escalate         bool
	EscalationReason string
}

// ReviewStats returns one row per message created since a time (for the
// dashboard's charts, aggregated by the caller).
func (s *Store) ReviewStats(ctx context.Context, since time.Time) ([]ClassifiedRow, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT m.id, m.created_at, m.state, m.reason, c.message_id IS NOT NULL,
		coalesce(json_extract(`+classifyJSON+`, '$.category'), ''), coalesce(json_extract(`+classifyJSON+`, '$.confidence'), 0),
		coalesce(json_extract(`+classifyJSON+`, '$.escalate'), 0), coalesce(json_extract(`+classifyJSON+`, '$.escalation_reason'), '')
		FROM messages m LEFT JOIN stage_data c ON c.message_id = m.id AND c.stage = 'classify'
		WHERE m.created_at >= ? ORDER BY m.id`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: review stats: %w", classify(err))
	}
	defer rows.Close()
	var out []ClassifiedRow
	for rows.Next() {
		var r ClassifiedRow
		var c int64
		var cat, conf, esc, reason any
		if err := rows.Scan(&r.MessageID, &c, &r.State, &r.Reason, &r.Classified, &cat, &conf, &esc, &reason); err != nil {
			return nil, err
		}
		r.CreatedAt = time.UnixMilli(c).UTC()
		r.Category, r.Confidence, r.Escalate, r.EscalationReason = anyString(cat), anyFloat(conf), anyFloat(esc) != 0, anyString(reason)
		out = append(out, r)
	}
	return out, rows.Err()
}

// EventFilter selects events for the audit browser, newest first.
type EventFilter struct {
	MessageID int64
	Stage     string
	Kind      string
	Limit     int
	Offset    int
}

// AllEvents lists events across messages, newest first.
func (s *Store) AllEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	q := `SELECT id, coalesce(message_id, 0), at, stage, kind, detail FROM events WHERE 1=1`
	var args []any
	if f.MessageID != 0 {
		q += ` AND message_id=?`
		args = append(args, f.MessageID)
	}
	if f.Stage != "" {
		q += ` AND stage=?`
		args = append(args, f.Stage)
	}
	if f.Kind != "" {
		q += ` AND kind=?`
		args = append(args, f.Kind)
	}
	q += ` ORDER BY id DESC LIMIT ? OFFSET ?`
	args = append(args, limitOr(f.Limit, 100), f.Offset)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", classify(err))
	}
	return scanEvents(rows)
}

// RejectedArticleCount is how often managers rejected one suggested article.
type RejectedArticleCount struct {
	ArticleID  string
	Title      string
	Rejections int
	LastAt     time.Time
	MessageIDs []int64 // newest first, up to 10
}

// ReviewRejectedArticles counts rejections per article since a time (from the
// knowledge stage's knowledge_rejections), most rejected first.
func (s *Store) ReviewRejectedArticles(ctx context.Context, since time.Time) ([]RejectedArticleCount, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT r.message_id, r.at, j.value,
		coalesce((SELECT title FROM knowledge_articles a WHERE a.article_id = j.value LIMIT 1), '')
		FROM knowledge_rejections r, json_each(r.article_ids) j
		WHERE r.at >= ? ORDER BY r.at DESC, r.id DESC`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: rejected articles: %w", classify(err))
	}
	defer rows.Close()
	idx := map[string]int{}
	var out []RejectedArticleCount
	for rows.Next() {
		var msg, at int64
		var id, title string
		if err := rows.Scan(&msg, &at, &id, &title); err != nil {
			return nil, err
		}
		i, ok := idx[id]
		if !ok {
			i = len(out)
			idx[id] = i
			out = append(out, RejectedArticleCount{ArticleID: id, Title: title, LastAt: time.UnixMilli(at).UTC()})
		}
		out[i].Rejections++
		if len(out[i].MessageIDs) < 10 && !containsID(out[i].MessageIDs, msg) {
			out[i].MessageIDs = append(out[i].MessageIDs, msg)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Rejections > out[b].Rejections })
	return out, nil
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
