package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// KnowledgeArticle is one indexed article. The Index* fields are the
// pre-processed (stop words out, stemmed) text the FTS5 index receives.
type KnowledgeArticle struct {
	ID                 int64 // rowid, set by the store
	Source             string
	Origin             string
	Key                string
	ArticleID          string
	KnowledgeArticleID string
	ArticleNumber      string
	URLName            string
	URL                string
	Language           string
	Title              string
	Summary            string
	Body               string
	Version            int
	ModStamp           time.Time

	Lang         string // base language token for the index (en, de, …)
	IndexTitle   string
	IndexSummary string
	IndexBody    string
}

// KnowledgeChanges is one sync or import, applied in one transaction.
type KnowledgeChanges struct {
	Source  string
	Upserts []KnowledgeArticle
	// Reconcile deletes every article of Source (and of Origin, when set) whose
	// ArticleID is not in Keep: how archived and deleted articles disappear.
	Reconcile bool
	Origin    string
	Keep      map[string]bool
	// Cursor, when non-empty, becomes the source's sync cursor.
	Cursor   string
	APICalls int
}

// KnowledgeApplied counts what ApplyKnowledge changed.
type KnowledgeApplied struct {
	Inserted, Updated, Unchanged, Deleted int
}

// ApplyKnowledge upserts, reconciles and advances the cursor atomically, so a
// failed sync leaves the previous index intact.
func (s *Store) ApplyKnowledge(ctx context.Context, ch KnowledgeChanges) (KnowledgeApplied, error) {
	now := s.now()
	var res KnowledgeApplied
	err := s.Write(ctx, func(tx *sql.Tx) error {
		res = KnowledgeApplied{}
		for _, a := range ch.Upserts {
			st, err := upsertArticle(ctx, tx, ch.Source, a, now)
			if err != nil {
				return err
			}
			switch st {
			case 'i':
				res.Inserted++
			case 'u':
				res.Updated++
			default:
				res.Unchanged++
			}
		}
		if ch.Reconcile {
			q := `SELECT id, article_id FROM knowledge_articles WHERE source=?`
			args := []any{ch.Source}
			if ch.Origin != "" {
				q += ` AND origin=?`
				args = append(args, ch.Origin)
			}
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				return fmt.Errorf("list articles: %w", err)
			}
			var gone []int64
			for rows.Next() {
				var id int64
				var aid string
				if err := rows.Scan(&id, &aid); err != nil {
					rows.Close()
					return err
				}
				if !ch.Keep[aid] {
					gone = append(gone, id)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, id := range gone {
				if err := deleteArticle(ctx, tx, id); err != nil {
					return err
				}
			}
			res.Deleted = len(gone)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM knowledge_articles WHERE source=?`, ch.Source).Scan(&n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO knowledge_sync (source, cursor, last_sync_at, articles, api_calls) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET cursor = CASE WHEN excluded.cursor <> '' THEN excluded.cursor ELSE cursor END,
			last_sync_at=excluded.last_sync_at, articles=excluded.articles, api_calls=excluded.api_calls`,
			ch.Source, ch.Cursor, now.UnixMilli(), n, ch.APICalls)
		return err
	})
	if err != nil {
		return KnowledgeApplied{}, fmt.Errorf("store: apply knowledge %s: %w", ch.Source, err)
	}
	return res, nil
}

// upsertArticle returns 'i' (inserted), 'u' (updated) or 'n' (unchanged).
func upsertArticle(ctx context.Context, tx *sql.Tx, source string, a KnowledgeArticle, now time.Time) (byte, error) {
	var id int64
	var oldAID, oldTitle, oldSummary, oldBody, oldURL, oldLang string
	var oldVersion int
	var oldMod int64
	err := tx.QueryRowContext(ctx, `SELECT id, article_id, title, summary, body, url, language, version, modstamp
		FROM knowledge_articles WHERE source=? AND article_key=?`, source, a.Key).
		Scan(&id, &oldAID, &oldTitle, &oldSummary, &oldBody, &oldURL, &oldLang, &oldVersion, &oldMod)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		r, err := tx.ExecContext(ctx, `INSERT INTO knowledge_articles (source, origin, article_key, article_id, knowledge_article_id,
			article_number, url_name, url, language, title, summary, body, version, modstamp, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			source, a.Origin, a.Key, a.ArticleID, a.KnowledgeArticleID, a.ArticleNumber, a.URLName, a.URL, a.Language,
			a.Title, a.Summary, a.Body, a.Version, a.ModStamp.UnixMilli(), now.UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("insert article %s: %w", a.Key, err)
		}
		if id, err = r.LastInsertId(); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO knowledge_fts (rowid, title, summary, body, lang) VALUES (?, ?, ?, ?, ?)`,
			id, a.IndexTitle, a.IndexSummary, a.IndexBody, a.Lang); err != nil {
			return 0, fmt.Errorf("index article %s: %w", a.Key, err)
		}
		return 'i', nil
	case err != nil:
		return 0, fmt.Errorf("look up article %s: %w", a.Key, err)
	}
	if oldAID == a.ArticleID && oldTitle == a.Title && oldSummary == a.Summary && oldBody == a.Body &&
		oldURL == a.URL && oldLang == a.Language && oldVersion == a.Version {
		if oldMod != a.ModStamp.UnixMilli() {
			if _, err := tx.ExecContext(ctx, `UPDATE knowledge_articles SET modstamp=? WHERE id=?`, a.ModStamp.UnixMilli(), id); err != nil {
				return 0, err
			}
		}
		return 'n', nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE knowledge_articles SET origin=?, article_id=?, knowledge_article_id=?, article_number=?,
		url_name=?, url=?, language=?, title=?, summary=?, body=?, version=?, modstamp=?, updated_at=? WHERE id=?`,
		a.Origin, a.ArticleID, a.KnowledgeArticleID, a.ArticleNumber, a.URLName, a.URL, a.Language, a.Title, a.Summary, a.Body,
		a.Version, a.ModStamp.UnixMilli(), now.UnixMilli(), id); err != nil {
		return 0, fmt.Errorf("update article %s: %w", a.Key, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM knowledge_fts WHERE rowid=?`, id); err != nil {
		return 0, fmt.Errorf("unindex article %s: %w", a.Key, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO knowledge_fts (rowid, title, summary, body, lang) VALUES (?, ?, ?, ?, ?)`,
		id, a.IndexTitle, a.IndexSummary, a.IndexBody, a.Lang); err != nil {
		return 0, fmt.Errorf("reindex article %s: %w", a.Key, err)
	}
	// The text changed: its embedding is stale.
	if _, err := tx.ExecContext(ctx, `DELETE FROM knowledge_embeddings WHERE article=?`, id); err != nil {
		return 0, err
	}
	return 'u', nil
}

func deleteArticle(ctx context.Context, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM knowledge_fts WHERE rowid=?`, id); err != nil {
		return fmt.Errorf("unindex article %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM knowledge_embeddings WHERE article=?`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM knowledge_articles WHERE id=?`, id); err != nil {
		return fmt.Errorf("delete article %d: %w", id, err)
	}
	return nil
}

// KnowledgeSyncState is a source's sync position.
type KnowledgeSyncState struct {
	Cursor     string
	LastSyncAt time.Time
	Articles   int
	APICalls   int
}

// KnowledgeSyncState returns the source's cursor (zero when never synced).
func (s *Store) KnowledgeSyncState(ctx context.Context, source string) (KnowledgeSyncState, error) {
	var st KnowledgeSyncState
	var at int64
	err := s.reader.QueryRowContext(ctx, `SELECT cursor, last_sync_at, articles, api_calls FROM knowledge_sync WHERE source=?`, source).
		Scan(&st.Cursor, &at, &st.Articles, &st.APICalls)
	if errors.Is(err, sql.ErrNoRows) {
		return KnowledgeSyncState{}, nil
	}
	if err != nil {
		return KnowledgeSyncState{}, fmt.Errorf("store: knowledge sync state: %w", classify(err))
	}
	if at > 0 {
		st.LastSyncAt = time.UnixMilli(at).UTC()
	}
	return st, nil
}

// KnowledgeHit is one FTS5 match; Score is -bm25 (higher is better).
type KnowledgeHit struct {
	ID    int64
	Score float64
}

// SearchKnowledge runs an FTS5 MATCH expression ranked by BM25 with the given
// column weights (title, summary, body).
func (s *Store) SearchKnowledge(ctx context.Context, match string, weights [3]float64, limit int) ([]KnowledgeHit, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT rowid, bm25(knowledge_fts, ?, ?, ?, 0.0) AS r FROM knowledge_fts
		WHERE knowledge_fts MATCH ? ORDER BY r LIMIT ?`, weights[0], weights[1], weights[2], match, limit)
	if err != nil {
		return nil, fmt.Errorf("store: search knowledge: %w", classify(err))
	}
	defer rows.Close()
	var out []KnowledgeHit
	for rows.Next() {
		var h KnowledgeHit
		if err := rows.Scan(&h.ID, &h.Score); err != nil {
			return nil, err
		}
		h.Score = -h.Score
		out = append(out, h)
	}
	return out, rows.Err()
}

const articleCols = `id, source, origin, article_key, article_id, knowledge_article_id, article_number, url_name, url,
	language, title, summary, body, version, modstamp`

func scanArticle(r scanner) (KnowledgeArticle, error) {
	var a KnowledgeArticle
	var mod int64
	err := r.Scan(&a.ID, &a.Source, &a.Origin, &a.Key, &a.ArticleID, &a.KnowledgeArticleID, &a.ArticleNumber, &a.URLName,
		&a.URL, &a.Language, &a.Title, &a.Summary, &a.Body, &a.Version, &mod)
	if mod != 0 {
		a.ModStamp = time.UnixMilli(mod).UTC()
	}
	return a, err
}

// KnowledgeArticles loads articles by rowid (missing ids are left out).
func (s *Store) KnowledgeArticles(ctx context.Context, ids []int64) (map[int64]KnowledgeArticle, error) {
	out := make(map[int64]KnowledgeArticle, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList(ids)
	rows, err := s.reader.QueryContext(ctx, `SELECT `+articleCols+` FROM knowledge_articles WHERE id IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load articles: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, err
		}
		out[a.ID] = a
	}
	return out, rows.Err()
}

// AllKnowledgeArticles calls fn for every article (ordered by id).
func (s *Store) AllKnowledgeArticles(ctx context.Context, fn func(KnowledgeArticle) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+articleCols+` FROM knowledge_articles ORDER BY id`)
	if err != nil {
		return fmt.Errorf("store: list articles: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// KnowledgeStats is the size of the index.
type KnowledgeStats struct {
	Articles int
	// Languages counts articles per language as the source names it (en_US, de, …).
	Languages map[string]int
}

// KnowledgeStats counts indexed articles.
func (s *Store) KnowledgeStats(ctx context.Context) (KnowledgeStats, error) {
	st := KnowledgeStats{Languages: map[string]int{}}
	rows, err := s.reader.QueryContext(ctx, `SELECT language, count(*) FROM knowledge_articles GROUP BY language`)
	if err != nil {
		return st, fmt.Errorf("store: knowledge stats: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var l string
		var n int
		if err := rows.Scan(&l, &n); err != nil {
			return st, err
		}
		st.Languages[l] = n
		st.Articles += n
	}
	return st, rows.Err()
}

// KnowledgeCount is the number of indexed articles (the N of IDF).
func (s *Store) KnowledgeCount(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM knowledge_articles`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: knowledge count: %w", classify(err))
	}
	return n, nil
}

// KnowledgeDocFreq returns how many indexed articles contain each term (any column).
func (s *Store) KnowledgeDocFreq(ctx context.Context, terms []string) (map[string]int, error) {
	out := make(map[string]int, len(terms))
	if len(terms) == 0 {
		return out, nil
	}
	for _, t := range terms {
		out[t] = 0
	}
	// SQLite turns IN on the vocabulary table into one term lookup per value.
	in, args := inList(terms)
	rows, err := s.reader.QueryContext(ctx, `SELECT term, doc FROM knowledge_vocab WHERE term IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("store: doc freq: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}

// KnowledgeEmbedding is one article's vector.
type KnowledgeEmbedding struct {
	Article int64
	Model   string
	Hash    string
	Vector  []float32
}

// PutKnowledgeEmbeddings stores vectors (replacing older ones).
func (s *Store) PutKnowledgeEmbeddings(ctx context.Context, es []KnowledgeEmbedding) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		for _, e := range es {
			b := make([]byte, 4*len(e.Vector))
			for i, f := range e.Vector {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
			}
			// The article may have been deleted by a concurrent sync: insert only if it exists.
			if _, err := tx.ExecContext(ctx, `INSERT INTO knowledge_embeddings (article, model, hash, vector)
				SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM knowledge_articles WHERE id=?)
				ON CONFLICT (article) DO UPDATE SET model=excluded.model, hash=excluded.hash, vector=excluded.vector`,
				e.Article, e.Model, e.Hash, b, e.Article); err != nil {
				return fmt.Errorf("store: put embedding: %w", err)
			}
		}
		return nil
	})
}

// KnowledgeEmbeddings returns every stored vector of the model.
func (s *Store) KnowledgeEmbeddings(ctx context.Context, model string) ([]KnowledgeEmbedding, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT article, hash, vector FROM knowledge_embeddings WHERE model=?`, model)
	if err != nil {
		return nil, fmt.Errorf("store: embeddings: %w", classify(err))
	}
	defer rows.Close()
	var out []KnowledgeEmbedding
	for rows.Next() {
		e := KnowledgeEmbedding{Model: model}
		var b []byte
		if err := rows.Scan(&e.Article, &e.Hash, &b); err != nil {
			return nil, err
		}
		e.Vector = make([]float32, len(b)/4)
		for i := range e.Vector {
			e.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// KnowledgeGap is one email the knowledge base did not answer.
type KnowledgeGap struct {
	MessageID   int64
	Kind        string // "no_match" or "rejected"
	Subject     string
	Category    string
	Language    string
	KeyTerms    []string
	BestScore   float64
	BestArticle string
	At          time.Time
}

// PutKnowledgeGap records (or refreshes) a gap; recording it again for the same
// message and kind replaces the row, so a retried stage does not double count.
func (s *Store) PutKnowledgeGap(ctx context.Context, g KnowledgeGap) error {
	if g.At.IsZero() {
		g.At = s.now()
	}
	terms, err := json.Marshal(nonNil(g.KeyTerms))
	if err != nil {
		return err
	}
	err = s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO knowledge_gaps (message_id, kind, subject, category, language, key_terms, best_score, best_article, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (message_id, kind) DO UPDATE SET subject=excluded.subject, category=excluded.category,
			language=excluded.language, key_terms=excluded.key_terms, best_score=excluded.best_score,
			best_article=excluded.best_article, at=excluded.at`,
			g.MessageID, g.Kind, g.Subject, g.Category, g.Language, terms, g.BestScore, g.BestArticle, g.At.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record knowledge gap for message %d: %w", g.MessageID, err)
	}
	return nil
}

// DeleteKnowledgeGap removes a message's gap of a kind (a retried message that now matches).
func (s *Store) DeleteKnowledgeGap(ctx context.Context, messageID int64, kind string) error {
	return s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM knowledge_gaps WHERE message_id=? AND kind=?`, messageID, kind)
		return err
	})
}

// KnowledgeGaps lists gaps recorded at or after since, oldest first.
func (s *Store) KnowledgeGaps(ctx context.Context, since time.Time) ([]KnowledgeGap, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT message_id, kind, subject, category, language, key_terms, best_score, best_article, at
		FROM knowledge_gaps WHERE at >= ? ORDER BY at, id`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: knowledge gaps: %w", classify(err))
	}
	defer rows.Close()
	var out []KnowledgeGap
	for rows.Next() {
		var g KnowledgeGap
		var terms string
		var at int64
		if err := rows.Scan(&g.MessageID, &g.Kind, &g.Subject, &g.Category, &g.Language, &terms, &g.BestScore, &g.BestArticle, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(terms), &g.KeyTerms); err != nil {
			return nil, fmt.Errorf("store: knowledge gap %d key terms: %w", g.MessageID, err)
		}
		g.At = time.UnixMilli(at).UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}

// PutKnowledgeRejection records that an agent rejected a message's suggested articles.
func (s *Store) PutKnowledgeRejection(ctx context.Context, messageID int64, articleIDs []string, by string) error {
	ids, err := json.Marshal(nonNil(articleIDs))
	if err != nil {
		return err
	}
	err = s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO knowledge_rejections (message_id, article_ids, by, at) VALUES (?, ?, ?, ?)`,
			messageID, ids, by, s.now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record rejection for message %d: %w", messageID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
