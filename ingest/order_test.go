package ingest

import (
	"context"
	"testing"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/store"
)

// oneByOne hides the store's batch method, so every message commits in a
// transaction of its own, and checks after each commit that last_uid has not
// passed a UID that is not recorded yet: a crash right then would lose it.
type oneByOne struct {
	Recorder
	t        *testing.T
	recorded map[uint32]bool
}

func (r *oneByOne) RecordMessage(ctx context.Context, m store.NewMessage) (store.RecordResult, error) {
	res, err := r.Recorder.RecordMessage(ctx, m)
	if err != nil {
		return res, err
	}
	r.recorded[m.UID] = true
	st, err := r.Recorder.MailboxState(ctx, m.Mailbox, m.Folder)
	if err != nil {
		return res, err
	}
	for uid := uint32(1); uid <= st.LastUID; uid++ {
		if !r.recorded[uid] {
			r.t.Errorf("after UID %d committed, last_uid is %d but UID %d is not recorded", m.UID, st.LastUID, uid)
			break
		}
	}
	return res, nil
}

func TestSyncServerAnswersOutOfOrder(t *testing.T) {
	srv := imaptest.StartMemServer(t, imaptest.WithReversedFetch())
	const n = 20
	srv.AppendMany(t, "INBOX", imaptest.Corpus(n, 7))
	st := openStore(t, t.TempDir())
	rec := &oneByOne{Recorder: st, t: t, recorded: map[uint32]bool{}}
	s := NewSyncer(mailboxConfig(srv), rec) // batches of 7, each answered 7, 6, … 1
	defer s.Close()
	got, err := s.SyncOnce(context.Background())
	if err != nil || got != n {
		t.Fatalf("sync: %d messages, %v", got, err)
	}
	ms, err := st.MailboxState(context.Background(), "support", "INBOX")
	if err != nil || ms.LastUID != n {
		t.Fatalf("after the sync: %+v, %v; want last_uid %d", ms, err, n)
	}
}
