package classify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/triage-dev/triage/store"
)

// CalibrationStore keeps one calibration per model (*store.Store implements it).
type CalibrationStore interface {
	Calibration(ctx context.Context, model string) ([]byte, bool, error)
	PutCalibration(ctx context.Context, model string, data []byte) error
}

// ModelStore keeps trained offline models (*store.Store implements it).
type ModelStore interface {
	ModelBlob(ctx context.Context, name string) ([]byte, bool, error)
	PutModel(ctx context.Context, name string, data []byte) error
}

// CorrectionSource supplies managers' corrections (*store.Store implements it).
type CorrectionSource interface {
	Corrections(ctx context.Context, limit int) ([]store.Correction, error)
}

// StoredModelName is the name under which `triage train` stores the offline
// model when no model file is configured.
const StoredModelName = "offline"

// Calibrated is implemented by both classifiers.
type Calibrated interface {
	Classifier
	Name() string
	SetCalibration(*Calibration)
}

// New returns the configured classifier: the LLM when llm is not nil, else the
// offline model (from cfg.ModelPath, else the model stored by `triage train`,
// else trained now from the embedded data, ~1 s). The calibration stored for
// the model is applied. st may be nil.
func New(ctx context.Context, cfg Config, llm *LLMConfig, st CalibrationStore, log *slog.Logger, opts ...LLMOption) (Calibrated, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.SetDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("classify: config: %w", errors.Join(errs...))
	}
	var c Calibrated
	if llm != nil {
		lc := *llm
		lc.SetDefaults()
		l, err := NewLLM(cfg, lc, append([]LLMOption{WithLLMLogger(log)}, opts...)...)
		if err != nil {
			return nil, err
		}
		c = l
	} else {
		m, src, err := LoadOrTrain(ctx, cfg, st)
		if err != nil {
			return nil, err
		}
		o, err := NewOffline(cfg, m, WithOfflineLogger(log))
		if err != nil {
			return nil, err
		}
		log.Info("offline classifier ready", "model", o.Name(), "source", src, "classes", len(m.Classes))
		c = o
	}
	if st != nil {
		b, ok, err := st.Calibration(ctx, c.Name())
		if err != nil {
			return nil, err
		}
		if ok {
			cal, err := UnmarshalCalibration(b)
			if err != nil {
				return nil, err
			}
			c.SetCalibration(cal)
			log.Info("calibration loaded", "model", c.Name(), "method", cal.Method, "n", cal.N)
		}
	}
	return c, nil
}

// LoadOrTrain returns the offline model and where it came from.
func LoadOrTrain(ctx context.Context, cfg Config, st any) (*Model, string, error) {
	if cfg.ModelPath != "" {
		f, err := os.Open(cfg.ModelPath)
		if err != nil {
			return nil, "", fmt.Errorf("classify: model_path: %w (run `triage train` to create it)", err)
		}
		defer f.Close()
		m, err := LoadModel(f)
		if err != nil {
			return nil, "", fmt.Errorf("classify: model_path %s: %w", cfg.ModelPath, err)
		}
		return m, "file " + cfg.ModelPath, nil
	}
	if ms, ok := st.(ModelStore); ok {
		b, found, err := ms.ModelBlob(ctx, StoredModelName)
		if err != nil {
			return nil, "", err
		}
		if found {
			m, err := LoadModel(bytes.NewReader(b))
			if err != nil {
				return nil, "", err
			}
			if err := sameClasses(m, cfg); err == nil {
				return m, "database", nil
			}
		}
	}
	m, err := TrainDefault(ctx, cfg, nil)
	if err != nil {
		return nil, "", err
	}
	return m, "embedded data", nil
}

func sameClasses(m *Model, cfg Config) error {
	names := cfg.CategoryNames()
	if len(names) != len(m.Classes) {
		return errors.New("taxonomy changed")
	}
	for i := range names {
		if names[i] != m.Classes[i] {
			return errors.New("taxonomy changed")
		}
	}
	return nil
}

// TrainWithCorrections trains the offline model from the embedded data plus
// every correction in src (src may be nil). It returns the model and the
// number of corrections used.
func TrainWithCorrections(ctx context.Context, cfg Config, src CorrectionSource) (*Model, int, error) {
	cfg.SetDefaults()
	var more []LabelledText
	if src != nil {
		cs, err := src.Corrections(ctx, 0)
		if err != nil {
			return nil, 0, err
		}
		red := NewRedactor(cfg.Redact)
		for _, c := range cs {
			// Redact again: corrections should arrive redacted, but training data must never hold PII.
			more = append(more, LabelledText{Subject: red.String(c.Subject), Text: red.String(NewText(c.Body)), Category: c.Category})
		}
	}
	m, err := TrainDefault(ctx, cfg, more)
	return m, len(more), err
}

// FitAndStoreCalibration fits a calibration from an evaluation run with
// uncalibrated confidences and stores it for model.
func FitAndStoreCalibration(ctx context.Context, st CalibrationStore, model string, rep Report) (*Calibration, error) {
	cal, err := FitCalibration(model, rep.Confidences, rep.Correct)
	if err != nil {
		return nil, err
	}
	b, err := MarshalCalibration(cal)
	if err != nil {
		return nil, err
	}
	if err := st.PutCalibration(ctx, model, b); err != nil {
		return nil, err
	}
	return cal, nil
}

// ExamplesFromCorrections turns the newest corrections into few-shot examples
// for Input.Examples (at most cfg.MaxExamples, only taxonomy categories,
// redacted again).
func ExamplesFromCorrections(cfg Config, cs []store.Correction) []Example {
	cfg.SetDefaults()
	red := NewRedactor(cfg.Redact)
	names := cfg.CategoryNames()
	var out []Example
	for _, c := range cs {
		if len(out) >= cfg.MaxExamples {
			break
		}
		if !slices.Contains(names, c.Category) {
			continue
		}
		out = append(out, Example{Subject: red.String(c.Subject), Body: red.String(c.Body), Category: c.Category, Priority: c.Priority})
	}
	return out
}
