package classify

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/triage-dev/triage/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestModelSaveLoad(t *testing.T) {
	m, _ := sharedModel(t)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadModel(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if ModelName(m) != ModelName(m2) {
		t.Errorf("name changed: %s %s", ModelName(m), ModelName(m2))
	}
	for _, s := range []string{"where is my refund", "cancel order 123", "unsubscribe me"} {
		c1, p1 := m.Predict("", s, nil)
		c2, p2 := m2.Predict("", s, nil)
		if c1 != c2 || p1 != p2 {
			t.Errorf("%q: %s %.4f vs %s %.4f", s, c1, p1, c2, p2)
		}
	}
	if _, err := LoadModel(bytes.NewReader([]byte("not a model"))); err == nil {
		t.Error("garbage loaded")
	}
}

func TestNewOfflineWithStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m, cfg := sharedModel(t)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if err := st.PutModel(ctx, StoredModelName, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, cfg, nil, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != ModelName(m) {
		t.Fatalf("New did not load the stored model: %s vs %s", c.Name(), ModelName(m))
	}
	f, err := os.Open("testdata/emails.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadEvalRows(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, err := Evaluate(ctx, c, rows, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := FitAndStoreCalibration(ctx, st, c.Name(), before)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Method != "isotonic" || cal.N != len(rows) {
		t.Errorf("calibration %s n=%d", cal.Method, cal.N)
	}
	c2, err := New(ctx, cfg, nil, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c2.(*Offline).cal == nil {
		t.Fatal("stored calibration not loaded")
	}
	after, err := Evaluate(ctx, c2, rows, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ECE before %.4f after %.4f (same data)", before.ECE, after.ECE)
	if after.ECE > before.ECE+0.005 || after.Accuracy != before.Accuracy {
		t.Errorf("calibration made things worse: ECE %.4f -> %.4f, accuracy %.4f -> %.4f", before.ECE, after.ECE, before.Accuracy, after.Accuracy)
	}
	// A configured model file that doesn't exist is an error, not a silent retrain.
	bad := cfg
	bad.ModelPath = filepath.Join(t.TempDir(), "missing.model")
	if _, err := New(ctx, bad, nil, st, nil); err == nil {
		t.Error("missing model_path accepted")
	}
	// The LLM path picks up its own calibration by model name.
	lcal := &Calibration{Model: "llm:m", Method: "platt", A: -1, B: 0.5, N: 50}
	b, _ := MarshalCalibration(lcal)
	if err := st.PutCalibration(ctx, "llm:m", b); err != nil {
		t.Fatal(err)
	}
	lc, err := New(ctx, cfg, &LLMConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "m"}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := lc.(*LLM).cal; got == nil || got.B != 0.5 {
		t.Errorf("llm calibration = %+v", got)
	}
}

func TestCorrectionsTrainAndStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if _, err := st.AddCorrection(ctx, store.Correction{Subject: "Sensor", Body: "The humidity sensor shows 0% since the firmware update", Category: "ORDER", Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	// Corrections are redacted again before training (this one holds a card number).
	if _, err := st.AddCorrection(ctx, store.Correction{Subject: "x", Body: "card 4111 1111 1111 1111", Category: "OTHER", Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	cs, err := st.Corrections(ctx, 0)
	if err != nil || len(cs) != 2 {
		t.Fatalf("corrections %v %v", cs, err)
	}
	var cfg Config
	cfg.SetDefaults()
	m, n, err := TrainWithCorrections(ctx, cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(m.Classes) != 12 {
		t.Errorf("n=%d classes=%d", n, len(m.Classes))
	}
	// The correction is learnt: its text now maps to its (deliberately odd) label.
	if c, _ := m.Predict("Sensor", "The humidity sensor shows 0% since the firmware update", nil); c != "ORDER" {
		t.Errorf("correction not learnt: %s", c)
	}
}

func TestCalibrationFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// An overconfident model: says p, is right with probability p^2.
	gen := func(n int) ([]float64, []bool) {
		var conf []float64
		var ok []bool
		for range n {
			p := 0.5 + 0.5*rng.Float64()
			conf = append(conf, p)
			ok = append(ok, rng.Float64() < p*p)
		}
		return conf, ok
	}
	for _, n := range []int{100, 2000} {
		conf, ok := gen(n)
		cal, err := FitCalibration("m", conf, ok)
		if err != nil {
			t.Fatal(err)
		}
		testConf, testOK := gen(4000)
		mapped := make([]float64, len(testConf))
		for i, c := range testConf {
			mapped[i] = cal.Apply(c)
		}
		raw, fixed := ECE(testConf, testOK, 10), ECE(mapped, testOK, 10)
		t.Logf("n=%d %s: ECE %.4f -> %.4f", n, cal.Method, raw, fixed)
		if fixed > raw/2 {
			t.Errorf("n=%d: calibration did not help: %.4f -> %.4f", n, raw, fixed)
		}
		prev := -1.0
		for x := 0.0; x <= 1; x += 0.01 {
			y := cal.Apply(x)
			if y < prev-1e-12 || y < 0 || y > 1 || math.IsNaN(y) {
				t.Fatalf("not monotone in [0,1] at %.2f: %.4f after %.4f", x, y, prev)
			}
			prev = y
		}
		b, _ := MarshalCalibration(cal)
		back, err := UnmarshalCalibration(b)
		if err != nil || back.Apply(0.8) != cal.Apply(0.8) {
			t.Errorf("round trip: %v", err)
		}
	}
	if _, err := FitCalibration("m", []float64{0.5}, []bool{true}); err == nil {
		t.Error("tiny data set accepted")
	}
	if _, err := UnmarshalCalibration([]byte(`{"method":"magic"}`)); err == nil {
		t.Error("unknown method accepted")
	}
	if (*Calibration)(nil).Apply(0.7) != 0.7 {
		t.Error("nil calibration is not the identity")
	}
}

func TestExamplesFromCorrections(t *testing.T) {
	var cfg Config
	cfg.SetDefaults()
	cfg.MaxExamples = 2
	ex := ExamplesFromCorrections(cfg, []store.Correction{
		{Subject: "a", Body: "IBAN DE89370400440532013000", Category: "REFUND"},
		{Subject: "b", Body: "x", Category: "NOPE"},
		{Subject: "c", Body: "y", Category: "ORDER"},
		{Subject: "d", Body: "z", Category: "ORDER"},
	})
	if len(ex) != 2 || ex[0].Body != "IBAN [IBAN_1]" || ex[1].Subject != "c" {
		t.Fatalf("examples %+v", ex)
	}
}
