package classify

import (
	"context"
	"os"
	"sync"
	"testing"
)

var (
	testModelOnce sync.Once
	testModel     *Model
	testModelErr  error
)

// sharedModel trains once per test binary: Bitext train split + project emails,
// temperature fitted on the calibration split.
func sharedModel(t testing.TB) (*Model, Config) {
	var cfg Config
	cfg.SetDefaults()
	testModelOnce.Do(func() { testModel, testModelErr = TrainDefault(context.Background(), cfg, nil) })
	if testModelErr != nil {
		t.Fatal(testModelErr)
	}
	return testModel, cfg
}

func sharedOffline(t testing.TB) *Offline {
	m, cfg := sharedModel(t)
	o, err := NewOffline(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOfflineHeldOutBitext(t *testing.T) {
	o := sharedOffline(t)
	test, err := BitextRows(SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	train, _ := BitextRows(SplitTrain)
	seen := map[string]bool{}
	for _, r := range train {
		seen[r.Text] = true
	}
	var rows []EvalRow
	for _, r := range test {
		if seen[r.Text] {
			t.Fatalf("test utterance %q also in train split", r.Text)
		}
		rows = append(rows, EvalRow{Body: r.Text, Category: r.Category})
	}
	rep, err := Evaluate(context.Background(), o, rows, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out Bitext: n=%d accuracy=%.4f macro-F1=%.4f ECE=%.4f coverage@0.9=%.3f acc@0.9=%.4f median tokens=%d",
		rep.N, rep.Accuracy, rep.MacroF1, rep.ECE, rep.Coverage, rep.AutomatedAccuracy, rep.MedianInputTokens)
	if rep.N < 500 {
		t.Errorf("held-out split too small: %d", rep.N)
	}
	if rep.Accuracy < 0.95 || rep.MacroF1 < 0.95 {
		t.Errorf("accuracy %.4f / macro-F1 %.4f below floor 0.95", rep.Accuracy, rep.MacroF1)
	}
	if rep.ECE > 0.05 {
		t.Errorf("ECE %.4f above 0.05", rep.ECE)
	}
}

func TestOfflineEmails(t *testing.T) {
	o := sharedOffline(t)
	f, err := os.Open("testdata/emails.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := ReadEvalRows(f)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(context.Background(), o, rows, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("emails: n=%d accuracy=%.4f macro-F1=%.4f ECE=%.4f coverage@0.9=%.3f acc@0.9=%.4f median tokens=%d",
		rep.N, rep.Accuracy, rep.MacroF1, rep.ECE, rep.Coverage, rep.AutomatedAccuracy, rep.MedianInputTokens)
	if testing.Verbose() {
		rep.WriteText(os.Stdout)
	}
	if rep.Accuracy < 0.92 || rep.MacroF1 < 0.92 {
		t.Errorf("emails accuracy %.4f / macro-F1 %.4f below floor", rep.Accuracy, rep.MacroF1)
	}
	if rep.ECE > 0.06 {
		t.Errorf("emails ECE %.4f above 0.06", rep.ECE)
	}
}

func BenchmarkOfflineClassify(b *testing.B) {
	o := sharedOffline(b)
	f, err := os.Open("testdata/emails.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	rows, err := ReadEvalRows(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := rows[i%len(rows)]
		if _, err := o.Classify(ctx, Input{Subject: r.Subject, Body: r.Body, From: r.From}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
