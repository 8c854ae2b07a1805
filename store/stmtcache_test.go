package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

func openCaching(t *testing.T) (*sql.DB, *sql.Conn) {
	t.Helper()
	db := sql.OpenDB(cachingConnector{drv: &sqlite.Driver{}, dsn: "file:" + filepath.Join(t.TempDir(), "c.db")})
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b'), ('c')`); err != nil {
		t.Fatal(err)
	}
	return db, conn
}

// cacheState reports how many statements the connection keeps and how many
// of them are lent out.
func cacheState(t *testing.T, conn *sql.Conn) (n, busy int) {
	t.Helper()
	err := conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		for _, e := range c.cache {
			n++
			if e.busy {
				busy++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, busy
}

func TestStmtCacheReusesAndReleases(t *testing.T) {
	ctx := context.Background()
	_, conn := openCaching(t)
	if n, _ := cacheState(t, conn); n != 0 {
		t.Fatalf("a script was cached: %d statements", n)
	}
	for i := range 3 {
		var v string
		if err := conn.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, i+1).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if want := string(rune('a' + i)); v != want {
			t.Fatalf("id %d: got %q, want %q", i+1, v, want)
		}
		if _, err := conn.ExecContext(ctx, `UPDATE t SET v = v WHERE id = ?`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if n, busy := cacheState(t, conn); n != 2 || busy != 0 {
		t.Fatalf("cache holds %d statements, %d lent out; want 2, 0", n, busy)
	}
}

// The same text run again while its rows are still open gets a statement of
// its own; the outer iteration is not disturbed.
func TestStmtCacheNestedSameQuery(t *testing.T) {
	ctx := context.Background()
	_, conn := openCaching(t)
	const q = `SELECT id, v FROM t WHERE id >= ? ORDER BY id`
	rows, err := conn.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var outer []string
	for rows.Next() {
		var id int
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, v)
		inner, err := conn.QueryContext(ctx, q, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		inner.Close()
		if want := 4 - id; n != want {
			t.Fatalf("inner query from id %d: %d rows, want %d", id, n, want)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(outer) != "[a b c]" {
		t.Fatalf("outer rows: %v", outer)
	}
	if _, busy := cacheState(t, conn); busy != 0 {
		t.Fatalf("%d statements still lent out after every rows closed", busy)
	}
}

func TestStmtCacheErrorsAndSchemaChanges(t *testing.T) {
	ctx := context.Background()
	_, conn := openCaching(t)
	// A run that fails while stepping must give the statement back, and the
	// next run of the same text must work.
	const abs = `SELECT abs(?)`
	var n int64
	if err := conn.QueryRowContext(ctx, abs, int64(math.MinInt64)).Scan(&n); err == nil {
		t.Fatal("abs(MinInt64): no integer overflow error")
	}
	if err := conn.QueryRowContext(ctx, abs, -5).Scan(&n); err != nil || n != 5 {
		t.Fatalf("abs(-5) after a failed run: %d, %v", n, err)
	}
	const q = `SELECT * FROM t WHERE id = ?`
	cols := func() int {
		rows, err := conn.QueryContext(ctx, q, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	if n := cols(); n != 2 {
		t.Fatalf("%d columns, want 2", n)
	}
	if _, err := conn.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT`); err != nil {
		t.Fatal(err)
	}
	// The cached statement is re-prepared by SQLite after the schema change.
	if n := cols(); n != 3 {
		t.Fatalf("after ALTER TABLE: %d columns, want 3", n)
	}
	if _, busy := cacheState(t, conn); busy != 0 {
		t.Fatalf("%d statements lent out", busy)
	}
}

// Beyond the bound, queries still run; they are just not kept.
func TestStmtCacheBound(t *testing.T) {
	ctx := context.Background()
	_, conn := openCaching(t)
	for i := range maxCachedStmts + 20 {
		var got int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d + ?`, i), 1).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != i+1 {
			t.Fatalf("query %d: got %d", i, got)
		}
	}
	if n, busy := cacheState(t, conn); n != maxCachedStmts || busy != 0 {
		t.Fatalf("cache holds %d (%d lent), want %d (0)", n, busy, maxCachedStmts)
	}
}

// An IN list of any length from 1 to 200 matches exactly its values and
// costs the connection one cached statement per power of two, not per length.
func TestInListPaddedMatchesOnlyItsValues(t *testing.T) {
	ctx := context.Background()
	_, conn := openCaching(t)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE n (x INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 400; i++ { // 0 too: padding with zero values would match it
		if _, err := conn.ExecContext(ctx, `INSERT INTO n (x) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := cacheState(t, conn)
	for k := 1; k <= 200; k++ {
		vals := make([]int64, k)
		for i := range vals {
			vals[i] = int64(2*i + 1) // odd numbers: 1, 3, 5, …
		}
		in, args := inList(vals)
		if len(args)&(len(args)-1) != 0 || len(args) < k || len(args) >= 2*k && k > 1 {
			t.Fatalf("%d values padded to %d arguments, want the next power of two", k, len(args))
		}
		rows, err := conn.QueryContext(ctx, `SELECT x FROM n WHERE x IN `+in+` ORDER BY x`, args...)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for rows.Next() {
			var x int64
			if err := rows.Scan(&x); err != nil {
				t.Fatal(err)
			}
			got = append(got, x)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(vals) {
			t.Fatalf("%d values: matched %v, want %v", k, got, vals)
		}
	}
	after, _ := cacheState(t, conn)
	if grew := after - before; grew != 9 { // 1, 2, 4, …, 256
		t.Fatalf("200 list lengths cached %d statements, want 9", grew)
	}
}
