package knowledge

import (
	"strings"
	"time"

	"github.com/triage-dev/triage/store"
)

// Article is a source-neutral article before indexing.
type Article struct {
	Key                string // stable identity within the source
	ArticleID          string
	KnowledgeArticleID string
	ArticleNumber      string
	URLName            string
	URL                string
	Language           string
	Title              string
	Summary            string
	Body               string // HTML or plain text
	Version            int
	ModStamp           time.Time
	Origin             string
}

// toStore strips markup and computes the index text in the article's language.
func (k *Knowledge) toStore(a Article) store.KnowledgeArticle {
	lang := langBase(a.Language)
	if lang == "" {
		lang = langBase(k.cfg.DefaultLanguage)
		a.Language = lang
	}
	an := newAnalyzer(lang)
	title := strings.TrimSpace(StripHTML(a.Title))
	summary := strings.TrimSpace(StripHTML(a.Summary))
	body := strings.TrimSpace(StripHTML(a.Body))
	return store.KnowledgeArticle{
		Origin: a.Origin, Key: a.Key, ArticleID: a.ArticleID, KnowledgeArticleID: a.KnowledgeArticleID,
		ArticleNumber: a.ArticleNumber, URLName: a.URLName, URL: a.URL, Language: a.Language,
		Title: title, Summary: summary, Body: body, Version: a.Version, ModStamp: a.ModStamp,
		Lang: lang, IndexTitle: an.indexText(title), IndexSummary: an.indexText(summary), IndexBody: an.indexText(body),
	}
}
