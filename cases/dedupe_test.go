package cases

import (
	"context"
	"testing"

	"github.com/triage-dev/triage/dedupe"
)

// TestWithRealDedupe wires the real dedupe stage as the hooks: the contact
// the composite created is known to dedupe afterwards (no second create),
// and the thread's case is recorded for replies.
func TestWithRealDedupe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d := dedupe.NewStage(dedupe.Config{}, e.st, e.sf, nil, e.now)
	s := NewStage(Config{}, e.st, e.sf, nil, e.now, WithDedupe(d))
	in := newEmail("Quinn.Q@Customer.example", "rd1@customer.example", "Hello")
	in.Dedupe.Sender = "quinn.q@customer.example"
	in.Dedupe.CreateContact.Email = "quinn.q@customer.example"
	r, err := s.Process(ctx, e.msg("rd1@customer.example"), in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.ResolveContact(ctx, "quinn.q@customer.example", "Quinn Q")
	if err != nil {
		t.Fatal(err)
	}
	if res.ContactID != r.ContactID || res.Create != nil {
		t.Fatalf("dedupe resolution after the write: %+v, want contact %s", res, r.ContactID)
	}
	th, ok, err := e.st.DedupeThreadByKey(ctx, in.Dedupe.ThreadKey)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || th.CaseID != r.CaseID {
		t.Fatalf("thread case %q, want %q", th.CaseID, r.CaseID)
	}
	// A second new thread from the same sender claims nothing new.
	in2 := newEmail("quinn.q@customer.example", "rd2@customer.example", "Again")
	in2.Dedupe.Sender = "quinn.q@customer.example"
	r2, err := s.Process(ctx, e.msg("rd2@customer.example"), in2)
	if err != nil || r2.ContactID != r.ContactID || r2.ContactCreated {
		t.Fatalf("%+v %v", r2, err)
	}
	if n := e.count("Contact", nil); n != 1 {
		t.Fatalf("%d contacts", n)
	}
}
