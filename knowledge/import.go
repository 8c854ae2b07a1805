package knowledge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/triage-dev/triage/store"
)

// ImportStats says what an import did.
type ImportStats struct {
	Read      int `json:"read"`
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
	Embedded  int `json:"embedded"`
}

// Import indexes the articles at path: a folder of Markdown (.md, .markdown),
// HTML (.html, .htm) and text (.txt) files, one such file, or a JSONL file of
// {"id","title","body","url","language"} lines (optional "summary"). The import
// replaces what an earlier import of the same path brought: articles no longer
// there are removed.
func (k *Knowledge) Import(ctx context.Context, path string) (ImportStats, error) {
	var stats ImportStats
	abs, err := filepath.Abs(path)
	if err != nil {
		return stats, fmt.Errorf("knowledge: import %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return stats, fmt.Errorf("knowledge: import: %w", err)
	}
	var arts []Article
	switch {
	case fi.IsDir():
		err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != abs && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !isArticleFile(p) {
				return nil
			}
			rel, _ := filepath.Rel(abs, p)
			a, err := k.readArticleFile(p, filepath.ToSlash(rel))
			if err != nil {
				return err
			}
			arts = append(arts, a)
			return nil
		})
	case strings.EqualFold(filepath.Ext(abs), ".jsonl") || strings.EqualFold(filepath.Ext(abs), ".ndjson"):
		arts, err = k.readJSONL(abs)
	case isArticleFile(abs):
		var a Article
		a, err = k.readArticleFile(abs, filepath.Base(abs))
		arts = []Article{a}
	default:
		err = fmt.Errorf("%s: not a folder, .jsonl, Markdown, HTML or text file", path)
	}
	if err != nil {
		return stats, fmt.Errorf("knowledge: import: %w", err)
	}
	ch := store.KnowledgeChanges{Source: SourceFile, Origin: abs, Reconcile: true, Keep: map[string]bool{}}
	for _, a := range arts {
		a.Origin = abs
		if ch.Keep[a.ArticleID] {
			return stats, fmt.Errorf("knowledge: import %s: duplicate article id %q", path, a.ArticleID)
		}
		ch.Keep[a.ArticleID] = true
		ch.Upserts = append(ch.Upserts, k.toStore(a))
	}
	stats.Read = len(arts)
	res, err := k.st.ApplyKnowledge(ctx, ch)
	if err != nil {
		return stats, fmt.Errorf("knowledge: import: %w", err)
	}
	stats.Inserted, stats.Updated, stats.Unchanged, stats.Deleted = res.Inserted, res.Updated, res.Unchanged, res.Deleted
	if stats.Embedded, err = k.EmbedArticles(ctx); err != nil {
		k.log.Warn("knowledge: embeddings not updated", "err", err)
	}
	return stats, nil
}

func isArticleFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".md", ".markdown", ".html", ".htm", ".txt":
		return true
	}
	return false
}

// jsonlArticle is one line of an import file.
type jsonlArticle struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	Body     string `json:"body"`
	URL      string `json:"url"`
	Language string `json:"language"`
}

func (k *Knowledge) readJSONL(path string) ([]Article, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Article
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var j jsonlArticle
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if j.ID == "" || j.Title == "" {
			return nil, fmt.Errorf("%s:%d: id and title are required", path, line)
		}
		lang := j.Language
		if lang == "" {
			lang = k.guessLanguage(j.Title + "\n" + j.Body)
		}
		out = append(out, Article{Key: j.ID, ArticleID: j.ID, URLName: j.ID, URL: j.URL, Language: lang,
			Title: j.Title, Summary: j.Summary, Body: j.Body})
	}
	return out, sc.Err()
}

func (k *Knowledge) guessLanguage(text string) string {
	return detect(text, k.cfg.DefaultLanguage)
}

// frontMatter is the optional YAML header of a Markdown file.
type frontMatter struct {
	ID       string `yaml:"id"`
	Title    string `yaml:"title"`
	Summary  string `yaml:"summary"`
	URL      string `yaml:"url"`
	Language string `yaml:"language"`
}

var (
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)
	mdLink    = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdMarks   = regexp.MustCompile("(?m)^\\s{0,3}(?:[-*+]|\\d+[.)]|>)\\s+|[*_`~]{1,3}")
	htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>`)
)

// readArticleFile reads one Markdown, HTML or text article; its id is the path
// relative to the import root.
func (k *Knowledge) readArticleFile(path, rel string) (Article, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Article{}, err
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	var fm frontMatter
	if strings.HasPrefix(text, "---\n") {
		if end := strings.Index(text[4:], "\n---"); end >= 0 {
			if err := yaml.Unmarshal([]byte(text[4:4+end]), &fm); err != nil {
				return Article{}, fmt.Errorf("%s: front matter: %w", path, err)
			}
			text = strings.TrimLeft(text[4+end+4:], "\n")
		}
	}
	a := Article{Key: rel, ArticleID: rel, URL: fm.URL, Summary: fm.Summary, Title: fm.Title, Language: fm.Language}
	if fm.ID != "" {
		a.Key, a.ArticleID = fm.ID, fm.ID
	}
	a.URLName = strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel))
	switch strings.ToLower(filepath.Ext(path)) {
	case ".html", ".htm":
		if a.Title == "" {
			if m := htmlTitle.FindStringSubmatch(text); m != nil {
				a.Title = strings.TrimSpace(StripHTML(m[1] + m[2]))
			}
		}
		a.Body = StripHTML(text)
	case ".md", ".markdown":
		if a.Title == "" {
			if m := mdHeading.FindStringSubmatchIndex(text); m != nil {
				a.Title = text[m[2]:m[3]]
				text = text[:m[0]] + text[m[1]:]
			}
		}
		text = mdLink.ReplaceAllString(text, "$1")
		text = mdHeading.ReplaceAllString(text, "$1")
		a.Body = strings.TrimSpace(mdMarks.ReplaceAllString(text, ""))
	default:
		a.Body = strings.TrimSpace(text)
	}
	if a.Title == "" {
		a.Title = strings.ReplaceAll(a.URLName, "-", " ")
	}
	if a.Title == "" {
		return Article{}, errors.New(path + ": no title")
	}
	if a.Language == "" {
		a.Language = k.guessLanguage(a.Title + "\n" + a.Body)
	}
	return a, nil
}
