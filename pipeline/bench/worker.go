package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
	LogLevel   string `json:"log_level,omitempty"`
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

	// 1. Ingest alone: fetch, parse, commit, into a scratch store.
	n, secs, err := timeIngest(ctx, mb, filepath.Join(job.Dir, "ingest", "ingest.db"), log)
	if err != nil {
		return err
	}
	send(event{Event: "ingest", N: n, Seconds: secs})
	if err := os.RemoveAll(filepath.Join(job.Dir, "ingest")); err != nil {
		return err
	}

	// 2. The whole pipeline.
	cfg := &pipeline.Config{
		Store:     store.Config{Path: filepath.Join(job.Dir, "triage.db")},
		Log:       pipeline.LogConfig{Level: lvl.String()},
		Mailboxes: []ingest.MailboxConfig{mb},
		Salesforce: &salesforce.Config{LoginURL: job.OrgURL, Auth: salesforce.AuthConfig{
			Flow: salesforce.FlowClientCredentials, ClientID: job.ClientID, ClientSecret: job.ClientSecret}},
	}
	cfg.Knowledge.Sources.Salesforce.Enabled = true
	cfg.Pipeline.MetricsAddr = "off"
	cfg.SetDefaults()
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
	select {
	case c := <-cmds:
		if c != "go" {
			return fmt.Errorf("bench worker: want go, got %q", c)
		}
	case <-ctx.Done():
		return ctx.Err()
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
		var locs, final int
		err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM message_locations),
			(SELECT count(*) FROM messages WHERE state IN ('done','skipped','dead'))`).Scan(&locs, &final)
		if err != nil {
			return fmt.Errorf("bench worker: progress: %w", err)
		}
		pending, _, err := app.Store.Pending(ctx)
		if err != nil {
			return err
		}
		if locs >= job.Deliveries && pending == 0 {
			break
		}
		if time.Since(lastReport) > 500*time.Millisecond {
			send(event{Event: "progress", Done: final, N: locs, Total: job.Deliveries, Seconds: time.Since(start).Seconds()})
			lastReport = time.Now()
		}
		select {
		case err := <-runErr:
			return fmt.Errorf("bench worker: pipeline stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
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
		if f, err := os.Create(job.MemProfile); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
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
