package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// scripted returns a fixed result per subject.
type scripted map[string]Result

func (s scripted) Classify(_ context.Context, in Input) (Result, error) {
	r, ok := s[in.Subject]
	if !ok {
		return Result{}, errors.New("boom")
	}
	return r, nil
}

func TestEvaluateMetrics(t *testing.T) {
	c := scripted{
		"a1": {Category: "A", Confidence: 0.95, InputTokens: 10, Model: "m"},
		"a2": {Category: "A", Confidence: 0.95, InputTokens: 20},
		"a3": {Category: "B", Confidence: 0.55, InputTokens: 30},
		"b1": {Category: "B", Confidence: 0.65, InputTokens: 40},
		"b2": {Category: "", Confidence: 0, InputTokens: 50, Escalate: true, EscalationReason: ReasonClassifierError},
	}
	rows := []EvalRow{{Subject: "a1", Category: "A"}, {Subject: "a2", Category: "A"}, {Subject: "a3", Category: "A"},
		{Subject: "b1", Category: "B"}, {Subject: "b2", Category: "B"}, {Subject: "x", Category: "B"}}
	rep, err := Evaluate(context.Background(), c, rows, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	// Correct: a1, a2, b1 → 3/6.
	if rep.N != 6 || rep.Accuracy != 0.5 || rep.Errors != 2 || rep.Model != "m" {
		t.Fatalf("n=%d acc=%v errors=%d model=%q", rep.N, rep.Accuracy, rep.Errors, rep.Model)
	}
	// A: P=2/2 R=2/3 F1=0.8; B: P=1/2 R=1/3 F1=0.4 → macro 0.6.
	if math.Abs(rep.MacroF1-0.6) > 1e-9 {
		t.Errorf("macro-F1 = %v, want 0.6", rep.MacroF1)
	}
	// Bins: 0.95 ×2 correct (gap 0.05), 0.55 wrong (0.55), 0.65 right (0.35), 0 ×2 wrong (0).
	want := (2*0.05 + 0.55 + 0.35) / 6
	if math.Abs(rep.ECE-want) > 1e-9 {
		t.Errorf("ECE = %v, want %v", rep.ECE, want)
	}
	if rep.Coverage != 2.0/6 || rep.AutomatedAccuracy != 1 {
		t.Errorf("coverage %v automated accuracy %v", rep.Coverage, rep.AutomatedAccuracy)
	}
	if rep.MedianInputTokens != 30 {
		t.Errorf("median tokens %d", rep.MedianInputTokens)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n", "accuracy", "macro_f1", "ece", "per_category", "confusion", "coverage"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var txt bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"accuracy   0.5000", "macro-F1   0.6000", "(none)", "confusion"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, txt.String())
		}
	}
	if _, err := Evaluate(context.Background(), c, nil, 0.9); err == nil {
		t.Error("empty data set accepted")
	}
}

func TestReadEvalRows(t *testing.T) {
	rows, err := ReadEvalRows(strings.NewReader("{\"subject\":\"s\",\"body\":\"b\",\"category\":\"A\",\"escalate\":true}\n\n{\"body\":\"x\",\"category\":\"B\",\"priority\":\"low\"}\n"))
	if err != nil || len(rows) != 2 || rows[0].Escalate == nil || !*rows[0].Escalate || rows[1].Priority != "low" {
		t.Fatalf("rows %+v err %v", rows, err)
	}
	if _, err := ReadEvalRows(strings.NewReader(`{"body":"no label"}`)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("missing category: %v", err)
	}
	if _, err := ReadEvalRows(strings.NewReader("{\"category\":\"A\"}\nnot json")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad json: %v", err)
	}
}
