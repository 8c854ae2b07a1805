package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/triage-dev/triage/store"
)

// Querier is what Sync needs of the Salesforce client (*salesforce.Client has it):
// run SOQL and hand over every record, following nextRecordsUrl.
type Querier interface {
	QueryEach(ctx context.Context, soql string, fn func(json.RawMessage) error) error
}

// SourceSalesforce and SourceFile name the article sources in the index.
const (
	SourceSalesforce = "salesforce"
	SourceFile       = "file"
)

// SyncStats says what a sync did.
type SyncStats struct {
	Full      bool          `json:"full"`
	Fetched   int           `json:"fetched"`
	Inserted  int           `json:"inserted"`
	Updated   int           `json:"updated"`
	Unchanged int           `json:"unchanged"`
	Deleted   int           `json:"deleted"`
	Queries   int           `json:"queries"` // SOQL queries run (each may span several pages)
	Embedded  int           `json:"embedded"`
	Cursor    string        `json:"cursor"`
	Duration  time.Duration `json:"duration_ns"`
}

// ErrNoSalesforce is returned by Sync when no client was given.
var ErrNoSalesforce = errors.New("knowledge: salesforce source needs a Salesforce client")

// Sync brings the index up to date with Salesforce Knowledge.
//
// It fetches the published latest versions changed since the cursor (with the
// same SystemModstamp included again: records sharing the cursor's timestamp may
// straddle a page boundary, and re-applying one is a no-op), keyed by
// KnowledgeArticleId and language so a new version replaces the old one. Then it
// reconciles: the ids of every published latest version are listed, and any
// indexed article not among them (archived, deleted, superseded, unpublished) is
// removed. The reconciliation costs one id-only query per 2,000 articles and is
// what guarantees an agent is never shown an archived article; a first sync
// fetches everything anyway and skips it. All changes apply in one transaction.
func (k *Knowledge) Sync(ctx context.Context) (SyncStats, error) {
	start := k.now()
	var stats SyncStats
	if k.sf == nil {
		return stats, ErrNoSalesforce
	}
	sc := k.cfg.Sources.Salesforce
	// The object and field names go into SOQL unquoted: refuse anything that
	// is not an API name even when the config was not validated.
	for _, name := range append([]string{sc.Object}, sc.BodyFields...) {
		if !apiName.MatchString(name) {
			return stats, fmt.Errorf("knowledge: sync: %q is not a Salesforce API name", name)
		}
	}
	prev, err := k.st.KnowledgeSyncState(ctx, SourceSalesforce)
	if err != nil {
		return stats, fmt.Errorf("knowledge: sync: %w", err)
	}
	stats.Full = prev.Cursor == ""
	where := "PublishStatus = 'Online' AND IsLatestVersion = true"
	if len(sc.Languages) > 0 {
		q := make([]string, len(sc.Languages))
		for i, l := range sc.Languages {
			q[i] = quoteSOQL(l)
		}
		where += " AND Language IN (" + strings.Join(q, ", ") + ")"
	}
	fields := []string{"Id", "KnowledgeArticleId", "Title", "UrlName", "Summary", "ArticleNumber", "Language", "VersionNumber", "SystemModstamp"}
	fields = append(fields, sc.BodyFields...)
	soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + sc.Object + " WHERE " + where
	if !stats.Full {
		soql += " AND SystemModstamp >= " + prev.Cursor
	}
	soql += " ORDER BY SystemModstamp, Id"

	ch := store.KnowledgeChanges{Source: SourceSalesforce, Cursor: prev.Cursor}
	keep := map[string]bool{}
	var newest time.Time
	if c, err := time.Parse(time.RFC3339Nano, prev.Cursor); err == nil {
		newest = c
	}
	stats.Queries++
	err = k.sf.QueryEach(ctx, soql, func(raw json.RawMessage) error {
		a, mod, err := k.decodeArticle(raw)
		if err != nil {
			return err
		}
		stats.Fetched++
		keep[a.ArticleID] = true
		if mod.After(newest) {
			newest = mod
		}
		ch.Upserts = append(ch.Upserts, k.toStore(a))
		return nil
	})
	if err != nil {
		return stats, fmt.Errorf("knowledge: sync %s: %w", sc.Object, err)
	}
	if !stats.Full {
		keep = map[string]bool{}
		stats.Queries++
		err = k.sf.QueryEach(ctx, "SELECT Id FROM "+sc.Object+" WHERE "+where, func(raw json.RawMessage) error {
			var r struct{ Id string }
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode id: %w", err)
			}
			keep[r.Id] = true
			return nil
		})
		if err != nil {
			return stats, fmt.Errorf("knowledge: reconcile %s: %w", sc.Object, err)
		}
	}
	ch.Reconcile, ch.Keep = true, keep
	if !newest.IsZero() {
		// SOQL datetime literals have whole seconds; with >= a truncated cursor
		// re-reads at most a second of records instead of missing any.
		ch.Cursor = newest.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
	}
	ch.APICalls = stats.Queries
	res, err := k.st.ApplyKnowledge(ctx, ch)
	if err != nil {
		return stats, fmt.Errorf("knowledge: sync: %w", err)
	}
	stats.Inserted, stats.Updated, stats.Unchanged, stats.Deleted = res.Inserted, res.Updated, res.Unchanged, res.Deleted
	stats.Cursor = ch.Cursor
	if stats.Embedded, err = k.EmbedArticles(ctx); err != nil {
		k.log.Warn("knowledge: embeddings not updated", "err", err)
	}
	stats.Duration = k.now().Sub(start)
	k.log.Info("knowledge sync", "full", stats.Full, "fetched", stats.Fetched, "inserted", stats.Inserted,
		"updated", stats.Updated, "deleted", stats.Deleted, "queries", stats.Queries)
	return stats, nil
}

// decodeArticle reads one Knowledge__kav record.
func (k *Knowledge) decodeArticle(raw json.RawMessage) (Article, time.Time, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Article{}, time.Time{}, fmt.Errorf("decode article: %w", err)
	}
	str := func(name string) string {
		var s string
		if v, ok := m[name]; ok {
			_ = json.Unmarshal(v, &s) // null or a non-string stays ""
		}
		return s
	}
	var version float64
	if v, ok := m["VersionNumber"]; ok {
		_ = json.Unmarshal(v, &version)
	}
	a := Article{
		ArticleID: str("Id"), KnowledgeArticleID: str("KnowledgeArticleId"), Title: str("Title"), URLName: str("UrlName"),
		Summary: str("Summary"), ArticleNumber: str("ArticleNumber"), Language: str("Language"), Version: int(version),
		Origin: k.cfg.Sources.Salesforce.Object,
	}
	if a.ArticleID == "" || a.Title == "" {
		return Article{}, time.Time{}, fmt.Errorf("decode article: record without Id or Title")
	}
	var bodies []string
	for _, f := range k.cfg.Sources.Salesforce.BodyFields {
		if b := str(f); b != "" {
			bodies = append(bodies, b)
		}
	}
	a.Body = strings.Join(bodies, "\n\n")
	if a.KnowledgeArticleID == "" {
		a.KnowledgeArticleID = a.ArticleID
	}
	a.Key = a.KnowledgeArticleID + "/" + a.Language
	mod, err := parseSFTime(str("SystemModstamp"))
	if err != nil {
		return Article{}, time.Time{}, fmt.Errorf("decode article %s: SystemModstamp: %w", a.ArticleID, err)
	}
	a.ModStamp = mod
	if t := k.cfg.Sources.Salesforce.ArticleURL; t != "" {
		a.URL = strings.NewReplacer("{UrlName}", url.PathEscape(a.URLName), "{Id}", url.PathEscape(a.ArticleID),
			"{KnowledgeArticleId}", url.PathEscape(a.KnowledgeArticleID), "{ArticleNumber}", url.PathEscape(a.ArticleNumber)).Replace(t)
	}
	return a, mod, nil
}

// parseSFTime reads Salesforce datetimes (2024-05-01T10:00:00.000+0000).
func parseSFTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised datetime %q", s)
}

// quoteSOQL renders a SOQL string literal.
func quoteSOQL(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}
