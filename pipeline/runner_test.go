package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/triage-dev/triage/store"
)

type testErr struct {
	msg        string
	permanent  bool
	retryAfter time.Duration
}

func (e testErr) Error() string             { return e.msg }
func (e testErr) Permanent() bool           { return e.permanent }
func (e testErr) RetryAfter() time.Duration { return e.retryAfter }
func (e testErr) Reason() string {
	if e.permanent {
		return "bad_input"
	}
	return ""
}

func openTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func record(t *testing.T, st *store.Store, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		raw := fmt.Appendf(nil, "Message-ID: <%d@test>\r\nSubject: s%d\r\n\r\nbody\r\n", i, i)
		sum := sha256.Sum256(raw)
		res, err := st.RecordMessage(context.Background(), store.NewMessage{
			Mailbox: "mb", Folder: "INBOX", UIDValidity: 1, UID: uint32(i + 1), Raw: raw,
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(raw)), MessageID: fmt.Sprintf("%d@test", i),
		})
		if err != nil || !res.New {
			t.Fatalf("record %d: %v %+v", i, err, res)
		}
		ids = append(ids, res.ID)
	}
	return ids
}

// TestRunnerOutcomes drives messages through two stages whose behaviour depends
// on the message, and checks each ends in the state the error class implies.
func TestRunnerOutcomes(t *testing.T) {
	st := openTestStore(t)
	ids := record(t, st, 5)
	var calls sync.Map // id → attempts seen by the stage
	count := func(id int64) int {
		v, _ := calls.LoadOrStore(id, new(atomic.Int32))
		return int(v.(*atomic.Int32).Add(1))
	}
	first := func(ctx context.Context, m store.Message) (Outcome, error) {
		n := count(m.ID)
		switch m.ID {
		case ids[0]: // succeeds with data
			return Outcome{Data: map[string]string{"k": "v"}}, nil
		case ids[1]: // permanent failure: dead at once
			return Outcome{}, fmt.Errorf("wrapped: %w", testErr{msg: "malformed", permanent: true})
		case ids[2]: // transient twice, then fine
			if n <= 2 {
				return Outcome{}, testErr{msg: "flaky"}
			}
			return Outcome{}, nil
		case ids[3]: // always transient: dead after the schedule
			return Outcome{}, errors.New("down")
		case ids[4]: // rate limited once, then skipped
			if n == 1 {
				return Outcome{}, testErr{msg: "slow down", retryAfter: 20 * time.Millisecond}
			}
			return Outcome{Skip: "auto_reply"}, nil
		}
		return Outcome{}, nil
	}
	cfg := RunConfig{RetrySchedule: []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}}
	r := NewRunner(st, cfg, slog.New(slog.DiscardHandler),
		&Stage{Name: "first", From: store.StateReceived, To: store.StateDeduped, Workers: 2, Run: first},
		&Stage{Name: "rest", From: store.StateDeduped, To: store.StateDone, Workers: 1},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app := &App{Store: st, Runner: r, Log: slog.New(slog.DiscardHandler)}
	if err := app.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		state  store.State
		reason string
	}{
		{store.StateDone, ""},
		{store.StateDead, "bad_input"},
		{store.StateDone, ""},
		{store.StateDead, "retries_exhausted"},
		{store.StateSkipped, "auto_reply"},
	}
	for i, w := range want {
		m, err := st.Message(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if m.State != w.state || m.Reason != w.reason {
			t.Errorf("message %d: state %s reason %q, want %s %q (last error %q)", i, m.State, m.Reason, w.state, w.reason, m.LastError)
		}
	}
	var data map[string]string
	if ok, err := st.StageData(ctx, ids[0], "first", &data); !ok || err != nil || data["k"] != "v" {
		t.Errorf("stage data = %v, %v, %v", data, ok, err)
	}
	if v, _ := calls.Load(ids[3]); int(v.(*atomic.Int32).Load()) != len(cfg.RetrySchedule)+1 {
		t.Errorf("always-failing message tried %d times, want %d", v.(*atomic.Int32).Load(), len(cfg.RetrySchedule)+1)
	}
	if m, _ := st.Message(ctx, ids[4]); m.Attempts != 0 {
		t.Errorf("rate limit spent an attempt")
	}

	// A dead message replays into the state it died in and then completes.
	replayed, err := st.Replay(ctx, store.ReplayFilter{ID: ids[3]}, "test")
	if err != nil || len(replayed) != 1 {
		t.Fatalf("replay: %v %v", replayed, err)
	}
	if m, _ := st.Message(ctx, ids[3]); m.State != store.StateReceived {
		t.Fatalf("replayed into %s", m.State)
	}
}

// TestRunnerOutageSpendsNoAttempts: when every message fails transiently for
// longer than the retry schedule (the dependency is down), nothing goes dead;
// everything completes once it is back.
func TestRunnerOutageSpendsNoAttempts(t *testing.T) {
	st := openTestStore(t)
	ids := record(t, st, 12)
	var down atomic.Bool
	down.Store(true)
	var failures atomic.Int32
	stage := func(ctx context.Context, m store.Message) (Outcome, error) {
		if down.Load() {
			if failures.Add(1) >= 80 { // far more failures than the schedule allows per message
				down.Store(false)
			}
			return Outcome{}, errors.New("503 SERVER_UNAVAILABLE")
		}
		return Outcome{}, nil
	}
	cfg := RunConfig{RetrySchedule: []time.Duration{time.Millisecond, 2 * time.Millisecond}}
	r := NewRunner(st, cfg, slog.New(slog.DiscardHandler),
		&Stage{Name: "sf", From: store.StateReceived, To: store.StateDone, Workers: 3, Run: stage})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app := &App{Store: st, Runner: r, Log: slog.New(slog.DiscardHandler)}
	if err := app.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if m, _ := st.Message(ctx, id); m.State != store.StateDone {
			t.Errorf("message %d ended %s (%s) after an outage", id, m.State, m.Reason)
		}
	}
}
