package classify

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Calibration maps a raw confidence to a calibrated probability. It is fitted
// by Evaluate's caller (FitCalibration) on labelled data and stored per model.
type Calibration struct {
	Model  string `json:"model"`
	Method string `json:"method"` // "isotonic" or "platt"
	N      int    `json:"n"`      // examples it was fitted on
	// Isotonic: increasing breakpoints, linearly interpolated.
	X []float64 `json:"x,omitempty"`
	Y []float64 `json:"y,omitempty"`
	// Platt: p = 1 / (1 + exp(A*logit(raw) + B)).
	A float64 `json:"a,omitempty"`
	B float64 `json:"b,omitempty"`
}

// Apply maps raw to a calibrated probability. A nil calibration is the identity.
func (c *Calibration) Apply(raw float64) float64 {
	if c == nil {
		return raw
	}
	raw = math.Min(1, math.Max(0, raw))
	switch c.Method {
	case "platt":
		return 1 / (1 + math.Exp(c.A*logit(raw)+c.B))
	case "isotonic":
		if len(c.X) == 0 {
			return raw
		}
		i := sort.SearchFloat64s(c.X, raw)
		switch {
		case i == 0:
			return c.Y[0]
		case i >= len(c.X):
			return c.Y[len(c.Y)-1]
		}
		x0, x1, y0, y1 := c.X[i-1], c.X[i], c.Y[i-1], c.Y[i]
		if x1 == x0 {
			return y1
		}
		return y0 + (y1-y0)*(raw-x0)/(x1-x0)
	}
	return raw
}

func logit(p float64) float64 {
	p = math.Min(1-1e-6, math.Max(1e-6, p))
	return math.Log(p / (1 - p))
}

// FitCalibration fits a calibration of raw confidences against correctness:
// isotonic regression (pool adjacent violators) with 200 or more examples,
// Platt scaling below that, where isotonic overfits.
func FitCalibration(model string, raw []float64, correct []bool) (*Calibration, error) {
	if len(raw) != len(correct) {
		return nil, errors.New("classify: calibration: length mismatch")
	}
	if len(raw) < 20 {
		return nil, fmt.Errorf("classify: calibration: need at least 20 examples, have %d", len(raw))
	}
	if len(raw) >= 200 {
		return fitIsotonic(model, raw, correct), nil
	}
	return fitPlatt(model, raw, correct), nil
}

func fitIsotonic(model string, raw []float64, correct []bool) *Calibration {
	idx := make([]int, len(raw))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return raw[idx[a]] < raw[idx[b]] })
	type block struct{ sumX, sumY, n float64 }
	var bs []block
	for _, i := range idx {
		y := 0.0
		if correct[i] {
			y = 1
		}
		bs = append(bs, block{raw[i], y, 1})
		for len(bs) > 1 && bs[len(bs)-2].sumY/bs[len(bs)-2].n >= bs[len(bs)-1].sumY/bs[len(bs)-1].n {
			a, b := bs[len(bs)-2], bs[len(bs)-1]
			bs = append(bs[:len(bs)-2], block{a.sumX + b.sumX, a.sumY + b.sumY, a.n + b.n})
		}
	}
	c := &Calibration{Model: model, Method: "isotonic", N: len(raw)}
	for _, b := range bs {
		x, y := b.sumX/b.n, b.sumY/b.n
		// Shrink extreme blocks toward the raw value a little so a pure block of
		// size 1 doesn't claim certainty (Laplace smoothing).
		y = (b.sumY + x) / (b.n + 1)
		if n := len(c.X); n > 0 && c.X[n-1] == x {
			c.Y[n-1] = math.Max(c.Y[n-1], y)
			continue
		}
		c.X = append(c.X, x)
		c.Y = append(c.Y, y)
	}
	// Keep Y monotone after smoothing.
	for i := 1; i < len(c.Y); i++ {
		c.Y[i] = math.Max(c.Y[i], c.Y[i-1])
	}
	return c
}

func fitPlatt(model string, raw []float64, correct []bool) *Calibration {
	// Gradient descent on the log loss of p = sigmoid(-(A*z+B)), z = logit(raw).
	a, b := -1.0, 0.0
	n := float64(len(raw))
	for range 2000 {
		var ga, gb float64
		for i, r := range raw {
			z := logit(r)
			p := 1 / (1 + math.Exp(a*z+b))
			y := 0.0
			if correct[i] {
				y = 1
			}
			// d(logloss)/d(a*z+b) = -(p - y)
			ga += -(p - y) * z
			gb += -(p - y)
		}
		a -= 0.1 * ga / n
		b -= 0.1 * gb / n
	}
	return &Calibration{Model: model, Method: "platt", N: len(raw), A: a, B: b}
}

// MarshalCalibration and UnmarshalCalibration are the stored form.
func MarshalCalibration(c *Calibration) ([]byte, error) { return json.Marshal(c) }

// UnmarshalCalibration parses a stored calibration and checks it.
func UnmarshalCalibration(b []byte) (*Calibration, error) {
	var c Calibration
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("classify: calibration: %w", err)
	}
	switch c.Method {
	case "platt":
	case "isotonic":
		if len(c.X) != len(c.Y) || !slices.IsSorted(c.X) {
			return nil, errors.New("classify: calibration: corrupt isotonic table")
		}
	default:
		return nil, fmt.Errorf("classify: calibration: unknown method %q", c.Method)
	}
	return &c, nil
}
