package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Tables of the classify stage (migrations/0010_classify.sql).

// PutCalibration stores the calibration (classify.Calibration JSON) of a model, replacing any older one.
func (s *Store) PutCalibration(ctx context.Context, model string, data []byte) error {
	err := s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO classify_calibrations (model, data, fitted_at) VALUES (?, ?, ?)
			ON CONFLICT (model) DO UPDATE SET data=excluded.data, fitted_at=excluded.fitted_at`, model, data, s.now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put calibration of %s: %w", model, err)
	}
	return nil
}

// Calibration returns the stored calibration of a model; ok is false when there is none.
func (s *Store) Calibration(ctx context.Context, model string) (data []byte, ok bool, err error) {
	err = s.reader.QueryRowContext(ctx, `SELECT data FROM classify_calibrations WHERE model=?`, model).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: calibration of %s: %w", model, classify(err))
	}
	return data, true, nil
}

// Correction is a manager's label for a message. Subject and Body must
// already be redacted (classify.Redactor) new text: the raw email is never copied here.
type Correction struct {
	ID        int64
	MessageID int64 // 0 when not tied to a message (e.g. imported)
	Subject   string
	Body      string
	Category  string
	Priority  string
	Actor     string
	CreatedAt time.Time
}

// AddCorrection records a correction; a newer correction of the same message replaces the older one.
func (s *Store) AddCorrection(ctx context.Context, c Correction) (int64, error) {
	if c.Category == "" {
		return 0, errors.New("store: correction without category")
	}
	var msg any
	if c.MessageID != 0 {
		msg = c.MessageID
	}
	var id int64
	err := s.Write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO classify_corrections (message_id, subject, body, category, priority, actor, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (message_id) DO UPDATE SET subject=excluded.subject, body=excluded.body, category=excluded.category,
				priority=excluded.priority, actor=excluded.actor, created_at=excluded.created_at
			RETURNING id`, msg, c.Subject, c.Body, c.Category, c.Priority, c.Actor, s.now().UnixMilli()).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: add correction: %w", err)
	}
	return id, nil
}

// Corrections returns up to limit corrections, newest first (limit <= 0: all).
func (s *Store) Corrections(ctx context.Context, limit int) ([]Correction, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT id, coalesce(message_id, 0), subject, body, category, priority, actor, created_at
		FROM classify_corrections ORDER BY created_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: corrections: %w", classify(err))
	}
	defer rows.Close()
	var out []Correction
	for rows.Next() {
		var c Correction
		var at int64
		if err := rows.Scan(&c.ID, &c.MessageID, &c.Subject, &c.Body, &c.Category, &c.Priority, &c.Actor, &at); err != nil {
			return nil, fmt.Errorf("store: corrections: %w", err)
		}
		c.CreatedAt = time.UnixMilli(at).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: corrections: %w", classify(err))
	}
	return out, nil
}

// PutModel stores a trained offline model under name.
func (s *Store) PutModel(ctx context.Context, name string, data []byte) error {
	err := s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO classify_models (name, data, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET data=excluded.data, created_at=excluded.created_at`, name, data, s.now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put model %s: %w", name, err)
	}
	return nil
}

// ModelBlob returns a stored model; ok is false when there is none.
func (s *Store) ModelBlob(ctx context.Context, name string) (data []byte, ok bool, err error) {
	err = s.reader.QueryRowContext(ctx, `SELECT data FROM classify_models WHERE name=?`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: model %s: %w", name, classify(err))
	}
	return data, true, nil
}
