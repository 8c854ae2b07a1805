package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"modernc.org/sqlite"
)

// maxCachedStmts bounds the prepared statements kept per connection. The
// application has a fixed set of queries (well under this); the bound only
// matters if some caller builds SQL text dynamically, e.g. IN lists of
// varying length, which then simply go uncached once it is reached.
const maxCachedStmts = 512

// cachingConnector opens SQLite connections that keep every single-statement
// query they prepare, keyed by its text, and reuse it the next time the same
// text comes: modernc's driver otherwise parses and plans the SQL on every
// Exec and Query, which cost as much CPU as running the statements (16% of
// the pipeline's CPU). Callers keep using plain database/sql calls.
type cachingConnector struct {
	drv *sqlite.Driver
	dsn string
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	dc, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	raw, ok := dc.(rawConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("sqlite driver connection %T lacks context methods", dc)
	}
	return &cachingConn{raw: raw, cache: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// rawConn is what the wrapper needs of the driver's connection.
type rawConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is used by one goroutine at a time (database/sql's contract for
// driver connections), so the cache needs no lock.
type cachingConn struct {
	raw   rawConn
	cache map[string]*cachedStmt
}

type cachedStmt struct {
	st   driver.Stmt
	busy bool // handed out and not closed yet: a second user gets a fresh statement
}

// cacheable keeps scripts (several statements: the driver re-parses those on
// every run anyway) out of the cache.
func cacheable(query string) bool {
	q := strings.TrimRight(query, " \t\r\n;")
	return !strings.Contains(q, ";")
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if e := c.cache[query]; e != nil && !e.busy {
		e.busy = true
		return &sharedStmt{e: e}, nil
	}
	st, err := c.raw.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, taken := c.cache[query]; taken || len(c.cache) >= maxCachedStmts || !cacheable(query) {
		return st, nil // the caller closes (finalizes) it
	}
	e := &cachedStmt{st: st, busy: true}
	c.cache[query] = e
	return &sharedStmt{e: e}, nil
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
	return res, errors.Join(err, st.Close())
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	// The statement is released (or finalized) only once its rows are done.
	return &stmtRows{Rows: rows, st: st}, nil
}

func (c *cachingConn) Close() error {
	var errs []error
	for q, e := range c.cache {
		errs = append(errs, e.st.Close())
		delete(c.cache, q)
	}
	return errors.Join(append(errs, c.raw.Close())...)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.raw.BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.raw.Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.raw.ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.raw.IsValid() }

// sharedStmt lends a cached statement; Close gives it back instead of
// finalizing it. The driver resets a statement after each Exec and when its
// rows are closed, so the next user starts clean.
type sharedStmt struct {
	e      *cachedStmt
	closed bool
}

func (s *sharedStmt) Close() error {
	if !s.closed {
		s.closed = true
		s.e.busy = false
	}
	return nil
}

func (s *sharedStmt) NumInput() int { return s.e.st.NumInput() }

func (s *sharedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.e.st.Exec(args)
}

func (s *sharedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.e.st.Query(args)
}

func (s *sharedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.e.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *sharedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.e.st.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// stmtRows closes its statement after the rows; it passes the column type
// details through so sql.Rows.ColumnTypes keeps working.
type stmtRows struct {
	driver.Rows
	st driver.Stmt
}

func (r *stmtRows) Close() error {
	return errors.Join(r.Rows.Close(), r.st.Close())
}

func (r *stmtRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *stmtRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *stmtRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *stmtRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *stmtRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// inList returns the placeholder list "(?,?,…)" for vals and its arguments,
// padded with NULLs to the next power of two. Every IN-list length is a
// statement of its own to SQLite and to the statement cache, so one per
// length seen piled up in every connection's cache, and SQLite's memory grew
// with the variety of the data (15 MB more at 10,000 emails than at 1,000).
// A NULL never equals anything, so the padding matches no row; callers use
// IN, never NOT IN, where it would.
func inList[T any](vals []T) (string, []any) {
	n := 1
	for n < len(vals) {
		n *= 2
	}
	args := make([]any, n)
	for i, v := range vals {
		args[i] = v
	}
	return "(?" + strings.Repeat(",?", n-1) + ")", args
}
