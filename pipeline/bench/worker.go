package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/store"
)

// Job is what the parent tells the worker (the first line of its stdin).
type Job struct {
	Dir          string `json:"dir"`
	IMAPAddr     string `json:"imap_addr"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	OrgURL       string `json:"org_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Deliveries is how many APPENDs the mailbox holds (every one gets a
	// message_locations row, exact duplicates included).
	Deliveries int    `json:"deliveries"`
	CPUProfile string `json:"cpu_profile,omitempty"`
	MemProfile string `json:"mem_profile,omitempty"`
	// Metrics, when set, is a file the pipeline's /metrics are saved to
	// once the backlog is done (per-stage durations for profiling).
	Metrics  string `json:"metrics,omitempty"`
	LogLevel string `json:"log_level,omitempty"`
	// Workers, when positive, overrides the pipeline's workers per stage
	// (an experiment: the default measures the defaults).
	Workers int `json:"workers,omitempty"`
	// Backfill runs the pipeline's backfill mode instead of `triage run`.
	Backfill bool `json:"backfill,omitempty"`
}

// event is one line the worker writes to its stdout.
type event struct {
	Event   string         `json:"event"`
	N       int            `json:"n,omitempty"`
	Done    int            `json:"done,omitempty"`
	Total   int            `json:"total,omitempty"`
	Seconds float64        `json:"seconds,omitempty"`
	States  map[string]int `json:"states,omitempty"`
	// CasesPassed counts messages the cases stage passed through without a
	// Run function (not wired): then nothing reaches Salesforce.
	CasesPassed int    `json:"cases_passed,omitempty"`
	DBPath      string `json:"db_path,omitempty"`
	VmHWMKB     int64  `json:"vmhwm_kb,omitempty"`
	APICalls    int    `json:"api_calls,omitempty"`
	Failed      int    `json:"failed,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Worker is the pipeline side of `triage bench`, run in a child process
// (`triage bench-worker`) so its peak RSS is the pipeline's alone. It reads
// the Job from in, then: times a bare ingest into a scratch store; builds the
// real pipeline against the emulator, says "ready", waits for "go", runs it
// with IDLE until every delivery is recorded and final ("backlog"); keeps
// running (the parent appends latency probes) until "stop" or EOF; and
// reports its VmHWM.
func Worker(ctx context.Context, in io.Reader, out io.Writer, stderr io.Writer) (err error) {
	enc := json.NewEncoder(out)
	send := func(e event) { _ = enc.Encode(e) }
	defer func() {
		if err != nil {
			send(event{Event: "error", Error: err.Error()})
		}
	}()
	lines := bufio.NewScanner(in)
	if !lines.Scan() {
		return errors.New("bench worker: no job on stdin")
	}
	var job Job
	if err := json.Unmarshal(lines.Bytes(), &job); err != nil {
		return fmt.Errorf("bench worker: job: %w", err)
	}
	cmds := make(chan string, 4)
	go func() {
		for lines.Scan() {
			cmds <- strings.TrimSpace(lines.Text())
		}
		close(cmds)
	}()
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(job.LogLevel))
	if job.LogLevel == "" {
		lvl = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	mb := ingest.MailboxConfig{Name: "bench", Address: job.IMAPAddr, TLS: ingest.TLSNone, Username: job.Username, Password: job.Password}
	mb.SetDefaults()

	if job.Backfill {
		return backfillWorker(ctx, job, cmds, send, log, lvl)
	}

	// 1. Ingest alone: fetch, parse, commit, into a scratch store.
	var ingestProf *os.File
	if job.CPUProfile != "" {
		if ingestProf, err = os.Create(strings.TrimSuffix(job.CPUProfile, ".pprof") + "-ingest.pprof"); err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(ingestProf); err != nil {
			return err
		}
	}
	n, secs, err := timeIngest(ctx, mb, filepath.Join(job.Dir, "ingest", "ingest.db"), log)
	if ingestProf != nil {
		pprof.StopCPUProfile()
		ingestProf.Close()
	}
	if err != nil {
		return err
	}
	// The ingest phase's own peak; then reset the high-water mark (Linux:
	// clear_refs 5) so the pipeline's peak is measured on its own too.
	ingestHWM := vmHWM()
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	send(event{Event: "ingest", N: n, Seconds: secs, VmHWMKB: ingestHWM})
	if err := os.RemoveAll(filepath.Join(job.Dir, "ingest")); err != nil {
		return err
	}

	// 2. The whole pipeline.
	cfg := pipelineConfig(job, mb, lvl, "triage.db")
	if err := cfg.Validate(); err != nil {
		return err
	}
	if job.Metrics != "" {
		cfg.Pipeline.MetricsAddr = "127.0.0.1:0"
	}
	app, err := pipeline.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	if _, err := app.Knowledge.Sync(ctx); err != nil {
		return fmt.Errorf("knowledge sync: %w", err)
	}
	send(event{Event: "ready", DBPath: cfg.Store.Path})
	if err := waitFor(ctx, cmds, "go"); err != nil {
		return err
	}
	if job.CPUProfile != "" {
		f, err := os.Create(job.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()
	db := app.Store.DB()
	lastReport := time.Time{}
	for {
		// Cheap on purpose (the index on state, one row of mailboxes): the
		// bench must not slow down what it measures. UIDs of the fresh
		// mailbox are 1..Deliveries.
		var lastUID, pending int
		err := db.QueryRowContext(ctx, `SELECT (SELECT coalesce(max(last_uid), 0) FROM mailboxes),
			(SELECT count(*) FROM messages WHERE state IN ('received','deduped','classified','enriched'))`).Scan(&lastUID, &pending)
		if err != nil {
			return fmt.Errorf("bench worker: progress: %w", err)
		}
		if lastUID >= job.Deliveries && pending == 0 {
			break
		}
		if time.Since(lastReport) > time.Second {
			var total int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&total); err != nil {
				return fmt.Errorf("bench worker: progress: %w", err)
			}
			send(event{Event: "progress", Done: total - pending, N: lastUID, Total: job.Deliveries, Seconds: time.Since(start).Seconds()})
			lastReport = time.Now()
		}
		select {
		case err := <-runErr:
			return fmt.Errorf("bench worker: pipeline stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	e2e := time.Since(start).Seconds()
	if job.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	counts, err := app.Store.Counts(ctx)
	if err != nil {
		return err
	}
	states := map[string]int{}
	for s, n := range counts.ByState {
		if n > 0 {
			states[string(s)] = n
		}
	}
	var passed int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE stage = 'cases' AND kind = 'passed'`).Scan(&passed); err != nil {
		return fmt.Errorf("bench worker: events: %w", err)
	}
	if job.Metrics != "" {
		if err := saveMetrics(ctx, "http://"+app.MetricsAddr()+"/metrics", job.Metrics); err != nil {
			log.Warn("could not save metrics", "err", err)
		}
	}
	send(event{Event: "backlog", Seconds: e2e, N: counts.Total, States: states, CasesPassed: passed})

	// 3. Idle with IDLE until told to stop: the parent measures latency.
	for c := range cmds {
		if c == "stop" {
			break
		}
	}
	stop()
	<-runErr
	if job.MemProfile != "" {
		if f, err := os.Create(strings.TrimSuffix(job.MemProfile, "allocs.pprof") + "heap.pprof"); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if f, err := os.Create(job.MemProfile); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	send(event{Event: "result", VmHWMKB: vmHWM()})
	return nil
}

func saveMetrics(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// pipelineConfig is the pipeline the bench measures: the defaults, the
// bench mailbox, the emulated org, the offline classifier.
func pipelineConfig(job Job, mb ingest.MailboxConfig, lvl slog.Level, db string) *pipeline.Config {
	cfg := &pipeline.Config{
		Store:     store.Config{Path: filepath.Join(job.Dir, db)},
		Log:       pipeline.LogConfig{Level: lvl.String()},
		Mailboxes: []ingest.MailboxConfig{mb},
		Salesforce: &salesforce.Config{LoginURL: job.OrgURL, Auth: salesforce.AuthConfig{
			Flow: salesforce.FlowClientCredentials, ClientID: job.ClientID, ClientSecret: job.ClientSecret}},
	}
	cfg.Knowledge.Sources.Salesforce.Enabled = true
	cfg.Pipeline.MetricsAddr = "off"
	// The review UI runs as in production, on a free port: a bench must not
	// collide with a triage (or another bench) already on the default one.
	cfg.Review.Addr = "127.0.0.1:0"
	if n := job.Workers; n > 0 {
		w := &cfg.Pipeline.Workers
		w.Dedupe, w.Classify, w.Knowledge, w.Cases = n, n, n, n
	}
	cfg.SetDefaults()
	return cfg
}

func waitFor(ctx context.Context, cmds <-chan string, want string) error {
	select {
	case c, ok := <-cmds:
		if !ok {
			return fmt.Errorf("bench worker: stdin closed while waiting for %q", want)
		}
		if c != want {
			return fmt.Errorf("bench worker: want %q, got %q", want, c)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backfillWorker runs the pipeline's backfill mode ((*pipeline.App).Backfill:
// fetch, the earlier stages, then /composite/graph batches) over the whole
// mailbox into a fresh org, as `triage` does after an outage.
func backfillWorker(ctx context.Context, job Job, cmds <-chan string, send func(event), log *slog.Logger, lvl slog.Level) error {
	mb := ingest.MailboxConfig{Name: "bench", Address: job.IMAPAddr, TLS: ingest.TLSNone, Username: job.Username, Password: job.Password}
	mb.SetDefaults()
	cfg := pipelineConfig(job, mb, lvl, "backfill.db")
	if err := cfg.Validate(); err != nil {
		return err
	}
	app, err := pipeline.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	if _, err := app.Knowledge.Sync(ctx); err != nil {
		return fmt.Errorf("knowledge sync: %w", err)
	}
	send(event{Event: "ready", DBPath: cfg.Store.Path})
	if err := waitFor(ctx, cmds, "go"); err != nil {
		return err
	}
	start := time.Now()
	sum, rep, err := app.Backfill(ctx, nil)
	if err != nil {
		return fmt.Errorf("bench worker: backfill: %w", err)
	}
	for id, e := range rep.Errors {
		log.Warn("backfill batch could not write a message; the cases stage finished it", "msg", id, "err", e)
	}
	states := map[string]int{}
	for s, n := range sum.Counts.ByState {
		if n > 0 {
			states[string(s)] = n
		}
	}
	send(event{Event: "backfill", N: sum.Fetched, Seconds: time.Since(start).Seconds(), APICalls: rep.APICalls, Failed: rep.Failed, States: states})
	send(event{Event: "result", VmHWMKB: vmHWM()})
	return nil
}

// timeIngest runs one SyncOnce of the mailbox into a fresh store.
func timeIngest(ctx context.Context, mb ingest.MailboxConfig, path string, log *slog.Logger) (int, float64, error) {
	st, err := store.Open(ctx, store.Config{Path: path}, store.WithLogger(log))
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	s := ingest.NewSyncer(mb, st, ingest.WithLogger(log))
	defer s.Close()
	start := time.Now()
	n, err := s.SyncOnce(ctx)
	secs := time.Since(start).Seconds()
	if err != nil {
		return n, secs, fmt.Errorf("bench worker: ingest: %w", err)
	}
	return n, secs, nil
}

// vmHWM is this process's peak resident set in kB (Linux), or 0.
func vmHWM() int64 { return procStatusKB(os.Getpid(), "VmHWM") }

func procStatusKB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
