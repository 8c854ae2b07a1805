package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// maxGroup bounds the writes one transaction carries.
const maxGroup = 32

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// writeReq is one Write waiting for the committer.
type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

// committer is the group commit of the single writer: writes that queue up
// while a transaction runs are carried by the next one, each inside a
// savepoint of its own, and all are answered after that one commit. A lone
// write still commits at once. The pipeline issues about fifteen small
// writes per message from many goroutines; committing them one by one wrote
// the same B-tree pages to the WAL again and again and took the WAL locks
// (fcntl) for each.
type committer struct {
	reqs    chan *writeReq
	quit    chan struct{}
	stop    sync.Once
	done    chan struct{}
	groups  atomic.Int64 // transactions run: tests check that writes are grouped
	pending atomic.Int64 // writes waiting to be taken
}

func (c *committer) waiting() int64 { return c.pending.Load() }

func (s *Store) startCommitter() {
	s.gc = &committer{reqs: make(chan *writeReq), quit: make(chan struct{}), done: make(chan struct{})}
	go s.commitLoop()
}

func (s *Store) stopCommitter() {
	if s.gc == nil {
		return
	}
	s.gc.stop.Do(func() { close(s.gc.quit) }) // Close may be called twice
	<-s.gc.done
}

// submit hands fn to the committer and waits for its commit (or failure).
func (s *Store) submit(ctx context.Context, fn func(*sql.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.gc.pending.Add(1)
	defer s.gc.pending.Add(-1)
	select {
	case s.gc.reqs <- req:
	case <-ctx.Done():
		return fmt.Errorf("store: write not started: %w", ctx.Err())
	case <-s.gc.quit:
		return ErrClosed
	}
	// Once taken, the write's outcome is only known after the commit:
	// answering early on ctx would let a caller retry what then commits.
	return <-req.done
}

func (s *Store) commitLoop() {
	defer close(s.gc.done)
	group := make([]*writeReq, 0, maxGroup)
	for {
		select {
		case <-s.gc.quit:
			return
		case req := <-s.gc.reqs:
			group = append(group[:0], req)
		}
	more:
		for len(group) < maxGroup {
			select {
			case req := <-s.gc.reqs:
				group = append(group, req)
			default:
				break more
			}
		}
		s.gc.groups.Add(1)
		s.commitGroup(group)
		clear(group)
	}
}

// commitGroup runs the group's writes in one transaction. A write that fails
// is rolled back to its savepoint and gets its error; the others commit. If
// the transaction itself fails (begin, a rollback SQLite forced, commit),
// every write not already failed gets that error and none took effect.
func (s *Store) commitGroup(group []*writeReq) {
	errs := make([]error, len(group))
	answer := func() {
		for i, r := range group {
			r.done <- errs[i]
		}
	}
	// The transaction outlives any one caller's context; each write's
	// statements still run under its own.
	tx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("store: begin: %w", classify(err))
		}
		answer()
		return
	}
	single := len(group) == 1
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("store: write not started: %w", err)
			continue
		}
		if single {
			errs[i] = r.fn(tx) // no savepoint needed: its failure rolls back all
			continue
		}
		if _, err := tx.ExecContext(r.ctx, `SAVEPOINT w`); err != nil {
			errs[i] = err
			continue
		}
		if err := r.fn(tx); err != nil {
			errs[i] = err
			if _, rerr := tx.ExecContext(context.Background(), `ROLLBACK TO w`); rerr != nil {
				// SQLite ended the transaction (disk full, I/O error): nothing
				// of the group is written.
				s.failGroup(tx, errs, i, rerr)
				answer()
				return
			}
		}
		if _, err := tx.ExecContext(context.Background(), `RELEASE w`); err != nil {
			s.failGroup(tx, errs, i, err)
			answer()
			return
		}
	}
	if single && errs[0] != nil {
		_ = tx.Rollback()
		errs[0] = classify(errs[0])
		answer()
		return
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("store: commit: %w", classify(err))
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		answer()
		return
	}
	for i := range errs {
		errs[i] = classify(errs[i])
	}
	s.ckpt.wake()
	answer()
}

// failGroup rolls the transaction back and gives every write that had not
// failed on its own the error that ended it.
func (s *Store) failGroup(tx *sql.Tx, errs []error, at int, err error) {
	_ = tx.Rollback()
	err = fmt.Errorf("store: group transaction: %w", classify(err))
	for i := range errs {
		if i > at || errs[i] == nil {
			errs[i] = err
		}
	}
}
