// Package store is triage's durable state: one SQLite database (modernc.org/sqlite,
// no cgo) holding every message's raw bytes and state, the append-only event log,
// per-mailbox UID state and the tables of the later stages.
//
// Writes go through a single connection (Write), so SQLite's one-writer rule is
// met without SQLITE_BUSY storms; reads use a separate pool (DB). The database
// runs in WAL mode so readers never block the writer.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Config is the `store` section of the config file.
type Config struct {
	// Path of the SQLite database file; created with its directory when missing.
	Path string `yaml:"path"`
	// BusyTimeout is how long a connection waits for a lock before SQLITE_BUSY.
	BusyTimeout time.Duration `yaml:"busy_timeout"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Path == "" {
		c.Path = "triage.db"
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
}

// Validate reports every problem with the section.
func (c *Config) Validate() []error {
	var errs []error
	if strings.TrimSpace(c.Path) == "" {
		errs = append(errs, errors.New("path: must not be empty"))
	}
	if c.BusyTimeout < 0 {
		errs = append(errs, errors.New("busy_timeout: must not be negative"))
	}
	return errs
}

// Store is an open database.
type Store struct {
	writer *sql.DB // exactly one connection: all writes serialize here
	reader *sql.DB
	ckpt   *checkpointer
	gc     *committer // nil until migrations are done
	log    *slog.Logger
	now    func() time.Time
	path   string
	fsync  func(path string) error // tests: replaces the WAL fsync
}

// Option configures Open.
type Option func(*Store)

// WithNow injects the clock used for timestamps.
func WithNow(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// Open opens (creating if needed) the database at cfg.Path and applies pending migrations.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	cfg.SetDefaults()
	s := &Store{log: slog.New(slog.DiscardHandler), now: time.Now, path: cfg.Path}
	for _, o := range opts {
		o(s)
	}
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", cfg.Path, err)
		}
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		for _, e := range extra {
			q.Add("_pragma", e)
		}
		return "file:" + cfg.Path + "?" + q.Encode() + "&_txlock=immediate"
	}
	drv, err := registeredDriver()
	if err != nil {
		return nil, err
	}
	s.writer = sql.OpenDB(cachingConnector{drv: drv, dsn: dsn("wal_autocheckpoint(0)")})
	s.writer.SetMaxOpenConns(1)
	s.writer.SetConnMaxIdleTime(0)
	if err := s.writer.PingContext(ctx); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, classify(err))
	}
	if err := s.migrate(ctx); err != nil {
		s.writer.Close()
		return nil, err
	}
	// Each reader keeps 512 KB of pages rather than SQLite's 2 MB: four
	// private caches mostly held copies of the same pages, which the OS
	// caches anyway, and filling them was about 6 MB of the 21 MB resident
	// memory grew by between 1,000 and 10,000 emails.
	s.reader = sql.OpenDB(cachingConnector{drv: drv, dsn: dsn("query_only(1)", "cache_size(-512)")})
	s.reader.SetMaxOpenConns(4)
	// All four stay open: database/sql keeps two idle by default, and opening
	// a SQLite connection (schema load, pragmas) cost 8% of pipeline CPU.
	s.reader.SetMaxIdleConns(4)
	ckdb := sql.OpenDB(cachingConnector{drv: drv, dsn: dsn("cache_size(-64)")}) // checkpoints copy pages without the cache
	ckdb.SetMaxOpenConns(1)
	s.ckpt = startCheckpointer(ckdb, s.log)
	s.startCommitter()
	return s, nil
}

// registeredDriver is the driver the sqlite package registered, not a fresh
// one: connection hooks and functions registered on the package (the
// disk-full test caps pages that way) apply to the store's connections too.
func registeredDriver() (*sqlite.Driver, error) {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite driver: %w", err)
	}
	defer db.Close()
	d, ok := db.Driver().(*sqlite.Driver)
	if !ok {
		return nil, fmt.Errorf("store: driver registered as sqlite is %T, not modernc's", db.Driver())
	}
	return d, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	s.stopCommitter()
	return errors.Join(s.ckpt.close(), s.reader.Close(), s.writer.Close())
}

// Hot write statements.
const (
	sqlClaim = `UPDATE messages SET leased_until = ?
			WHERE id IN (SELECT id FROM messages WHERE state = ? AND next_attempt_at <= ? AND leased_until <= ?
			             ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING id`
	sqlAppendEvent = `INSERT INTO events (message_id, at, stage, kind, detail) VALUES (?, ?, ?, ?, ?)`
	sqlAdvance     = `UPDATE messages SET state=?, reason=?, resume_state=?, last_error=?,
			attempts = CASE WHEN ? THEN attempts ELSE 0 END, next_attempt_at=0, leased_until=0, updated_at=?
			WHERE id=? AND state=?`
	sqlRetry = `UPDATE messages SET attempts = attempts + ?, next_attempt_at=?, last_error=?,
			leased_until=0, updated_at=? WHERE id=? AND state=?`
	sqlPutStageData = `INSERT INTO stage_data (message_id, stage, data, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (message_id, stage) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at`
)

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// DB is the read pool. Writing through it fails (query_only).
func (s *Store) DB() *sql.DB { return s.reader }

// Write runs fn in an immediate transaction on the single writer connection and
// commits it when fn returns nil. Errors that come from a locked or full
// database are marked Temporary so callers pause and retry instead of losing work.
//
// Writes that arrive while another commits share the next transaction (group
// commit, see committer); each keeps its own outcome.
func (s *Store) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.gc != nil {
		return s.submit(ctx, fn)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", classify(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return classify(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", classify(err))
	}
	s.ckpt.wake()
	return nil
}

// writeIn runs fn in tx when the caller already has one open (so its rows
// commit with the caller's), else in a write transaction of its own.
func (s *Store) writeIn(ctx context.Context, tx *sql.Tx, fn func(*sql.Tx) error) error {
	if tx != nil {
		return fn(tx)
	}
	return s.Write(ctx, fn)
}

// Error is a database error with its retry class.
type Error struct {
	Err       error
	temporary bool
}

func (e *Error) Error() string   { return e.Err.Error() }
func (e *Error) Unwrap() error   { return e.Err }
func (e *Error) Temporary() bool { return e.temporary }

// classify marks lock, disk-full and I/O errors as temporary: the pipeline
// pauses on them rather than declaring a message dead. It goes by SQLite's
// result code (the primary code is the low byte of an extended one).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case sqliteBusy, sqliteLocked, sqliteFull, sqliteIOErr:
			return &Error{Err: err, temporary: true}
		}
		return err
	}
	msg := err.Error()
	for _, s := range []string{"database is locked", "database or disk is full", "disk I/O error"} {
		if strings.Contains(msg, s) {
			return &Error{Err: err, temporary: true}
		}
	}
	return err
}

// SQLite primary result codes that mean "try again later".
const (
	sqliteBusy   = 5
	sqliteLocked = 6
	sqliteIOErr  = 10
	sqliteFull   = 13
)

// migrate applies embedded migrations in file-name order, each in its own
// transaction, recording the version so each runs once.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) WITHOUT ROWID`); err != nil {
		return fmt.Errorf("store: migrations table: %w", classify(err))
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("store: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		var n int
		if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("store: read schema version: %w", classify(err))
		}
		if n > 0 {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("store: read migration %s: %w", name, err)
		}
		err = s.Write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, s.now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", version, err)
		}
		s.log.Info("applied migration", "version", version)
	}
	return nil
}

// SchemaVersion is the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (string, error) {
	var v sql.NullString
	err := s.writer.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	return v.String, err
}
