package cases

import (
	"context"
	"fmt"
	"testing"

	"github.com/triage-dev/triage/store"
)

func TestBackfillCallsPerEmail(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	const n = 200
	var items []BackfillItem
	for i := range n {
		mid := fmt.Sprintf("bf%d@customer.example", i)
		// 50 senders, so later emails of a sender meet the duplicate rule
		// (the contact was created by an earlier graph of the same run).
		in := newEmail(fmt.Sprintf("c%d@customer.example", i%50), mid, fmt.Sprintf("Backfill %d", i))
		items = append(items, BackfillItem{Message: e.msg(mid), Input: in})
	}
	before := e.calls()
	var progress int
	rep, err := s.Backfill(ctx, items, func(done, total int) { progress = done })
	if err != nil {
		t.Fatal(err)
	}
	calls := e.calls() - before
	t.Logf("backfill of %d emails: %d API calls (%.3f per email), report %d", n, calls, float64(calls)/n, rep.APICalls)
	if rep.Written != n || rep.Failed != 0 || progress != n {
		t.Fatalf("report %+v (errors %v), progress %d", rep, firstErr(rep.Errors), progress)
	}
	if float64(calls)/n > 0.05 || int64(rep.APICalls) != calls {
		t.Fatalf("%d calls for %d emails (report says %d)", calls, n, rep.APICalls)
	}
	if got := e.count("Case", nil); got != n {
		t.Errorf("%d cases", got)
	}
	if got := e.count("EmailMessage", nil); got != n {
		t.Errorf("%d email messages", got)
	}
	if got := e.count("Contact", nil); got != 50 {
		t.Errorf("%d contacts, want 50", got)
	}
	// Running it again sends nothing: the ledger knows.
	before = e.calls()
	rep, err = s.Backfill(ctx, items, nil)
	if err != nil || rep.Already != n || e.calls() != before {
		t.Fatalf("rerun: %+v %v, %d calls", rep, err, e.calls()-before)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBackfillRecoversUnknownOutcome(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	var items []BackfillItem
	for i := range 30 {
		mid := fmt.Sprintf("u%d@customer.example", i)
		items = append(items, BackfillItem{Message: e.msg(mid), Input: newEmail(fmt.Sprintf("u%d@customer.example", i), mid, "x")})
	}
	e.doer.drop.Store(1)
	if _, err := s.Backfill(ctx, items, nil); err == nil {
		t.Fatal("want the simulated timeout")
	}
	rep, err := s.Backfill(ctx, items, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recovered != 30 || rep.APICalls != 1 {
		t.Fatalf("%+v", rep)
	}
	if got := e.count("EmailMessage", nil); got != 30 {
		t.Errorf("%d email messages", got)
	}
	if w, _ := e.st.CasesLedgerByState(ctx, store.CasesCommitted, 0); len(w) != 30 {
		t.Errorf("%d committed ledger rows", len(w))
	}
}

func firstErr(m map[int64]error) error {
	for _, e := range m {
		return e
	}
	return nil
}

func TestBackfillThreadsWithReplies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{})
	const threads = 40
	var items []BackfillItem
	for th := range threads {
		first := newEmail(fmt.Sprintf("t%d@customer.example", th), fmt.Sprintf("t%d-1@customer.example", th), fmt.Sprintf("Thread %d", th))
		items = append(items, BackfillItem{Message: e.msg(first.Parsed.MessageID), Input: first})
		for k := 2; k <= 3; k++ {
			// dedupe ran before any case existed: replies carry no case id
			r := reply(first, "", "", fmt.Sprintf("t%d-%d@customer.example", th, k))
			items = append(items, BackfillItem{Message: e.msg(r.Parsed.MessageID), Input: r})
		}
	}
	before := e.calls()
	rep, err := s.Backfill(ctx, items, nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := e.calls() - before
	t.Logf("%d emails in %d threads: %d calls (%.3f per email)", len(items), threads, calls, float64(calls)/float64(len(items)))
	if rep.Written != len(items) || rep.Failed != 0 {
		t.Fatalf("%+v %v", rep, firstErr(rep.Errors))
	}
	if float64(calls)/float64(len(items)) > 0.05 {
		t.Errorf("%d calls for %d emails", calls, len(items))
	}
	if n := e.count("Case", nil); n != threads {
		t.Errorf("%d cases", n)
	}
	if n := e.count("EmailMessage", nil); n != len(items) {
		t.Errorf("%d email messages", n)
	}
	for _, c := range e.org.Records("Case") {
		if n := e.count("EmailMessage", func(r map[string]any) bool { return r["ParentId"] == c["Id"] }); n != 3 {
			t.Errorf("case %v has %d emails", c["Id"], n)
		}
	}
}
