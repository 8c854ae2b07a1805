package classify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// CategoryStats is one row of the per-category table.
type CategoryStats struct {
	Category  string  `json:"category"`
	Support   int     `json:"support"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Report is the outcome of Evaluate.
type Report struct {
	Model    string  `json:"model"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
	ECE      float64 `json:"ece"` // expected calibration error, 10 equal-width bins
	// Coverage is the share of emails whose category confidence reaches the
	// automate threshold; AutomatedAccuracy is the accuracy on those.
	AutomateThreshold float64         `json:"automate_threshold"`
	Coverage          float64         `json:"coverage"`
	AutomatedAccuracy float64         `json:"automated_accuracy"`
	PriorityAccuracy  *float64        `json:"priority_accuracy,omitempty"`
	EscalateAccuracy  *float64        `json:"escalate_accuracy,omitempty"`
	Errors            int             `json:"errors"` // classifier errors (escalated classifier_error or returned error)
	MedianInputTokens int             `json:"median_input_tokens"`
	PerCategory       []CategoryStats `json:"per_category"`
	Labels            []string        `json:"labels"`
	// Confusion[i][j] counts emails of Labels[i] classified as Labels[j].
	Confusion [][]int `json:"confusion"`
	// Raw confidences and correctness, for FitCalibration (not in JSON).
	Confidences []float64 `json:"-"`
	Correct     []bool    `json:"-"`
}

// Evaluate classifies every row and scores the results. automate is the
// category automate threshold used for the coverage figures.
func Evaluate(ctx context.Context, c Classifier, rows []EvalRow, automate float64) (Report, error) {
	if len(rows) == 0 {
		return Report{}, errors.New("classify: eval: empty data set")
	}
	var rep Report
	var preds, golds []string
	var tokens []int
	var prOK, prN, esOK, esN int
	for _, row := range rows {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		res, err := c.Classify(ctx, Input{Subject: row.Subject, Body: row.Body, From: row.From})
		if err != nil {
			if ctx.Err() != nil {
				return Report{}, ctx.Err()
			}
			rep.Errors++
			res = Result{}
		} else if res.EscalationReason == ReasonClassifierError {
			rep.Errors++
		}
		if rep.Model == "" {
			rep.Model = res.Model
		}
		preds = append(preds, res.Category)
		golds = append(golds, row.Category)
		tokens = append(tokens, res.InputTokens)
		rep.Confidences = append(rep.Confidences, res.Confidence)
		rep.Correct = append(rep.Correct, res.Category == row.Category)
		if row.Priority != "" {
			prN++
			if res.Priority == row.Priority {
				prOK++
			}
		}
		if row.Escalate != nil {
			esN++
			if res.Escalate == *row.Escalate {
				esOK++
			}
		}
	}
	rep.N = len(rows)
	rep.AutomateThreshold = automate
	ok, cov, covOK := 0, 0, 0
	for i := range preds {
		if rep.Correct[i] {
			ok++
		}
		if rep.Confidences[i] >= automate {
			cov++
			if rep.Correct[i] {
				covOK++
			}
		}
	}
	rep.Accuracy = float64(ok) / float64(rep.N)
	rep.Coverage = float64(cov) / float64(rep.N)
	if cov > 0 {
		rep.AutomatedAccuracy = float64(covOK) / float64(cov)
	}
	if prN > 0 {
		v := float64(prOK) / float64(prN)
		rep.PriorityAccuracy = &v
	}
	if esN > 0 {
		v := float64(esOK) / float64(esN)
		rep.EscalateAccuracy = &v
	}
	rep.ECE = ECE(rep.Confidences, rep.Correct, 10)
	sort.Ints(tokens)
	rep.MedianInputTokens = tokens[len(tokens)/2]

	// Labels: gold labels plus any predicted ones (and "" for failures).
	set := map[string]bool{}
	for i := range golds {
		set[golds[i]] = true
		set[preds[i]] = true
	}
	for l := range set {
		rep.Labels = append(rep.Labels, l)
	}
	slices.Sort(rep.Labels)
	idx := map[string]int{}
	for i, l := range rep.Labels {
		idx[l] = i
	}
	rep.Confusion = make([][]int, len(rep.Labels))
	for i := range rep.Confusion {
		rep.Confusion[i] = make([]int, len(rep.Labels))
	}
	for i := range golds {
		rep.Confusion[idx[golds[i]]][idx[preds[i]]]++
	}
	f1sum, f1n := 0.0, 0
	for i, l := range rep.Labels {
		tp := rep.Confusion[i][i]
		support, predicted := 0, 0
		for j := range rep.Labels {
			support += rep.Confusion[i][j]
			predicted += rep.Confusion[j][i]
		}
		if support == 0 {
			continue // predicted-only labels don't enter macro-F1
		}
		st := CategoryStats{Category: l, Support: support}
		if predicted > 0 {
			st.Precision = float64(tp) / float64(predicted)
		}
		st.Recall = float64(tp) / float64(support)
		if st.Precision+st.Recall > 0 {
			st.F1 = 2 * st.Precision * st.Recall / (st.Precision + st.Recall)
		}
		rep.PerCategory = append(rep.PerCategory, st)
		f1sum += st.F1
		f1n++
	}
	rep.MacroF1 = f1sum / float64(f1n)
	return rep, nil
}

// ECE is the expected calibration error over equal-width bins.
func ECE(conf []float64, correct []bool, bins int) float64 {
	if len(conf) == 0 {
		return 0
	}
	n := make([]int, bins)
	sc := make([]float64, bins)
	sa := make([]float64, bins)
	for i, c := range conf {
		b := int(c * float64(bins))
		b = min(max(b, 0), bins-1)
		n[b]++
		sc[b] += c
		if correct[i] {
			sa[b]++
		}
	}
	e := 0.0
	for b := range bins {
		if n[b] > 0 {
			e += float64(n[b]) / float64(len(conf)) * math.Abs(sc[b]/float64(n[b])-sa[b]/float64(n[b]))
		}
	}
	return e
}

// WriteText renders the report for a terminal.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "model      %s\n", r.Model)
	fmt.Fprintf(&b, "n          %d\n", r.N)
	fmt.Fprintf(&b, "accuracy   %.4f\n", r.Accuracy)
	fmt.Fprintf(&b, "macro-F1   %.4f\n", r.MacroF1)
	fmt.Fprintf(&b, "ECE        %.4f (10 bins)\n", r.ECE)
	fmt.Fprintf(&b, "automate   confidence >= %.2f: coverage %.1f%%, accuracy %.4f\n", r.AutomateThreshold, 100*r.Coverage, r.AutomatedAccuracy)
	if r.PriorityAccuracy != nil {
		fmt.Fprintf(&b, "priority   accuracy %.4f\n", *r.PriorityAccuracy)
	}
	if r.EscalateAccuracy != nil {
		fmt.Fprintf(&b, "escalate   accuracy %.4f\n", *r.EscalateAccuracy)
	}
	fmt.Fprintf(&b, "errors     %d\n", r.Errors)
	fmt.Fprintf(&b, "median input tokens %d\n\n", r.MedianInputTokens)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "category\tsupport\tprecision\trecall\tf1\t")
	for _, s := range r.PerCategory {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t\n", s.Category, s.Support, s.Precision, s.Recall, s.F1)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nconfusion (rows = true, columns = predicted):")
	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for i := range r.Labels {
		fmt.Fprintf(tw, "%d\t", i)
	}
	fmt.Fprintln(tw)
	for i, l := range r.Labels {
		name := l
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(tw, "%d %s\t", i, name)
		for j := range r.Labels {
			fmt.Fprintf(tw, "%d\t", r.Confusion[i][j])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// WriteJSON renders the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
