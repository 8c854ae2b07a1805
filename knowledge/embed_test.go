package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// conceptEmbedder maps words onto a few concept dimensions, so synonyms that
// share no stem ("money back" and "refund") get similar vectors.
type conceptEmbedder struct {
	calls atomic.Int64
	texts atomic.Int64
	fail  bool
}

var concepts = [][]string{
	{"refund", "money", "reimburse", "rückerstattung", "remboursement", "reembolso"},
	{"password", "login", "sign", "passwort", "contraseña"},
	{"invoice", "receipt", "bill", "rechnung", "facture"},
	{"delivery", "parcel", "tracking", "shipped", "package"},
}

func (e *conceptEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.calls.Add(1)
	e.texts.Add(int64(len(texts)))
	if e.fail {
		return nil, errors.New("endpoint down")
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, len(concepts)+1)
		v[len(concepts)] = 0.01
		lt := strings.ToLower(t)
		for d, words := range concepts {
			for _, w := range words {
				v[d] += float32(strings.Count(lt, w))
			}
		}
		out[i] = v
	}
	return out, nil
}

func TestHybrid(t *testing.T) {
	ctx := context.Background()
	emb := &conceptEmbedder{}
	cfg := Config{Hybrid: Hybrid{Enabled: true}}
	k := New(cfg, openStore(t), WithEmbedder(emb))
	if _, err := k.Import(ctx, writeJSONL(t, smallKB)); err != nil {
		t.Fatal(err)
	}
	if got := emb.texts.Load(); got != int64(len(smallKB)) {
		t.Fatalf("embedded %d texts on import, want %d", got, len(smallKB))
	}
	// Up-to-date vectors are not recomputed.
	if n, err := k.EmbedArticles(ctx); err != nil || n != 0 {
		t.Fatalf("re-embed computed %d (%v), want 0", n, err)
	}
	// "reimburse" shares no term with the refund article; only the embedding knows.
	ms, err := k.Search(ctx, Query{Subject: "Reimburse me", Body: "please reimburse the shoes I sent to you", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || !strings.HasPrefix(ms[0].ArticleID, "refund-") {
		t.Fatalf("hybrid did not find the refund article: %+v", ms)
	}
	// Without the embedder the same query has no lexical answer.
	plain := New(Config{}, k.st)
	if ms, _ := plain.Search(ctx, Query{Subject: "Reimburse me", Body: "please reimburse the shoes I sent to you", Language: "en"}); len(ms) > 0 && strings.HasPrefix(ms[0].ArticleID, "refund-") {
		t.Fatalf("BM25 alone already finds it, the test proves nothing: %+v", ms)
	}
	// An embedding outage degrades to BM25 instead of failing the stage.
	emb.fail = true
	ms, err = k.Search(ctx, Query{Subject: "Reset your password", Language: "en"})
	if err != nil || len(ms) == 0 || ms[0].ArticleID != "password-en" {
		t.Fatalf("fallback to BM25: %+v %v", ms, err)
	}
}

func TestOpenAIEmbedder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/embeddings" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "m" {
			http.Error(w, `{"error":{"message":"bad body"}}`, http.StatusBadRequest)
			return
		}
		// Answer out of order: the embedder must place vectors by index.
		var data []map[string]any
		for i := len(req.Input) - 1; i >= 0; i-- {
			data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": []float32{float32(len(req.Input[i])), 1}})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "m"})
	}))
	defer srv.Close()
	e := NewOpenAIEmbedder(srv.URL+"/v1", "k", "m", srv.Client())
	vs, err := e.Embed(context.Background(), []string{"a", "bbb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0][0] != 1 || vs[1][0] != 3 {
		t.Fatalf("vectors %v", vs)
	}
	if _, err := NewOpenAIEmbedder(srv.URL+"/v1", "wrong", "m", srv.Client()).Embed(context.Background(), []string{"a"}); err == nil {
		t.Fatal("want error from a rejected request")
	}
}
