package store

import (
	"context"
	"fmt"
)

// ThreadMessages returns the parsed forms of up to limit messages of a thread
// recorded before message except, newest first: the thread context a reply is
// classified with.
func (s *Store) ThreadMessages(ctx context.Context, threadKey string, except int64, limit int) ([][]byte, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT p.data FROM dedupe_message_ids d JOIN messages m ON m.id = d.msg_row
		JOIN message_parsed p ON p.message_id = m.id
		WHERE d.thread_key = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?`, threadKey, except, limit)
	if err != nil {
		return nil, fmt.Errorf("store: thread messages: %w", classify(err))
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// ThreadPending reports whether a message of the thread other than except is
// still on its way through the pipeline (not done, skipped or dead): its case
// may not be written yet.
func (s *Store) ThreadPending(ctx context.Context, threadKey string, except int64) (bool, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM dedupe_message_ids d JOIN messages m ON m.id = d.msg_row
		WHERE d.thread_key = ? AND m.id <> ? AND m.state NOT IN ('done', 'skipped', 'dead')`, threadKey, except).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: thread pending: %w", classify(err))
	}
	return n > 0, nil
}
