package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// This file holds the attachments ledger (migration 0060_attachments.sql).

// States of an AttachmentRow.
const (
	AttachmentPending   = "pending"   // claimed; its upload has not been sent
	AttachmentSending   = "sending"   // sent (or about to be), outcome unknown
	AttachmentCommitted = "committed" // Salesforce has the file
	AttachmentFailed    = "failed"    // refused: nothing stored; may be claimed again
)

// AttachmentRow is one file of a thread, uploaded (or to be uploaded) once.
type AttachmentRow struct {
	ThreadKey         string
	SHA256            string
	MessageID         int64
	Part              string
	Filename          string
	Size              int64
	MD5               string
	Mode              string
	State             string
	ContentVersionID  string
	ContentDocumentID string
	LastError         string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const attachmentCols = `thread_key, sha256, message_id, part, filename, size, md5, mode, state,
	content_version_id, content_document_id, last_error, created_at, updated_at`

func scanAttachment(r scanner) (AttachmentRow, error) {
	var a AttachmentRow
	var c, u int64
	err := r.Scan(&a.ThreadKey, &a.SHA256, &a.MessageID, &a.Part, &a.Filename, &a.Size, &a.MD5, &a.Mode, &a.State,
		&a.ContentVersionID, &a.ContentDocumentID, &a.LastError, &c, &u)
	a.CreatedAt, a.UpdatedAt = time.UnixMilli(c).UTC(), time.UnixMilli(u).UTC()
	return a, err
}

// Attachment loads a thread's file row; ok is false when there is none.
func (s *Store) Attachment(ctx context.Context, threadKey, sha256 string) (AttachmentRow, bool, error) {
	a, err := scanAttachment(s.reader.QueryRowContext(ctx, `SELECT `+attachmentCols+` FROM attachments WHERE thread_key=? AND sha256=?`, threadKey, sha256))
	if errors.Is(err, sql.ErrNoRows) {
		return AttachmentRow{}, false, nil
	}
	if err != nil {
		return AttachmentRow{}, false, fmt.Errorf("store: attachment: %w", classify(err))
	}
	return a, true, nil
}

// AttachmentsByMessage lists the rows a message owns, by part.
func (s *Store) AttachmentsByMessage(ctx context.Context, messageID int64) ([]AttachmentRow, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+attachmentCols+` FROM attachments WHERE message_id=? ORDER BY part, sha256`, messageID)
	if err != nil {
		return nil, fmt.Errorf("store: attachments: %w", classify(err))
	}
	defer rows.Close()
	var out []AttachmentRow
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: attachments: %w", classify(err))
		}
		out = append(out, a)
	}
	return out, classify(rows.Err())
}

// ClaimAttachment records a's upload as a.MessageID's: it inserts the row,
// or takes over a row whose upload failed, or updates the message's own row.
// It returns the row as stored: when its MessageID is another message, that
// message owns the upload (claimed is false).
func (s *Store) ClaimAttachment(ctx context.Context, a AttachmentRow) (AttachmentRow, bool, error) {
	now := s.now().UnixMilli()
	var got AttachmentRow
	err := s.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO attachments (`+attachmentCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (thread_key, sha256) DO UPDATE SET message_id=excluded.message_id, part=excluded.part,
				filename=excluded.filename, size=excluded.size, md5=excluded.md5, mode=excluded.mode, state=excluded.state,
				last_error='', updated_at=excluded.updated_at
			WHERE attachments.state='failed' OR (attachments.message_id=excluded.message_id AND attachments.state<>'committed')`,
			a.ThreadKey, a.SHA256, a.MessageID, a.Part, a.Filename, a.Size, a.MD5, a.Mode, a.State,
			a.ContentVersionID, a.ContentDocumentID, a.LastError, now, now); err != nil {
			return err
		}
		var err error
		got, err = scanAttachment(tx.QueryRowContext(ctx, `SELECT `+attachmentCols+` FROM attachments WHERE thread_key=? AND sha256=?`, a.ThreadKey, a.SHA256))
		return err
	})
	if err != nil {
		return AttachmentRow{}, false, fmt.Errorf("store: claim attachment: %w", classify(err))
	}
	return got, got.MessageID == a.MessageID, nil
}

// SetAttachmentState moves the message's row to state with the given ids
// (empty ids keep the stored ones).
func (s *Store) SetAttachmentState(ctx context.Context, threadKey, sha256 string, messageID int64, state, versionID, documentID, lastErr string) error {
	now := s.now().UnixMilli()
	err := s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE attachments SET state=?,
				content_version_id=CASE WHEN ?='' THEN content_version_id ELSE ? END,
				content_document_id=CASE WHEN ?='' THEN content_document_id ELSE ? END,
				last_error=?, updated_at=? WHERE thread_key=? AND sha256=? AND message_id=?`,
			state, versionID, versionID, documentID, documentID, lastErr, now, threadKey, sha256, messageID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set attachment state: %w", classify(err))
	}
	return nil
}
