package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"

	openai "github.com/sashabaranov/go-openai"

	"github.com/triage-dev/triage/store"
)

// Embedder turns texts into vectors (one per text, same order). The pipeline
// passes one built from the `llm` endpoint; NewOpenAIEmbedder is one.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

func (k *Knowledge) hybridOn() bool { return k.cfg.Hybrid.Enabled && k.emb != nil }

// embedText is what an article's vector is computed from.
func embedText(a store.KnowledgeArticle) string {
	t := a.Title + "\n" + a.Summary + "\n" + a.Body
	if len(t) > 6000 {
		t = t[:6000]
	}
	return t
}

func textHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// EmbedArticles computes the vectors that are missing or stale (text changed)
// and returns how many it computed. Sync and Import call it when hybrid is on.
func (k *Knowledge) EmbedArticles(ctx context.Context) (int, error) {
	if !k.hybridOn() {
		return 0, nil
	}
	model := k.cfg.Hybrid.Model
	have, err := k.st.KnowledgeEmbeddings(ctx, model)
	if err != nil {
		return 0, fmt.Errorf("knowledge: embeddings: %w", err)
	}
	hashes := map[int64]string{}
	for _, e := range have {
		hashes[e.Article] = e.Hash
	}
	type todo struct {
		id         int64
		text, hash string
	}
	var work []todo
	err = k.st.AllKnowledgeArticles(ctx, func(a store.KnowledgeArticle) error {
		t := embedText(a)
		if h := textHash(t); hashes[a.ID] != h {
			work = append(work, todo{a.ID, t, h})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("knowledge: embeddings: %w", err)
	}
	done := 0
	for start := 0; start < len(work); start += 64 {
		batch := work[start:min(start+64, len(work))]
		texts := make([]string, len(batch))
		for i, w := range batch {
			texts[i] = w.text
		}
		vecs, err := k.emb.Embed(ctx, texts)
		if err != nil {
			return done, fmt.Errorf("knowledge: embed articles: %w", err)
		}
		if len(vecs) != len(batch) {
			return done, fmt.Errorf("knowledge: embed articles: %d vectors for %d texts", len(vecs), len(batch))
		}
		es := make([]store.KnowledgeEmbedding, len(batch))
		for i, w := range batch {
			es[i] = store.KnowledgeEmbedding{Article: w.id, Model: model, Hash: w.hash, Vector: normalize(vecs[i])}
		}
		if err := k.st.PutKnowledgeEmbeddings(ctx, es); err != nil {
			return done, fmt.Errorf("knowledge: %w", err)
		}
		done += len(batch)
	}
	k.mu.Lock()
	k.vectors = nil // reload on next search
	k.mu.Unlock()
	return done, nil
}

func normalize(v []float32) []float32 {
	var s float64
	for _, f := range v {
		s += float64(f) * float64(f)
	}
	if s == 0 {
		return v
	}
	n := float32(1 / math.Sqrt(s))
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = f * n
	}
	return out
}

// semanticRank returns article ids by cosine similarity to text, best first.
func (k *Knowledge) semanticRank(ctx context.Context, text string, n int) ([]int64, error) {
	k.mu.Lock()
	vecs := k.vectors
	k.mu.Unlock()
	if vecs == nil {
		es, err := k.st.KnowledgeEmbeddings(ctx, k.cfg.Hybrid.Model)
		if err != nil {
			return nil, err
		}
		vecs = make(map[int64][]float32, len(es))
		for _, e := range es {
			vecs[e.Article] = e.Vector
		}
		k.mu.Lock()
		k.vectors, k.vecModel = vecs, k.cfg.Hybrid.Model
		k.mu.Unlock()
	}
	if len(vecs) == 0 {
		return nil, errors.New("no article embeddings stored yet")
	}
	qv, err := k.emb.Embed(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	if len(qv) != 1 {
		return nil, fmt.Errorf("embedder returned %d vectors for 1 text", len(qv))
	}
	q := normalize(qv[0])
	type scored struct {
		id  int64
		cos float64
	}
	all := make([]scored, 0, len(vecs))
	for id, v := range vecs {
		if len(v) != len(q) {
			continue
		}
		var dot float64
		for i := range v {
			dot += float64(v[i]) * float64(q[i])
		}
		all = append(all, scored{id, dot})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].cos != all[j].cos {
			return all[i].cos > all[j].cos
		}
		return all[i].id < all[j].id
	})
	ids := make([]int64, 0, n)
	for _, s := range all[:min(n, len(all))] {
		ids = append(ids, s.id)
	}
	return ids, nil
}

// OpenAIEmbedder calls an OpenAI-compatible /embeddings endpoint.
type OpenAIEmbedder struct {
	client *openai.Client
	model  string
}

// NewOpenAIEmbedder returns an embedder for baseURL (e.g. https://api.openai.com/v1
// or a local server's /v1). hc may be nil.
func NewOpenAIEmbedder(baseURL, apiKey, model string, hc *http.Client) *OpenAIEmbedder {
	cfg := openai.DefaultConfig(apiKey)
	if baseURL != "" {
		cfg.BaseURL = baseURL
	}
	if hc != nil {
		cfg.HTTPClient = hc
	}
	return &OpenAIEmbedder{client: openai.NewClientWithConfig(cfg), model: model}
}

// Embed implements Embedder.
func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	resp, err := e.client.CreateEmbeddings(ctx, openai.EmbeddingRequest{Input: texts, Model: openai.EmbeddingModel(e.model)})
	if err != nil {
		return nil, fmt.Errorf("embeddings: %w", err)
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(out) {
			return nil, fmt.Errorf("embeddings: answer index %d out of range", d.Index)
		}
		out[d.Index] = d.Embedding
	}
	for i, v := range out {
		if v == nil {
			return nil, fmt.Errorf("embeddings: no vector for input %d", i)
		}
	}
	return out, nil
}
