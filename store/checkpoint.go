package store

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// checkpointInterval paces the checkpointer: commits that land meanwhile are
// folded by the next run, so the WAL holds at most this long's writes.
const checkpointInterval = 250 * time.Millisecond

// checkpointer copies the WAL back into the database file from a connection
// of its own. SQLite otherwise does it inside whichever commit pushes the WAL
// past 1,000 pages, on the single writer: a seventh of ingest's time went
// there. A PASSIVE checkpoint runs alongside the writer and never blocks it;
// the writer connection has wal_autocheckpoint off.
type checkpointer struct {
	db   *sql.DB
	log  *slog.Logger
	kick chan struct{}
	stop context.CancelFunc
	done chan struct{}
}

func startCheckpointer(db *sql.DB, log *slog.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, log: log, kick: make(chan struct{}, 1), stop: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

// wake asks for a checkpoint soon; it never blocks the committer.
func (c *checkpointer) wake() {
	if c == nil {
		return // migrations, before Open starts it
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		var busy, logFrames, done int
		err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
		if err != nil && ctx.Err() == nil {
			// The next commit asks again; a lasting failure only lets the WAL grow.
			c.log.Warn("store: WAL checkpoint failed", "err", err)
		}
		pace.Reset(checkpointInterval)
		select {
		case <-ctx.Done():
			return
		case <-pace.C:
		}
	}
}

// close stops the checkpointer; closing the last connection folds the rest.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	c.stop()
	<-c.done
	return c.db.Close()
}
