package classify

import (
	"compress/gzip"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// Model is a multinomial logistic regression over hashed n-gram features, with
// temperature scaling fitted on held-out data so its probabilities are calibrated.
type Model struct {
	Version     int
	Classes     []string
	Dim         uint32
	W           []float32 // Dim*len(Classes), feature-major: W[f*K+k]
	B           []float32
	Temperature float64
	// Held-out figures measured right after training (on the calibration split).
	HeldOutN        int
	HeldOutAccuracy float64

	pool sync.Pool // *predictBuf
}

type predictBuf struct {
	feats  []uint32
	logits []float64
	f      featurizer
}

// LabelledText is one training example.
type LabelledText struct {
	Subject  string
	Text     string
	Category string
}

// TrainOptions tunes Train; zero values get defaults.
type TrainOptions struct {
	Dim          uint32  // hashed feature space, power of two (default 1<<18)
	Epochs       int     // default 12
	LearningRate float64 // default 0.5
	Seed         uint64
}

const modelVersion = 2

// Train fits a model on train and fits its temperature on calib (which must be
// disjoint from train). classes fixes the output order; labels outside it are an error.
func Train(ctx context.Context, classes []string, train, calib []LabelledText, opt TrainOptions) (*Model, error) {
	if opt.Dim == 0 {
		opt.Dim = 1 << 18
	}
	if opt.Dim&(opt.Dim-1) != 0 {
		return nil, errors.New("classify: train: dim must be a power of two")
	}
	if opt.Epochs == 0 {
		opt.Epochs = 12
	}
	if opt.LearningRate == 0 {
		opt.LearningRate = 0.5
	}
	if len(train) == 0 {
		return nil, errors.New("classify: train: no training examples")
	}
	K := len(classes)
	m := &Model{Version: modelVersion, Classes: slices.Clone(classes), Dim: opt.Dim,
		W: make([]float32, int(opt.Dim)*K), B: make([]float32, K), Temperature: 1}
	type ex struct {
		feats []uint32
		y     int
	}
	prep := func(rows []LabelledText) ([]ex, error) {
		f := featurizer{dim: opt.Dim}
		out := make([]ex, 0, len(rows))
		for _, r := range rows {
			y := slices.Index(classes, r.Category)
			if y < 0 {
				return nil, fmt.Errorf("classify: train: label %q not in taxonomy", r.Category)
			}
			out = append(out, ex{feats: f.features(f.features(nil, r.Text, 0), r.Subject, 1), y: y})
		}
		return out, nil
	}
	tr, err := prep(train)
	if err != nil {
		return nil, err
	}
	cb, err := prep(calib)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x7269616765))
	order := make([]int, len(tr))
	for i := range order {
		order[i] = i
	}
	logits := make([]float64, K)
	for epoch := 0; epoch < opt.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		lr := opt.LearningRate / (1 + 0.5*float64(epoch))
		for _, i := range order {
			e := tr[i]
			scale := m.logits(e.feats, logits)
			softmax(logits, 1)
			for k := range K {
				g := logits[k]
				if k == e.y {
					g -= 1
				}
				logits[k] = g
			}
			step := lr * scale
			for _, f := range e.feats {
				w := m.W[int(f)*K : int(f)*K+K]
				for k := range K {
					w[k] -= float32(step * logits[k])
				}
			}
			for k := range K {
				m.B[k] -= float32(lr * 0.1 * logits[k])
			}
		}
	}
	// Temperature scaling on the calibration split (golden-section search on log T).
	if len(cb) > 0 {
		raw := make([][]float64, len(cb))
		for i, e := range cb {
			raw[i] = make([]float64, K)
			m.logits(e.feats, raw[i])
		}
		nll := func(t float64) float64 {
			p := make([]float64, K)
			s := 0.0
			for i, e := range cb {
				copy(p, raw[i])
				softmax(p, t)
				s -= math.Log(math.Max(p[e.y], 1e-12))
			}
			return s
		}
		lo, hi := math.Log(0.05), math.Log(20.0)
		g := (math.Sqrt(5) - 1) / 2
		for range 60 {
			a, b := hi-g*(hi-lo), lo+g*(hi-lo)
			if nll(math.Exp(a)) < nll(math.Exp(b)) {
				hi = b
			} else {
				lo = a
			}
		}
		m.Temperature = math.Exp((lo + hi) / 2)
		correct := 0
		for i, e := range cb {
			if argmax(raw[i]) == e.y {
				correct++
			}
		}
		m.HeldOutN, m.HeldOutAccuracy = len(cb), float64(correct)/float64(len(cb))
	}
	return m, nil
}

// logits writes the raw scores of feats into out and returns the feature scale.
func (m *Model) logits(feats []uint32, out []float64) float64 {
	K := len(m.Classes)
	for k := range K {
		out[k] = float64(m.B[k])
	}
	if len(feats) == 0 {
		return 0
	}
	scale := 1 / math.Sqrt(float64(len(feats)))
	var a [32]float32
	var acc []float32
	if K <= len(a) {
		acc = a[:K]
	} else {
		acc = make([]float32, K)
	}
	for _, f := range feats {
		w := m.W[int(f)*K : int(f)*K+K]
		for k := range K {
			acc[k] += w[k]
		}
	}
	for k := range K {
		out[k] += scale * float64(acc[k])
	}
	return scale
}

func softmax(x []float64, temp float64) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for i, v := range x {
		x[i] = math.Exp((v - mx) / temp)
		s += x[i]
	}
	for i := range x {
		x[i] /= s
	}
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// Predict returns the most probable class and its calibrated probability, and
// fills probs (len(Classes)) when it is not nil.
func (m *Model) Predict(subject, text string, probs []float64) (string, float64) {
	b, _ := m.pool.Get().(*predictBuf)
	if b == nil {
		b = &predictBuf{logits: make([]float64, len(m.Classes)), f: featurizer{dim: m.Dim}}
	}
	b.feats = b.f.features(b.f.features(b.feats[:0], text, 0), subject, 1)
	m.logits(b.feats, b.logits)
	softmax(b.logits, m.Temperature)
	k := argmax(b.logits)
	cls, p := m.Classes[k], b.logits[k]
	if probs != nil {
		copy(probs, b.logits)
	}
	m.pool.Put(b)
	return cls, p
}

// Save writes the model gzip-compressed.
func (m *Model) Save(w io.Writer) error {
	zw := gzip.NewWriter(w)
	if err := gob.NewEncoder(zw).Encode(m); err != nil {
		return fmt.Errorf("classify: save model: %w", err)
	}
	return zw.Close()
}

// LoadModel reads a model written by Save.
func LoadModel(r io.Reader) (*Model, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("classify: load model: %w", err)
	}
	var m Model
	if err := gob.NewDecoder(zr).Decode(&m); err != nil {
		return nil, fmt.Errorf("classify: load model: %w", err)
	}
	if m.Version != modelVersion || m.Dim == 0 || m.Dim&(m.Dim-1) != 0 || len(m.W) != int(m.Dim)*len(m.Classes) || len(m.B) != len(m.Classes) {
		return nil, errors.New("classify: load model: incompatible or corrupt model file")
	}
	return &m, nil
}
