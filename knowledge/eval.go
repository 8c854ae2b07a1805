package knowledge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// EvalRow is one labelled query: the article may be named by its id
// (ArticleID or KnowledgeArticleID), UrlName or title.
type EvalRow struct {
	Query    string `json:"query"`
	Article  string `json:"article"`
	Language string `json:"language,omitempty"`
}

// EvalReport holds retrieval quality over a query set.
type EvalReport struct {
	N         int       `json:"n"`
	K         int       `json:"k"`
	RecallAt1 float64   `json:"recall_at_1"`
	RecallAt5 float64   `json:"recall_at_5"`
	RecallAtK float64   `json:"recall_at_k"`
	MRR       float64   `json:"mrr"` // over the top k; a miss counts 0
	Misses    []EvalRow `json:"misses,omitempty"`
}

// ReadEvalRows reads a JSONL query set.
func ReadEvalRows(r io.Reader) ([]EvalRow, error) {
	var out []EvalRow
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		var row EvalRow
		if err := json.Unmarshal(b, &row); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if row.Query == "" || row.Article == "" {
			return nil, fmt.Errorf("line %d: query and article are required", line)
		}
		out = append(out, row)
	}
	return out, sc.Err()
}

func matchesRef(m Match, ref string) bool {
	ref = strings.TrimSpace(ref)
	return ref == m.ArticleID || (m.KnowledgeArticleID != "" && ref == m.KnowledgeArticleID) ||
		(m.URLName != "" && strings.EqualFold(ref, m.URLName)) || strings.EqualFold(ref, m.Title) ||
		(m.ArticleNumber != "" && ref == m.ArticleNumber)
}

// Evaluate runs every query (as an email subject) and scores where the expected
// article ranks among the top k.
func Evaluate(ctx context.Context, k *Knowledge, rows []EvalRow, topK int) (EvalReport, error) {
	if topK <= 0 {
		topK = 5
	}
	rep := EvalReport{N: len(rows), K: topK}
	if len(rows) == 0 {
		return rep, nil
	}
	depth := max(topK, 5)
	var r1, r5, rk, mrr float64
	for _, row := range rows {
		ms, err := k.Search(ctx, Query{Subject: row.Query, Language: row.Language, TopK: depth})
		if err != nil {
			return rep, err
		}
		rank := 0
		for i, m := range ms {
			if matchesRef(m, row.Article) {
				rank = i + 1
				break
			}
		}
		switch {
		case rank == 0:
			rep.Misses = append(rep.Misses, row)
		default:
			if rank == 1 {
				r1++
			}
			if rank <= 5 {
				r5++
			}
			if rank <= topK {
				rk++
				mrr += 1 / float64(rank)
			} else if len(rep.Misses) < 1000 {
				rep.Misses = append(rep.Misses, row)
			}
		}
	}
	n := float64(len(rows))
	rep.RecallAt1, rep.RecallAt5, rep.RecallAtK, rep.MRR = round3(r1/n), round3(r5/n), round3(rk/n), round3(mrr/n)
	return rep, nil
}
