package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "db", "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func msg(mailbox string, uid uint32, raw string) NewMessage {
	sum := sha256.Sum256([]byte(raw))
	return NewMessage{Mailbox: mailbox, Folder: "INBOX", UIDValidity: 7, UID: uid, Raw: []byte(raw),
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(raw)), MessageID: "id-" + raw[:4] + "@x"}
}

func TestMigrationsApplyOnceAndRecordVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	st, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := st.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	sort.Strings(names)
	want := strings.TrimSuffix(filepath.Base(names[len(names)-1]), ".sql")
	if v1 != want {
		t.Errorf("schema version %q, want newest migration %q", v1, want)
	}
	if _, err := st.RecordMessage(ctx, msg("a", 1, "abcd body")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Reopening must not re-run migrations (they would fail on existing tables) and keeps data.
	st, err = Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	var applied int
	if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(names) {
		t.Errorf("%d migrations recorded, want %d", applied, len(names))
	}
	if c, _ := st.Counts(ctx); c.Total != 1 {
		t.Errorf("data lost across reopen: %+v", c)
	}
	var mode string
	if err := st.DB().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

func TestRecordMessageIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	first, err := st.RecordMessage(ctx, msg("a", 1, "abcd body"))
	if err != nil || !first.New {
		t.Fatalf("first record: %+v %v", first, err)
	}
	tests := []struct {
		name    string
		m       NewMessage
		wantNew bool
		sameID  bool
	}{
		{"same location again", msg("a", 1, "abcd body"), false, true},
		{"same message in another mailbox", msg("b", 9, "abcd body"), false, true},
		{"same message after a uidvalidity reset", func() NewMessage { m := msg("a", 1, "abcd body"); m.UIDValidity = 8; return m }(), false, true},
		{"same Message-ID, other content", msg("a", 2, "abcd other body"), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := st.RecordMessage(ctx, tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if res.New != tt.wantNew || (res.ID == first.ID) != tt.sameID {
				t.Errorf("got %+v, first id %d", res, first.ID)
			}
		})
	}
	c, _ := st.Counts(ctx)
	if c.Total != 2 {
		t.Errorf("total %d, want 2", c.Total)
	}
	ms, _ := st.MailboxState(ctx, "a", "INBOX")
	if ms.LastUID != 2 || ms.UIDValidity != 7 {
		t.Errorf("mailbox state %+v", ms)
	}
}

func TestConcurrentRecordSameMessage(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	news := 0
	for i := range 20 {
		wg.Go(func() {
			res, err := st.RecordMessage(ctx, msg("a", uint32(i%2+1), "abcd body"))
			if err != nil {
				t.Error(err)
				return
			}
			if res.New {
				mu.Lock()
				news++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if news != 1 {
		t.Errorf("%d callers created the message, want 1", news)
	}
}

func TestTransitions(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "t.db")}, WithNow(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, _ := st.RecordMessage(ctx, msg("a", 1, "abcd body"))
	claimed, err := st.Claim(ctx, StateReceived, 10, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if again, _ := st.Claim(ctx, StateReceived, 10, time.Minute); len(again) != 0 {
		t.Errorf("a leased message was handed out twice")
	}
	now = now.Add(2 * time.Minute) // lease expired: a crashed worker's message comes back
	if again, _ := st.Claim(ctx, StateReceived, 10, time.Minute); len(again) != 1 {
		t.Errorf("expired lease did not return the message")
	}
	if err := st.Advance(ctx, Transition{ID: res.ID, From: StateDeduped, To: StateClassified, Stage: "x"}); !errors.Is(err, ErrStateConflict) {
		t.Errorf("advance from wrong state: %v", err)
	}
	if err := st.Advance(ctx, Transition{ID: res.ID, From: StateReceived, To: StateSkipped, Stage: "x"}); err == nil {
		t.Errorf("skip without reason accepted")
	}
	if err := st.Advance(ctx, Transition{ID: res.ID, From: StateReceived, To: StateDead, Stage: "x", Reason: "boom", Error: "it broke"}); err != nil {
		t.Fatal(err)
	}
	m, _ := st.Message(ctx, res.ID)
	if m.State != StateDead || m.Reason != "boom" || m.LastError != "it broke" {
		t.Errorf("dead message: %+v", m)
	}
	evs, _ := st.Events(ctx, res.ID)
	if len(evs) != 2 || evs[0].Kind != "recorded" || evs[1].Kind != "dead" {
		t.Errorf("events: %+v", evs)
	}
	err = st.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE events SET detail='x'`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("events could be updated: %v", err)
	}
}

// The writer never checkpoints inside a commit; the checkpointer folds the
// WAL into the database file on its own connection.
func TestCheckpointOffTheCommitPath(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var auto int
	err = st.Write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto)
	})
	if err != nil || auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("x", 8<<10)
	for i := range 300 {
		err := st.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO events (message_id, at, stage, kind, detail) VALUES (NULL, ?, 'test', 'fill', ?)`, i, payload)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// 2.4 MB went into the WAL; the database file must receive it without
	// anyone else checkpointing.
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= before.Size()+2<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes after 2.4 MB of commits (was %d): no checkpoint", fi.Size(), before.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A database from before 0070 keeps every message's parsed form when the
// column moves to its own table.
func TestMigrationMovesParsedForms(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) WITHOUT ROWID`); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if version >= "0070" {
			break
		}
		body, _ := migrationFS.ReadFile(name)
		if _, err := db.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, version); err != nil {
			t.Fatal(err)
		}
	}
	for i, parsed := range []any{`{"subject":"one"}`, nil} {
		if _, err := db.ExecContext(ctx, `INSERT INTO messages (sha256, message_id, mailbox, folder, uidvalidity, uid, size,
			parsed, state, created_at, updated_at) VALUES (?, ?, 'a', 'INBOX', 1, ?, 1, ?, 'received', 0, 0)`,
			fmt.Sprint("sha", i), fmt.Sprint("mid", i), i+1, parsed); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	st, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id, want := range map[int64]string{1: `{"subject":"one"}`, 2: ""} {
		m, err := st.Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Parsed) != want {
			t.Errorf("message %d: parsed %q, want %q", id, m.Parsed, want)
		}
	}
	if _, err := st.DB().ExecContext(ctx, `SELECT parsed FROM messages`); err == nil {
		t.Error("messages still has the parsed column")
	}
}

// The locations handed out for acknowledgement are on disk first: Unacked
// syncs the WAL after reading them, and an fsync that fails means nothing
// is handed out.
func TestUnackedSyncsCommitsBeforeHandingThemOut(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	var synced []string
	st.fsync = func(path string) error { synced = append(synced, path); return nil }
	if locs, err := st.Unacked(ctx, "a", "INBOX", 7, 10); err != nil || len(locs) != 0 {
		t.Fatalf("empty folder: %v, %v", locs, err)
	}
	if len(synced) != 0 {
		t.Fatalf("nothing to acknowledge, yet synced %v", synced)
	}
	if _, err := st.RecordMessage(ctx, msg("a", 1, "abcd body")); err != nil {
		t.Fatal(err)
	}
	locs, err := st.Unacked(ctx, "a", "INBOX", 7, 10)
	if err != nil || len(locs) != 1 || locs[0].UID != 1 {
		t.Fatalf("unacked: %v, %v", locs, err)
	}
	if len(synced) != 1 || synced[0] != st.Path()+"-wal" {
		t.Fatalf("synced %v, want the WAL once", synced)
	}
	st.fsync = func(string) error { return errors.New("EIO") }
	if locs, err := st.Unacked(ctx, "a", "INBOX", 7, 10); err == nil || locs != nil {
		t.Fatalf("fsync failed, yet handed out %v (err %v)", locs, err)
	}
	st.fsync = nil // the real one: the WAL exists and syncs
	if _, err := st.Unacked(ctx, "a", "INBOX", 7, 10); err != nil {
		t.Fatal(err)
	}
}
