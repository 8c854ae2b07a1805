package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// FolderCounts is one folder's sync position and message counts.
type FolderCounts struct {
	Mailbox     string        `json:"mailbox"`
	Folder      string        `json:"folder"`
	UIDValidity uint32        `json:"uidvalidity"`
	LastUID     uint32        `json:"last_uid"`
	Messages    int           `json:"messages"`
	ByState     map[State]int `json:"by_state"`
}

// Counts is the status overview.
type Counts struct {
	Total     int            `json:"total"`
	ByState   map[State]int  `json:"by_state"`
	Mailboxes []FolderCounts `json:"mailboxes"`
}

// Counts returns message counts by state, overall and per folder (by first location).
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	c := Counts{ByState: map[State]int{}}
	for _, st := range AllStates {
		c.ByState[st] = 0
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT state, count(*) FROM messages GROUP BY state`)
	if err != nil {
		return c, fmt.Errorf("store: counts: %w", classify(err))
	}
	for rows.Next() {
		var st State
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return c, err
		}
		c.ByState[st] = n
		c.Total += n
	}
	rows.Close()
	idx := map[[2]string]int{}
	rows, err = s.reader.QueryContext(ctx, `SELECT mailbox, folder, uidvalidity, last_uid FROM mailboxes ORDER BY mailbox, folder`)
	if err != nil {
		return c, fmt.Errorf("store: counts: %w", classify(err))
	}
	for rows.Next() {
		f := FolderCounts{ByState: map[State]int{}}
		if err := rows.Scan(&f.Mailbox, &f.Folder, &f.UIDValidity, &f.LastUID); err != nil {
			rows.Close()
			return c, err
		}
		idx[[2]string{f.Mailbox, f.Folder}] = len(c.Mailboxes)
		c.Mailboxes = append(c.Mailboxes, f)
	}
	rows.Close()
	rows, err = s.reader.QueryContext(ctx, `SELECT mailbox, folder, state, count(*) FROM messages GROUP BY mailbox, folder, state`)
	if err != nil {
		return c, fmt.Errorf("store: counts: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var mb, folder string
		var st State
		var n int
		if err := rows.Scan(&mb, &folder, &st, &n); err != nil {
			return c, err
		}
		i, ok := idx[[2]string{mb, folder}]
		if !ok {
			i = len(c.Mailboxes)
			idx[[2]string{mb, folder}] = i
			c.Mailboxes = append(c.Mailboxes, FolderCounts{Mailbox: mb, Folder: folder, ByState: map[State]int{}})
		}
		c.Mailboxes[i].ByState[st] = n
		c.Mailboxes[i].Messages += n
	}
	return c, rows.Err()
}

// Pending counts messages not yet in a final state, and the earliest time one of
// them is due (zero when none is waiting on a retry).
func (s *Store) Pending(ctx context.Context) (n int, nextDue time.Time, err error) {
	var next int64
	// IN over the working states, not NOT IN over the final ones: it uses the
	// (state, next_attempt_at) index instead of scanning every message.
	err = s.reader.QueryRowContext(ctx, `SELECT count(*), coalesce(min(next_attempt_at), 0) FROM messages
		WHERE state IN ('received','deduped','classified','enriched')`).Scan(&n, &next)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: pending: %w", classify(err))
	}
	if next > 0 {
		nextDue = time.UnixMilli(next).UTC()
	}
	return n, nextDue, nil
}

// NextDue is when the earliest unleased message in state becomes due (zero when none waits).
func (s *Store) NextDue(ctx context.Context, state State) (time.Time, error) {
	var next sql.NullInt64
	err := s.reader.QueryRowContext(ctx, `SELECT min(max(next_attempt_at, leased_until)) FROM messages WHERE state=?`, state).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: next due: %w", classify(err))
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return time.UnixMilli(next.Int64).UTC(), nil
}
