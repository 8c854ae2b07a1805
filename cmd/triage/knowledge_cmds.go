package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/triage-dev/triage/knowledge"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/store"
)

// runKnowledge: triage knowledge sync|import|search|eval …
func runKnowledge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "usage: triage knowledge sync --config FILE\n" +
		"       triage knowledge import --config FILE --file PATH\n" +
		"       triage knowledge search --config FILE [--json] [--lang xx] [--k N] \"query\"\n" +
		"       triage knowledge eval --config FILE --dataset FILE.jsonl [--k 5] [--json]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, help)
		return usageError{"knowledge: sub-command required"}
	}
	switch args[0] {
	case "sync":
		return knowledgeSync(ctx, args[1:], stdout, stderr)
	case "import":
		return knowledgeImport(ctx, args[1:], stdout, stderr)
	case "search":
		return knowledgeSearch(ctx, args[1:], stdout, stderr)
	case "eval":
		return knowledgeEval(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, help)
		return nil
	}
	fmt.Fprintln(stderr, help)
	return usageError{fmt.Sprintf("knowledge: unknown sub-command %q", args[0])}
}

// openKnowledge loads the config, opens the store and builds the knowledge
// component; withSF connects Salesforce (sync only), and the embedder is set
// when hybrid ranking is on and an llm endpoint is configured.
func openKnowledge(ctx context.Context, cfgPath string, withSF bool, stderr io.Writer) (*knowledge.Knowledge, *pipeline.Config, *store.Store, *slog.Logger, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	log := cfg.Log.NewLogger(stderr)
	st, err := pipeline.OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	opts := []knowledge.Option{knowledge.WithLogger(log.With("component", "knowledge"))}
	if withSF {
		sf, err := pipeline.NewSalesforce(ctx, cfg, log.With("component", "salesforce"))
		if err != nil {
			st.Close()
			return nil, nil, nil, nil, err
		}
		if sf == nil {
			st.Close()
			return nil, nil, nil, nil, errors.New("knowledge sync: the config has no salesforce section")
		}
		opts = append(opts, knowledge.WithSalesforce(sf))
	}
	if cfg.Knowledge.Hybrid.Enabled && cfg.LLM != nil {
		opts = append(opts, knowledge.WithEmbedder(knowledge.NewOpenAIEmbedder(cfg.LLM.BaseURL, cfg.LLM.APIKey, cfg.Knowledge.Hybrid.Model, nil)))
	}
	return knowledge.New(cfg.Knowledge, st, opts...), cfg, st, log, nil
}

func knowledgeSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("knowledge sync", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	asJSON := fs.Bool("json", false, "print the sync statistics as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	k, cfg, st, _, err := openKnowledge(ctx, *cfgPath, true, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if !cfg.Knowledge.Sources.Salesforce.Enabled {
		return errors.New("knowledge sync: knowledge.sources.salesforce.enabled is false")
	}
	s, err := k.Sync(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(s)
	}
	kind := "incremental"
	if s.Full {
		kind = "full"
	}
	fmt.Fprintf(stdout, "%s sync: %d fetched, %d new, %d updated, %d removed, %d queries, cursor %s, %s\n",
		kind, s.Fetched, s.Inserted, s.Updated, s.Deleted, s.Queries, s.Cursor, s.Duration.Round(time.Millisecond))
	return nil
}

func knowledgeImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("knowledge import", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	file := fs.String("file", "", "folder of Markdown/HTML files, one such file, or a JSONL file (default: knowledge.sources.files.path)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	k, cfg, st, _, err := openKnowledge(ctx, *cfgPath, false, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	path := *file
	if path == "" {
		path = cfg.Knowledge.Sources.Files.Path
	}
	if path == "" {
		return usageError{"knowledge import: --file PATH is required"}
	}
	s, err := k.Import(ctx, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s: %d read, %d new, %d updated, %d unchanged, %d removed\n",
		path, s.Read, s.Inserted, s.Updated, s.Unchanged, s.Deleted)
	return nil
}

func knowledgeSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("knowledge search", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	asJSON := fs.Bool("json", false, "print a JSON array of matches")
	lang := fs.String("lang", "", "language of the query (default: detected)")
	topK := fs.Int("k", 0, "number of articles (default: knowledge.top_k)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	q := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if q == "" {
		return usageError{`knowledge search: a query is required: triage knowledge search --config FILE "query"`}
	}
	k, cfg, st, _, err := openKnowledge(ctx, *cfgPath, false, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	ms, err := k.Search(ctx, knowledge.Query{Subject: q, Language: *lang, TopK: *topK})
	if err != nil {
		return err
	}
	if *asJSON {
		if ms == nil {
			ms = []knowledge.Match{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ms)
	}
	if len(ms) == 0 {
		fmt.Fprintln(stdout, "no matching article")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSCORE\tARTICLE\tLANG\tTITLE")
	for i, m := range ms {
		mark := ""
		if m.Score < cfg.Knowledge.Threshold {
			mark = " (below threshold)"
		}
		fmt.Fprintf(tw, "%d\t%.3f\t%s\t%s\t%s%s\n", i+1, m.Score, m.ArticleID, m.Language, m.Title, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ms[0].Snippet != "" {
		fmt.Fprintf(stdout, "\n%s\n", ms[0].Snippet)
	}
	return nil
}

func knowledgeEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("knowledge eval", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	dataset := fs.String("dataset", "", `JSONL file, one {"query": "...", "article": "<id, UrlName or title>"} per line`)
	topK := fs.Int("k", 5, "cut-off for recall@k and MRR")
	asJSON := fs.Bool("json", false, "print one JSON object (n, recall_at_1, recall_at_5, recall_at_k, mrr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataset == "" {
		return usageError{"knowledge eval: --dataset FILE.jsonl is required"}
	}
	if *topK < 1 {
		return usageError{"knowledge eval: --k must be at least 1"}
	}
	f, err := os.Open(*dataset)
	if err != nil {
		return err
	}
	rows, err := knowledge.ReadEvalRows(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("dataset %s: %w", *dataset, err)
	}
	k, _, st, _, err := openKnowledge(ctx, *cfgPath, false, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := knowledge.Evaluate(ctx, k, rows, *topK)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "n          %d\nrecall@1   %.3f\nrecall@5   %.3f\n", rep.N, rep.RecallAt1, rep.RecallAt5)
	if rep.K != 5 {
		fmt.Fprintf(stdout, "recall@%-3d %.3f\n", rep.K, rep.RecallAtK)
	}
	fmt.Fprintf(stdout, "MRR@%-6d %.3f\n", rep.K, rep.MRR)
	if len(rep.Misses) > 0 {
		fmt.Fprintf(stdout, "\nnot in the top %d:\n", rep.K)
		for _, m := range rep.Misses {
			fmt.Fprintf(stdout, "  %q → %s\n", m.Query, m.Article)
		}
	}
	return nil
}

// runReport: triage report gaps --config FILE [--since 7d] [--format table|csv|json]
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "usage: triage report gaps --config FILE [--since 7d] [--format table|csv|json]"
	if len(args) == 0 || args[0] != "gaps" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, help)
			return nil
		}
		fmt.Fprintln(stderr, help)
		return usageError{"report: the only report is gaps"}
	}
	fs := newFlags("report gaps", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	since := fs.String("since", "7d", "period to report: a duration such as 7d, 36h or 2w, or a date (2006-01-02)")
	format := fs.String("format", "table", "table, csv or json")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return usageError{fmt.Sprintf("report gaps: --format %q must be table, csv or json", *format)}
	}
	k, _, st, _, err := openKnowledge(ctx, *cfgPath, false, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	from, err := parseGapPeriod(*since, st.Now())
	if err != nil {
		return usageError{"report gaps: --since: " + err.Error()}
	}
	rep, err := k.GapReport(ctx, from)
	if err != nil {
		return err
	}
	switch *format {
	case "csv":
		return rep.WriteCSV(stdout)
	case "json":
		return rep.WriteJSON(stdout)
	}
	return rep.WriteTable(stdout)
}

// parseGapPeriod reads "7d", "2w", "36h" (any Go duration) or a date.
func parseGapPeriod(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.Atoi(s[:n-1])
		if err != nil || v <= 0 {
			return time.Time{}, fmt.Errorf("%q is not a period like 7d or 2w", s)
		}
		days := v
		if s[n-1] == 'w' {
			days *= 7
		}
		return now.AddDate(0, 0, -days), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is not a period like 7d, 36h or a date", s)
	}
	return now.Add(-d), nil
}
