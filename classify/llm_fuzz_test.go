package classify

import (
	"math"
	"slices"
	"testing"
)

// FuzzParseAnswer feeds the LLM output decoder arbitrary model output: it
// never panics, and whatever it accepts is inside the schema (enums from the
// taxonomy, confidence in [0,1], an escalation reason only when escalating).
func FuzzParseAnswer(f *testing.F) {
	var cfg Config
	cfg.SetDefaults()
	lc := LLMConfig{BaseURL: "http://127.0.0.1:1/v1", APIKey: "k", Model: "m"}
	lc.SetDefaults()
	l, err := NewLLM(cfg, lc)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{validAnswer, "```json\n" + validAnswer + "\n```", "{}", "[]", "null",
		`{"category":"REFUND","priority":"high","sentiment":"negative","language":"en","summary":"","resolved":false,"confidence":1e309,"escalate":true,"escalation_reason":"none","explanation":"","injection_attempt":false}`,
		validAnswer[:len(validAnswer)/2], `{"category":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := l.parseAnswer(s)
		if err != nil {
			return
		}
		for field, v := range map[string]string{"category": a.Category, "priority": a.Priority, "sentiment": a.Sentiment} {
			if !slices.Contains(l.enums[field], v) {
				t.Errorf("accepted %s %q outside %v", field, v, l.enums[field])
			}
		}
		if math.IsNaN(a.Confidence) || a.Confidence < 0 || a.Confidence > 1 {
			t.Errorf("accepted confidence %v", a.Confidence)
		}
		if !a.Escalate && a.EscalationReason != "none" {
			t.Errorf("not escalating but reason %q", a.EscalationReason)
		}
	})
}
