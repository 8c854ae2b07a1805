package ingest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/store"
)

// loopBatch adds RecordMessages to the store by recording one by one, and
// counts the groups it was given.
type loopBatch struct {
	*store.Store
	groups, largest int
}

func (l *loopBatch) RecordMessages(ctx context.Context, ms []store.NewMessage) ([]store.RecordResult, error) {
	l.groups++
	l.largest = max(l.largest, len(ms))
	out := make([]store.RecordResult, 0, len(ms))
	for _, m := range ms {
		r, err := l.RecordMessage(ctx, m)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func TestBatchRecorderKeepsOrder(t *testing.T) {
	srv := imaptest.StartMemServer(t)
	msgs := imaptest.Corpus(150, 40)
	srv.AppendMany(t, "INBOX", msgs)
	rec := &loopBatch{Store: openStore(t, t.TempDir())}
	cfg := mailboxConfig(srv)
	cfg.BatchSize = 50
	s := NewSyncer(cfg, rec)
	defer s.Close()
	if n := syncOnce(t, s); n != 150 {
		t.Fatalf("fetched %d", n)
	}
	for i, r := range rows(t, rec.Store) {
		if r.UID != uint32(i+1) || r.SHA256 != hexsum(msgs[i]) {
			t.Fatalf("row %d out of order: uid %d", i, r.UID)
		}
	}
	if rec.groups == 0 || rec.largest > maxGroup {
		t.Errorf("groups %d, largest %d", rec.groups, rec.largest)
	}
}

// failingRecorder fails the n-th RecordMessage.
type failingRecorder struct {
	*store.Store
	n     int64
	calls atomic.Int64
}

var errDiskFull = errors.New("disk full")

func (f *failingRecorder) RecordMessage(ctx context.Context, m store.NewMessage) (store.RecordResult, error) {
	if f.calls.Add(1) == f.n {
		return store.RecordResult{}, errDiskFull
	}
	return f.Store.RecordMessage(ctx, m)
}

// RecordMessages fails the whole group (one transaction) holding the n-th message.
func (f *failingRecorder) RecordMessages(ctx context.Context, ms []store.NewMessage) ([]store.RecordResult, error) {
	before := f.calls.Add(int64(len(ms))) - int64(len(ms))
	if before < f.n && f.n <= before+int64(len(ms)) {
		return nil, errDiskFull
	}
	return f.Store.RecordMessages(ctx, ms)
}

// TestRecordFailureStopsAtTheGap: when a commit fails mid-batch, nothing after
// it is committed and last_uid stays below it; the next sync completes.
func TestRecordFailureStopsAtTheGap(t *testing.T) {
	srv := imaptest.StartMemServer(t)
	msgs := imaptest.Corpus(40, 41)
	srv.AppendMany(t, "INBOX", msgs)
	st := openStore(t, t.TempDir())
	cfg := mailboxConfig(srv)
	cfg.BatchSize = 40
	s := NewSyncer(cfg, &failingRecorder{Store: st, n: 17})
	defer s.Close()
	if _, err := s.SyncOnce(context.Background()); !errors.Is(err, errDiskFull) {
		t.Fatalf("SyncOnce: %v, want the record error", err)
	}
	// Whatever committed before the failing group is contiguous from UID 1,
	// last_uid matches it, and the failing message is not among it.
	ms, _ := st.MailboxState(context.Background(), "support", "INBOX")
	committed := len(rows(t, st))
	if int(ms.LastUID) != committed || committed >= 17 {
		t.Fatalf("after failure: last uid %d, %d rows; want equal and below 17", ms.LastUID, committed)
	}
	if n := syncOnce(t, s); n != 40-committed {
		t.Errorf("retry fetched %d, want %d", n, 40-committed)
	}
	for i, r := range rows(t, st) {
		if r.UID != uint32(i+1) {
			t.Fatalf("row %d: uid %d", i, r.UID)
		}
	}
}
