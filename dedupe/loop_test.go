package dedupe

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/triage-dev/triage/store"
)

func countEvents(t *testing.T, st *store.Store, kind string) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM events WHERE stage='dedupe' AND kind=?`, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLoopBreaker: the 16th message within 60 s from one sender with one
// subject trips the breaker once; it survives a restart; it resumes after
// the quiet period; other pairs are never affected.
func TestLoopBreaker(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "triage.db")
	open := func() (*store.Store, *Stage, *recorder) {
		st := openStore(t, path, clk.Now)
		return st, NewStage(Config{}, st, nil, nil, clk.Now), &recorder{st: st}
	}
	st, stage, rec := open()
	uid := uint32(0)
	send := func(from, subject string) Result {
		t.Helper()
		uid++
		rec.uid = uid
		p := email(fmt.Sprintf("loop-%d@x.example", uid), from, subject, "")
		p.Date = clk.Now()
		m := rec.record(t, p, "INBOX")
		r, err := stage.Process(context.Background(), m, p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i := 1; i <= 15; i++ {
		if r := send("robot@vendor.example", "Re: Ticket update"); r.Skip {
			t.Fatalf("message %d skipped: %+v", i, r)
		}
		clk.Advance(3 * time.Second)
	}
	if r := send("robot@vendor.example", "RE: ticket update"); !r.Skip || r.Reason != ReasonLoop {
		t.Fatalf("16th message: %+v", r)
	}
	if r := send("someone@vendor.example", "Ticket update"); r.Skip {
		t.Fatalf("other sender blocked: %+v", r)
	}
	if n := countEvents(t, st, "loop_tripped"); n != 1 {
		t.Fatalf("loop_tripped events: %d", n)
	}

	// Restart: the breaker is in SQLite.
	st.Close()
	st, stage, rec = open()
	for i := 0; i < 5; i++ {
		clk.Advance(time.Minute)
		if r := send("robot@vendor.example", "Ticket update"); r.Reason != ReasonLoop {
			t.Fatalf("after restart, message %d: %+v", i, r)
		}
	}
	if n := countEvents(t, st, "loop_tripped"); n != 1 {
		t.Fatalf("one alert per trip, got %d", n)
	}
	clk.Advance(11 * time.Minute) // quiet period 10m
	if r := send("robot@vendor.example", "Ticket update"); r.Skip {
		t.Fatalf("after quiet period: %+v", r)
	}
	if n := countEvents(t, st, "loop_resumed"); n != 1 {
		t.Fatalf("loop_resumed events: %d", n)
	}
	// A slow trickle never trips.
	for i := 0; i < 40; i++ {
		clk.Advance(5 * time.Second)
		if r := send("slow@vendor.example", "Status"); r.Skip {
			t.Fatalf("trickle message %d skipped: %+v", i, r)
		}
	}
}

func TestLoopBreakerSlidingWindow(t *testing.T) {
	e := newEnv(t, Config{Loop: LoopConfig{MaxMessages: 3, Window: time.Minute, QuietPeriod: time.Minute}}, false)
	// 3 at the end of one minute and 1 at the start of the next: 4 within 60 s.
	e.clock.Advance(50 * time.Second)
	for i := 0; i < 3; i++ {
		if _, r := e.process(email(fmt.Sprintf("s%d@x.example", i), "a@b.example", "Hi", "")); r.Skip {
			t.Fatalf("%d: %+v", i, r)
		}
		e.clock.Advance(3 * time.Second)
	}
	if _, r := e.process(email("s4@x.example", "a@b.example", "Hi", "")); r.Reason != ReasonLoop {
		t.Fatalf("4th within 60s: %+v", r)
	}
}
