package classify

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
)

// data/bitext_train.csv is the Bitext customer-service training set (CDLA-Sharing
// 1.0, data/LICENSE.bitext). data/extra.jsonl holds labelled emails written for
// this project (OTHER and non-English examples the Bitext set lacks);
// data/handwritten.jsonl holds realistic multi-sentence emails in seven languages.
//
//go:embed data/bitext_train.csv data/extra.jsonl data/handwritten.jsonl
var dataFS embed.FS

// Split names of the deterministic Bitext split.
const (
	SplitTrain = "train" // 80%
	SplitCalib = "calib" // 10%: temperature / calibration fitting
	SplitTest  = "test"  // 10%: held-out evaluation, never trained on
)

// SplitOf assigns an utterance to a split by a hash of its text, so the split
// is stable across runs and machines.
func SplitOf(text string) string {
	h := fnv.New32a()
	io.WriteString(h, text)
	switch h.Sum32() % 10 {
	case 0:
		return SplitTest
	case 1:
		return SplitCalib
	}
	return SplitTrain
}

// BitextRows returns the embedded Bitext utterances of one split ("" = all).
func BitextRows(split string) ([]LabelledText, error) {
	b, err := dataFS.ReadFile("data/bitext_train.csv")
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(b))
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("classify: bitext: %w", err)
	}
	var out []LabelledText
	for i, rec := range recs {
		if i == 0 || len(rec) < 7 {
			continue
		}
		if split == "" || SplitOf(rec[0]) == split {
			out = append(out, LabelledText{Text: rec[0], Category: rec[6]})
		}
	}
	return out, nil
}

// ExtraRows returns the project's labelled emails of one split ("" = all).
func ExtraRows(split string) ([]LabelledText, error) {
	var rows []EvalRow
	for _, name := range []string{"data/extra.jsonl", "data/handwritten.jsonl"} {
		b, err := dataFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		r, err := ReadEvalRows(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, r...)
	}
	var out []LabelledText
	for _, r := range rows {
		t := NewText(r.Body)
		if split == "" || SplitOf(t) == split {
			out = append(out, LabelledText{Subject: r.Subject, Text: t, Category: r.Category})
		}
	}
	return out, nil
}

// EvalRow is one line of an eval data set (JSONL).
type EvalRow struct {
	Subject  string `json:"subject"`
	Body     string `json:"body"`
	From     string `json:"from"`
	Category string `json:"category"`
	Priority string `json:"priority,omitempty"`
	Escalate *bool  `json:"escalate,omitempty"`
}

// ReadEvalRows reads JSONL rows; blank lines are skipped.
func ReadEvalRows(r io.Reader) ([]EvalRow, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	var out []EvalRow
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var row EvalRow
		if err := json.Unmarshal(b, &row); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if row.Category == "" {
			return nil, fmt.Errorf("line %d: category missing", line)
		}
		out = append(out, row)
	}
	return out, sc.Err()
}
