package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/pipeline"
)

// runEval: triage eval --config FILE --dataset FILE.jsonl [--json] [--fit-calibration]
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	dataset := fs.String("dataset", "", `JSONL file, one {"subject","body","from","category"[,"priority","escalate"]} per line`)
	asJSON := fs.Bool("json", false, "print one JSON object (n, accuracy, macro_f1, ece, …)")
	fit := fs.Bool("fit-calibration", false, "fit a calibration of the configured model's confidence on this data set and store it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataset == "" {
		return usageError{"--dataset FILE.jsonl is required"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	cfg.Classify.SetDefaults()
	f, err := os.Open(*dataset)
	if err != nil {
		return err
	}
	rows, err := classify.ReadEvalRows(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("dataset %s: %w", *dataset, err)
	}
	log := cfg.Log.NewLogger(stderr)
	st, err := pipeline.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := classify.New(ctx, cfg.Classify, cfg.LLM, st, log)
	if err != nil {
		return err
	}
	if *fit {
		c.SetCalibration(nil) // fit on the model's raw confidences, not on an older calibration's output
	}
	rep, err := classify.Evaluate(ctx, c, rows, cfg.Classify.Thresholds[classify.FieldCategory].Automate)
	if err != nil {
		return err
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if *fit {
		cal, err := classify.FitAndStoreCalibration(ctx, st, c.Name(), rep)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "stored %s calibration for %s (fitted on %d emails; the figures above are before it)\n", cal.Method, c.Name(), cal.N)
	}
	return nil
}

// runTrain: triage train --config FILE [--out FILE]
func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	out := fs.String("out", "", "model file to write (default: classify.model_path, else the database)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	cfg.Classify.SetDefaults()
	log := cfg.Log.NewLogger(stderr)
	st, err := pipeline.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	m, corrections, err := classify.TrainWithCorrections(ctx, cfg.Classify, st)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		return err
	}
	dest := *out
	if dest == "" {
		dest = cfg.Classify.ModelPath
	}
	if dest != "" {
		if err := writeFileAtomic(dest, buf.Bytes()); err != nil {
			return err
		}
	} else {
		if err := st.PutModel(ctx, classify.StoredModelName, buf.Bytes()); err != nil {
			return err
		}
		dest = "database (" + st.Path() + ")"
	}
	fmt.Fprintf(stdout, "model       %s\n", classify.ModelName(m))
	fmt.Fprintf(stdout, "classes     %d\n", len(m.Classes))
	fmt.Fprintf(stdout, "corrections %d\n", corrections)
	fmt.Fprintf(stdout, "calibration temperature %.3f on %d held-out utterances (accuracy %.4f)\n", m.Temperature, m.HeldOutN, m.HeldOutAccuracy)
	// The Bitext test split is never trained on: report it as the benchmark.
	if test, err := classify.BitextRows(classify.SplitTest); err == nil {
		o, err := classify.NewOffline(cfg.Classify, m)
		if err == nil {
			rows := make([]classify.EvalRow, 0, len(test))
			for _, r := range test {
				rows = append(rows, classify.EvalRow{Body: r.Text, Category: r.Category})
			}
			if rep, err := classify.Evaluate(ctx, o, rows, cfg.Classify.Thresholds[classify.FieldCategory].Automate); err == nil {
				fmt.Fprintf(stdout, "held-out    n=%d accuracy %.4f macro-F1 %.4f ECE %.4f\n", rep.N, rep.Accuracy, rep.MacroF1, rep.ECE)
			}
		}
	}
	fmt.Fprintf(stdout, "written to  %s (%d bytes)\n", dest, buf.Len())
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
