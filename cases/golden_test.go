package cases

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/triage-dev/triage/knowledge"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestPlanGolden pins the writes of a new email, a reply and an escalation
// (dry-run plans, so exactly what would be sent).
func TestPlanGolden(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.stage(Config{DryRun: true})
	first := newEmail("ann@customer.example", "g1@customer.example", "Refund please")
	first.Knowledge = knowledge.Result{Articles: []knowledge.Match{{KnowledgeArticleID: "kA0Sm0000000001AAA", Title: "Refunds", Score: 0.7}}}
	esc := newEmail("ann@customer.example", "g3@customer.example", "Lawyer")
	esc.Dedupe.CreateContact, esc.Dedupe.ContactID = nil, "003Sm0000000001AAA"
	esc.Classify.Escalate, esc.Classify.EscalationReason = true, "legal_threat"
	cases := map[string]Input{
		"new_email":  first,
		"reply":      reply(first, "500Sm0000000001AAA", "003Sm0000000001AAA", "g2@customer.example"),
		"escalation": esc,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := s.Process(ctx, e.msg(in.Parsed.MessageID), in)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(r.Writes, "", "  ")
			path := filepath.Join("testdata", "plan_"+name+".golden.json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("plan differs from %s:\n%s", path, got)
			}
		})
	}
}
