package cases

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
)

// TestFaultsExactlyOnce drives new emails and replies through an org that
// fails 20% of requests before doing anything and a network that loses 20%
// of composite answers after Salesforce committed. Each message is retried
// (as the pipeline does) until it succeeds: afterwards every thread has one
// case and every email one EmailMessage.
func TestFaultsExactlyOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.org.SetFaultsChecked(sfsim.Faults{ErrorRate: 0.2, Errors: []string{"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "UNKNOWN_EXCEPTION", "BAD_GATEWAY", "INVALID_SESSION_ID"}}); err != nil {
		t.Fatal(err)
	}
	e.doer.mu.Lock()
	e.doer.rate, e.doer.rng = 0.2, rand.New(rand.NewPCG(7, 11))
	e.doer.mu.Unlock()
	s := e.stage(Config{})
	const threads, workers = 24, 4
	var mu sync.Mutex
	var ids int64 = 1000
	nextID := func() int64 { mu.Lock(); defer mu.Unlock(); ids++; return ids }
	attempts := 0
	var wg sync.WaitGroup
	errs := make(chan error, threads)
	for w := range workers {
		wg.Go(func() {
			for th := w; th < threads; th += workers {
				from := fmt.Sprintf("f%d@customer.example", th)
				first := newEmail(from, fmt.Sprintf("f%d-1@customer.example", th), fmt.Sprintf("Thread %d", th))
				msgs := []Input{first}
				for k := 2; k <= 3; k++ {
					msgs = append(msgs, reply(first, "", "", fmt.Sprintf("f%d-%d@customer.example", th, k)))
				}
				for _, in := range msgs {
					m := store.Message{ID: nextID(), MessageID: in.Parsed.MessageID, State: store.StateEnriched, CreatedAt: e.clock}
					var err error
					for try := 0; try < 30; try++ {
						// dedupe's view: the thread's case and contact once recorded
						e.hooks.mu.Lock()
						if in.Dedupe.IsReply {
							in.Dedupe.CaseID = e.hooks.cases[in.Dedupe.ThreadKey]
							in.Dedupe.ContactID = e.hooks.contacts[from]
						}
						e.hooks.mu.Unlock()
						mu.Lock()
						attempts++
						mu.Unlock()
						if _, err = s.Process(ctx, m, in); err == nil {
							break
						}
					}
					if err != nil {
						errs <- fmt.Errorf("message %s: %w", in.Parsed.MessageID, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := e.org.Stats()
	t.Logf("%d messages, %d attempts, %d faults injected, %d API calls", threads*3, attempts, st.FaultsInjected, st.APICalls)
	if st.FaultsInjected == 0 || attempts == threads*3 {
		t.Fatal("no fault was injected: the test proves nothing")
	}
	if n := e.count("Case", nil); n != threads {
		t.Errorf("%d cases for %d threads", n, threads)
	}
	if n := e.count("EmailMessage", nil); n != threads*3 {
		t.Errorf("%d EmailMessages for %d emails", n, threads*3)
	}
	if n := e.count("Task", nil); n != threads*3 {
		t.Errorf("%d Tasks for %d emails", n, threads*3)
	}
	if n := e.count("Contact", nil); n != threads {
		t.Errorf("%d contacts for %d senders", n, threads)
	}
	seen := map[any]bool{}
	for _, r := range e.org.Records("EmailMessage") {
		if seen[r["MessageIdentifier"]] {
			t.Errorf("duplicate EmailMessage %v", r["MessageIdentifier"])
		}
		seen[r["MessageIdentifier"]] = true
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOutage: during a two-minute outage (the emulator's injected clock)
// every attempt fails as temporary; afterwards the message lands once.
func TestOutage(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnvWith(t, func(o *sfsim.Options) { o.Now = now })
	ctx := context.Background()
	s := e.stage(Config{})
	if err := e.org.SetFaultsChecked(sfsim.Faults{OutageSeconds: 120}); err != nil {
		t.Fatal(err)
	}
	m := e.msg("out@x.example")
	in := newEmail("out@x.example", "out@x.example", "During the outage")
	for i := range 4 {
		_, err := s.Process(ctx, m, in)
		var tmp interface{ Temporary() bool }
		if err == nil || !errors.As(err, &tmp) || !tmp.Temporary() {
			t.Fatalf("attempt %d during the outage: %v", i, err)
		}
		mu.Lock()
		clock = clock.Add(20 * time.Second)
		mu.Unlock()
	}
	if led, _, _ := e.st.CasesLedger(ctx, m.ID); led.State != store.CasesSending {
		t.Fatalf("a 503 is not a definite refusal: ledger %q", led.State)
	}
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	r, err := s.Process(ctx, m, in)
	if err != nil || r.CaseID == "" {
		t.Fatalf("%+v %v", r, err)
	}
	if e.count("Case", nil) != 1 || e.count("EmailMessage", nil) != 1 {
		t.Fatal("not exactly once")
	}
}
