package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

// IMAP servers Run can load the mailbox into.
const (
	IMAPMemory  = "memory"
	IMAPDovecot = "dovecot"
)

// Config is one `triage bench` run.
type Config struct {
	Emails      int
	IMAP        string // IMAPMemory or IMAPDovecot
	Attachments bool
	Seed        uint64
	// Worker is the command line that runs Worker in a child process
	// (the triage binary and its hidden bench-worker sub-command).
	Worker []string
	// Probes is how many latency probes to send (0: between 20 and 100 by N).
	Probes int
	// Dir keeps the run's files (databases, worker log, profiles); "" uses a
	// temporary directory removed afterwards.
	Dir string
	// Workers overrides the pipeline's workers per stage (0: its defaults).
	Workers int
	// NoBackfill skips the backfill run (api_calls_per_email_backfill null).
	NoBackfill bool
	// Profile writes cpu.pprof, allocs.pprof and metrics.txt (its
	// Prometheus metrics after the backlog) of the pipeline child into Dir.
	Profile bool
	// Progress receives progress; Terminal redraws one line with \r.
	Progress io.Writer
	Terminal bool
}

// Latency is in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Result has exactly the keys issue 9 asks `triage bench --json` to print;
// a figure that could not be measured is null.
type Result struct {
	RawFetchPerS             float64  `json:"raw_fetch_per_s"`
	MbsyncPerS               *float64 `json:"mbsync_per_s"`
	IngestPerS               float64  `json:"ingest_per_s"`
	E2EPerS                  float64  `json:"e2e_per_s"`
	RatioE2EToRaw            float64  `json:"ratio_e2e_to_raw"`
	APICallsPerEmail         float64  `json:"api_calls_per_email"`
	APICallsPerEmailBackfill *float64 `json:"api_calls_per_email_backfill"`
	LatencyMS                Latency  `json:"latency_ms"`
	PeakRSSMB                float64  `json:"peak_rss_mb"`
	Emails                   int      `json:"emails"`
	Mismatches               int      `json:"mismatches"`
}

// Report is a Result with what a reader needs to trust it.
type Report struct {
	Result
	IMAP        string
	Truth       Truth
	MailboxMB   float64
	CasesWired  bool
	States      map[string]int
	APICalls    int64
	ByEndpoint  map[string]int64
	Found       map[string]int // records found in the emulator: Case, EmailMessage, Contact
	Differences []string       // the mismatches, explained (at most a few per kind)
	Notes       []string
	Seconds     map[string]float64 // phase durations
	Dir         string
	// ProbeCallsPerEmail is API calls per email when emails arrive one at a
	// time (the latency probes): no burst to batch.
	ProbeCallsPerEmail float64
	// Queries counts the pipeline's SOQL queries during the backlog by shape.
	Queries map[string]int
}

// Run generates the mailbox, loads it, measures everything and checks the
// emulator against the ground truth.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Emails <= 0 {
		return nil, errors.New("bench: --emails must be positive")
	}
	if cfg.IMAP == "" {
		cfg.IMAP = IMAPMemory
	}
	if len(cfg.Worker) == 0 {
		return nil, errors.New("bench: no worker command")
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Probes <= 0 {
		cfg.Probes = min(max(cfg.Emails/100, 20), 100)
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "triage-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		cfg.Dir = d
	}
	pr := &progress{w: cfg.Progress, term: cfg.Terminal}
	var profileStop func()
	loadStart := loadAvg()
	rep := &Report{IMAP: cfg.IMAP, Seconds: map[string]float64{}, Dir: cfg.Dir}
	rep.Emails = cfg.Emails

	// The IMAP server.
	var srv *imaptest.Server
	var stopIMAP func() error
	var err error
	switch cfg.IMAP {
	case IMAPMemory:
		srv, stopIMAP, err = imaptest.LaunchMemServer(imaptest.WithUser("bench", rand.Text()))
	case IMAPDovecot:
		srv, stopIMAP, err = imaptest.LaunchDovecot("", imaptest.WithUser("bench", rand.Text()))
	default:
		return nil, fmt.Errorf("bench: --imap %q: want memory or dovecot", cfg.IMAP)
	}
	if err != nil {
		return nil, err
	}
	defer stopIMAP()

	// Generate and load, one email at a time.
	gen := NewGenerator(Options{Emails: cfg.Emails, Seed: cfg.Seed, Attachments: cfg.Attachments})
	t0 := time.Now()
	loaded := 0
	next := func() []byte {
		raw := gen.Next()
		if raw != nil {
			loaded++
			if loaded%500 == 0 {
				pr.update("load", "generating and appending: %d/%d", loaded, cfg.Emails)
			}
		}
		return raw
	}
	base := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	if _, err := srv.Load(ctx, "INBOX", next, func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }); err != nil {
		return nil, err
	}
	rep.Seconds["load"] = time.Since(t0).Seconds()
	rep.MailboxMB = float64(gen.Truth().Bytes) / (1 << 20)
	pr.done("load", "loaded %d emails (%.1f MB) into %s in %.1fs", cfg.Emails, rep.MailboxMB, srv.Kind, rep.Seconds["load"])

	// The floor: a bare UID FETCH 1:* BODY.PEEK[].
	pr.update("raw", "bare UID FETCH 1:* BODY.PEEK[] ...")
	n, secs, err := RawFetch(ctx, srv.Addr, srv.Username, srv.Password)
	if err != nil {
		return nil, err
	}
	if n != cfg.Emails {
		return nil, fmt.Errorf("bench: bare fetch got %d messages, want %d", n, cfg.Emails)
	}
	rep.RawFetchPerS = float64(n) / secs
	pr.done("raw", "bare fetch: %d messages in %.2fs (%.0f/s)", n, secs, rep.RawFetchPerS)

	// The peer: mbsync to a Maildir.
	if path, err := exec.LookPath("mbsync"); err != nil {
		rep.Notes = append(rep.Notes, "mbsync_per_s is null: mbsync is not installed (apt-get install isync)")
		pr.done("mbsync", "mbsync: not installed, skipped")
	} else {
		pr.update("mbsync", "mbsync -a to a Maildir ...")
		n, secs, err := Mbsync(ctx, path, filepath.Join(cfg.Dir, "mbsync"), srv.Addr, srv.Username, srv.Password)
		if err != nil {
			rep.Notes = append(rep.Notes, "mbsync_per_s is null: "+err.Error())
			pr.done("mbsync", "mbsync failed: %v", err)
		} else {
			v := float64(n) / secs
			rep.MbsyncPerS = &v
			pr.done("mbsync", "mbsync: %d messages in %.2fs (%.0f/s)", n, secs, v)
		}
	}

	// The emulated org, watched for the probes' cases.
	clientSecret := rand.Text()
	sim, err := sfsim.New(sfsim.Options{ClientID: "triage-bench", ClientSecret: clientSecret, Seed: "empty", DailyAPILimit: 10_000_000})
	if err != nil {
		return nil, err
	}
	watch := newProbeWatch(sim)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: watch, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	baseline := snapshotIDs(sim)

	// The pipeline, in a child process.
	job := Job{Dir: filepath.Join(cfg.Dir, "worker"), IMAPAddr: srv.Addr, Username: srv.Username, Password: srv.Password,
		OrgURL: "http://" + ln.Addr().String(), ClientID: "triage-bench", ClientSecret: clientSecret, Deliveries: cfg.Emails, Workers: cfg.Workers}
	if cfg.Profile {
		job.CPUProfile, job.MemProfile = filepath.Join(cfg.Dir, "cpu.pprof"), filepath.Join(cfg.Dir, "allocs.pprof")
		job.Metrics = filepath.Join(cfg.Dir, "metrics.txt")
	}
	w, err := startWorker(ctx, cfg.Worker, job, filepath.Join(cfg.Dir, "worker.log"))
	if err != nil {
		return nil, err
	}
	defer w.kill()
	rss := newRSSSampler(w.cmd.Process.Pid, "ingest")
	defer rss.stop()
	pr.update("ingest", "ingest (fetch, parse, commit) ...")
	ev, err := w.expect(ctx, "ingest")
	if err != nil {
		return nil, err
	}
	rep.IngestPerS = float64(ev.N) / ev.Seconds
	ingestRSS := ev.VmHWMKB
	pr.done("ingest", "ingest: %d messages in %.2fs (%.0f/s)", ev.N, ev.Seconds, rep.IngestPerS)
	ready, err := w.expect(ctx, "ready")
	if err != nil {
		return nil, err
	}
	rss.phase("pipeline")
	before := sim.Stats()
	if cfg.Profile {
		// The parent's profile is the emulator's (and memserver's) share.
		if f, err := os.Create(filepath.Join(cfg.Dir, "parent-cpu.pprof")); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer f.Close()
				stopProfile := sync.OnceFunc(pprof.StopCPUProfile)
				defer stopProfile()
				profileStop = stopProfile
			}
		}
	}
	if err := w.send("go"); err != nil {
		return nil, err
	}
	var backlog event
	for {
		ev, err := w.next(ctx)
		if err != nil {
			return nil, err
		}
		if ev.Event == "progress" {
			pr.update("e2e", "end to end: %d/%d final, UID %d recorded, %.0fs", ev.Done, ev.Total, ev.N, ev.Seconds)
			continue
		}
		if ev.Event != "backlog" {
			return nil, fmt.Errorf("bench: worker said %q, want backlog", ev.Event)
		}
		backlog = ev
		break
	}
	after := sim.Stats()
	if profileStop != nil {
		profileStop()
	}
	rep.E2EPerS = float64(cfg.Emails) / backlog.Seconds
	rep.RatioE2EToRaw = rep.E2EPerS / rep.RawFetchPerS
	rep.States = backlog.States
	rep.CasesWired = backlog.CasesPassed == 0
	rep.APICalls = after.APICalls - before.APICalls
	rep.APICallsPerEmail = float64(rep.APICalls) / float64(cfg.Emails)
	rep.ByEndpoint = map[string]int64{}
	for k, v := range after.ByEndpoint {
		if d := v - before.ByEndpoint[k]; d > 0 {
			rep.ByEndpoint[k] = d
		}
	}
	watch.mu.Lock()
	rep.Queries = watch.queries
	watch.queries = map[string]int{}
	watch.mu.Unlock()
	pr.done("e2e", "end to end: %d emails in %.2fs (%.0f/s), %d API calls", cfg.Emails, backlog.Seconds, rep.E2EPerS, rep.APICalls)
	if !rep.CasesWired {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the cases stage is not wired into the pipeline (%d messages passed through it without a Salesforce write): "+
			"no cases are written, so latency is measured to the message's final state and mismatches are expected", backlog.CasesPassed))
	}

	// Latency: probes appended while the pipeline idles.
	rss.phase("latency")
	beforeProbes := sim.Stats()
	lat, note, err := measureLatency(ctx, srv, gen, watch, ready.DBPath, cfg.Probes, rep.CasesWired, pr)
	if err != nil {
		return nil, err
	}
	rep.LatencyMS = lat
	rep.ProbeCallsPerEmail = float64(sim.Stats().APICalls-beforeProbes.APICalls) / float64(cfg.Probes)
	rep.Notes = append(rep.Notes, fmt.Sprintf("api_calls_per_email is the backlog through `triage run` (the cases stage writes bursts in /composite/graph); "+
		"emails arriving one at a time (the %d latency probes) cost %.2f calls each", cfg.Probes, rep.ProbeCallsPerEmail))
	if note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	rss.phase("shutdown")
	if err := w.send("stop"); err != nil {
		return nil, err
	}
	res, err := w.expect(ctx, "result")
	if err != nil {
		return nil, err
	}
	// Not the child's rusage Maxrss: it counts the parent's resident pages
	// at fork time (the generated mailbox, the memserver), which is what
	// running the pipeline in a child process is meant to leave out.
	peak := max(res.VmHWMKB, ingestRSS)
	w.wait()
	rss.stop()
	rep.PeakRSSMB = float64(peak) / 1024
	rep.Notes = append(rep.Notes, fmt.Sprintf("pipeline process RSS: VmHWM %.0f MB in the ingest-only pass, %.0f MB from then to the stop; sampled peaks by phase: %s",
		float64(ingestRSS)/1024, float64(res.VmHWMKB)/1024, rss.String()))

	if l := loadAvg(); l != "" {
		// Other processes on the machine slow the run down: say how busy it was.
		rep.Notes = append(rep.Notes, fmt.Sprintf("machine load average (1/5/15 min) at start %s, after the live run %s, on %d CPUs", loadStart, l, runtime.NumCPU()))
	}
	// The ground truth against the org.
	rep.Truth = gen.Truth()
	rep.Found, rep.Differences, rep.Mismatches = verify(sim, baseline, rep.Truth)
	pr.done("verify", "org: %d cases, %d email messages, %d contacts; ground truth %d, %d, %d; %d mismatches",
		rep.Found["Case"], rep.Found["EmailMessage"], rep.Found["Contact"], rep.Truth.Cases, rep.Truth.EmailMessages, rep.Truth.Contacts, rep.Mismatches)
	if cfg.NoBackfill {
		rep.Notes = append(rep.Notes, "api_calls_per_email_backfill is null: the backfill run was not asked for")
		return rep, nil
	}
	if err := runBackfill(ctx, cfg, srv, rep, pr); err != nil {
		return nil, err
	}
	return rep, nil
}

// runBackfill measures backfill mode on the same mailbox (probes included)
// against a fresh org: a second worker runs (*pipeline.App).Backfill. Every
// call the emulator counts during it is a backfill call, the earlier
// stages' lookups included.
func runBackfill(ctx context.Context, cfg Config, srv *imaptest.Server, rep *Report, pr *progress) error {
	clientSecret := rand.Text()
	sim, err := sfsim.New(sfsim.Options{ClientID: "triage-bench", ClientSecret: clientSecret, Seed: "empty", DailyAPILimit: 10_000_000})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	baseline := snapshotIDs(sim)
	emails := rep.Truth.Emails + rep.Truth.ByKind[KindProbe]
	job := Job{Dir: filepath.Join(cfg.Dir, "backfill"), IMAPAddr: srv.Addr, Username: srv.Username, Password: srv.Password,
		OrgURL: "http://" + ln.Addr().String(), ClientID: "triage-bench", ClientSecret: clientSecret, Deliveries: emails, Backfill: true, Workers: cfg.Workers}
	w, err := startWorker(ctx, cfg.Worker, job, filepath.Join(cfg.Dir, "backfill-worker.log"))
	if err != nil {
		return err
	}
	defer w.kill()
	if _, err := w.expect(ctx, "ready"); err != nil {
		return err
	}
	pr.update("backfill", "backfill mode over %d emails ...", emails)
	s0 := sim.Stats()
	if err := w.send("go"); err != nil {
		return err
	}
	bf, err := w.expect(ctx, "backfill")
	if err != nil {
		return err
	}
	s1 := sim.Stats()
	w.wait()
	calls := s1.APICalls - s0.APICalls
	v := float64(calls) / float64(emails)
	rep.APICallsPerEmailBackfill = &v
	found, diffs, mism := verify(sim, baseline, rep.Truth)
	rep.Mismatches += mism
	for _, d := range diffs {
		rep.Differences = append(rep.Differences, "backfill: "+d)
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("backfill mode ((*pipeline.App).Backfill) over %d emails in %.1fs: %d API calls (%.3f/email; %d in the /composite/graph writes), "+
		"%d emails the batches could not write (finished by the cases stage one by one), final states %v; org after it: %d cases, %d email messages, %d contacts, %d mismatches",
		emails, bf.Seconds, calls, v, bf.APICalls, bf.Failed, bf.States, found["Case"], found["EmailMessage"], found["Contact"], mism))
	pr.done("backfill", "backfill: %d emails in %.1fs, %d API calls (%.3f per email), %d mismatches", emails, bf.Seconds, calls, v, mism)
	return nil
}

// rssSampler records a process's peak VmRSS per phase every 50 ms.
type rssSampler struct {
	pid   int
	mu    sync.Mutex
	cur   string
	order []string
	peak  map[string]int64
	done  chan struct{}
	once  sync.Once
}

func newRSSSampler(pid int, phase string) *rssSampler {
	r := &rssSampler{pid: pid, cur: phase, order: []string{phase}, peak: map[string]int64{}, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			kb := procStatusKB(pid, "VmRSS")
			r.mu.Lock()
			r.peak[r.cur] = max(r.peak[r.cur], kb)
			r.mu.Unlock()
			select {
			case <-r.done:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

func (r *rssSampler) phase(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur = p
	r.order = append(r.order, p)
}

func (r *rssSampler) stop() { r.once.Do(func() { close(r.done) }) }

func (r *rssSampler) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, p := range r.order {
		parts = append(parts, fmt.Sprintf("%s %.0f MB", p, float64(r.peak[p])/1024))
	}
	return strings.Join(parts, ", ")
}

// loadAvg is /proc/loadavg's first three fields, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// RawFetch is the floor: one minimal client, one UID FETCH 1:* BODY.PEEK[],
// every literal read and thrown away.
func RawFetch(ctx context.Context, addr, user, pass string) (n int, seconds float64, err error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: raw fetch: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(user, pass).Wait(); err != nil {
		return 0, 0, fmt.Errorf("bench: raw fetch: login: %w", err)
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, 0, fmt.Errorf("bench: raw fetch: select: %w", err)
	}
	start := time.Now()
	cmd := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
				if _, err := io.Copy(io.Discard, body.Literal); err != nil {
					return n, 0, fmt.Errorf("bench: raw fetch: %w", err)
				}
				n++
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return n, 0, fmt.Errorf("bench: raw fetch: %w", err)
	}
	return n, time.Since(start).Seconds(), nil
}

// Mbsync times `mbsync -c RC -a` pulling the INBOX into an empty Maildir
// under dir, and counts the files it wrote.
func Mbsync(ctx context.Context, bin, dir, addr, user, pass string) (n int, seconds float64, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, 0, err
	}
	maildir := filepath.Join(dir, "Maildir") + "/"
	if err := os.MkdirAll(maildir, 0o700); err != nil {
		return 0, 0, err
	}
	rc := fmt.Sprintf(`IMAPAccount bench
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path %s
Inbox %sINBOX
SubFolders Verbatim

Channel bench
Far :bench-far:
Near :bench-near:
Patterns INBOX
Create Near
Sync Pull
SyncState *
`, host, port, user, pass, maildir, maildir)
	rcPath := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
		return 0, 0, err
	}
	defer os.Remove(rcPath) // it holds the (throw-away) password
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-q", "-c", rcPath, "-a")
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	seconds = time.Since(start).Seconds()
	if err != nil {
		return 0, 0, fmt.Errorf("mbsync: %w: %s", err, strings.TrimSpace(out.String()))
	}
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(maildir, "INBOX", sub))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, 0, err
		}
		n += len(entries)
	}
	_ = os.RemoveAll(maildir)
	return n, seconds, nil
}

// worker is the pipeline child process.
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event
	logf   *os.File
	logp   string
	waited *os.ProcessState
	once   sync.Once
	exited chan struct{}
}

func startWorker(ctx context.Context, argv []string, job Job, logPath string) (*worker, error) {
	if err := os.MkdirAll(job.Dir, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start worker: %w", err)
	}
	w := &worker{cmd: cmd, stdin: stdin, events: make(chan event, 16), logf: logf, logp: logPath, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				w.events <- e
			}
		}
		close(w.events)
	}()
	b, _ := json.Marshal(job)
	if _, err := fmt.Fprintf(stdin, "%s\n", b); err != nil {
		w.kill()
		return nil, err
	}
	return w, nil
}

func (w *worker) send(cmd string) error {
	_, err := fmt.Fprintln(w.stdin, cmd)
	return err
}

func (w *worker) next(ctx context.Context) (event, error) {
	select {
	case e, ok := <-w.events:
		if !ok {
			return e, fmt.Errorf("bench: the pipeline worker exited%s", w.logTail())
		}
		if e.Event == "error" {
			return e, fmt.Errorf("bench: pipeline worker: %s%s", e.Error, w.logTail())
		}
		return e, nil
	case <-ctx.Done():
		return event{}, ctx.Err()
	}
}

func (w *worker) expect(ctx context.Context, name string) (event, error) {
	e, err := w.next(ctx)
	if err == nil && e.Event != name {
		err = fmt.Errorf("bench: worker said %q, want %q", e.Event, name)
	}
	return e, err
}

func (w *worker) logTail() string {
	b, _ := os.ReadFile(w.logp)
	if len(b) == 0 {
		return ""
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return "\nworker log:\n" + string(b)
}

// wait waits for the worker to exit (after "stop") and returns its state.
func (w *worker) wait() *os.ProcessState {
	w.once.Do(func() {
		_ = w.stdin.Close()
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
		w.waited = w.cmd.ProcessState
		w.logf.Close()
	})
	return w.waited
}

func (w *worker) kill() {
	if w.cmd.ProcessState == nil {
		_ = w.cmd.Process.Signal(os.Interrupt)
	}
	w.wait()
}

// probeWatch wraps the emulator and notes when a successful composite
// request carrying a probe marker was answered: the moment its case exists.
type probeWatch struct {
	h  http.Handler
	mu sync.Mutex
	at map[string]time.Time
	// queries counts SOQL queries by shape (literals replaced by ?).
	queries map[string]int
}

var probeRe = regexp.MustCompile(`bench-probe-[0-9]+`)

func newProbeWatch(h http.Handler) *probeWatch {
	return &probeWatch{h: h, at: map[string]time.Time{}, queries: map[string]int{}}
}

var soqlLiteral = regexp.MustCompile(`'(?:[^'\\]|\\.)*'|\b\d+\b`)

func (p *probeWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query().Get("q"); q != "" {
		shape := soqlLiteral.ReplaceAllString(q, "?")
		p.mu.Lock()
		p.queries[shape]++
		p.mu.Unlock()
	}
	if r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/composite") {
		p.h.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	markers := probeRe.FindAll(body, -1)
	if len(markers) == 0 {
		p.h.ServeHTTP(w, r)
		return
	}
	rec := &recorder{ResponseWriter: w, status: 200}
	p.h.ServeHTTP(rec, r)
	now := time.Now()
	if rec.status == 200 && compositeOK(rec.body.Bytes()) {
		p.mu.Lock()
		for _, m := range markers {
			if _, seen := p.at[string(m)]; !seen {
				p.at[string(m)] = now
			}
		}
		p.mu.Unlock()
	}
}

func (p *probeWatch) when(marker string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.at[marker]
	return t, ok
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// compositeOK: no sub-request failed (composite httpStatusCode >= 400, or a
// graph with isSuccessful false).
func compositeOK(b []byte) bool {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	ok := true
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if c, isNum := x["httpStatusCode"].(float64); isNum && c >= 400 {
				ok = false
			}
			if s, isBool := x["isSuccessful"].(bool); isBool && !s {
				ok = false
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return ok
}

// measureLatency appends probes one at a time while the pipeline idles and
// times each from just before its APPEND to its case answered by the
// emulator (cases wired) or its message final in the pipeline's database.
func measureLatency(ctx context.Context, srv *imaptest.Server, gen *Generator, watch *probeWatch, dbPath string, probes int, wired bool, pr *progress) (Latency, string, error) {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return Latency{}, "", err
	}
	defer db.Close()
	c, err := srv.Connect()
	if err != nil {
		return Latency{}, "", err
	}
	defer c.Close()
	var ms []float64
	fallback := 0
	for k := 0; k < probes; k++ {
		raw, marker, msgID := gen.Probe()
		pr.update("latency", "latency probes: %d/%d", k, probes)
		start := time.Now()
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Time: start})
		if _, err := cmd.Write(raw); err != nil {
			return Latency{}, "", err
		}
		if err := cmd.Close(); err != nil {
			return Latency{}, "", err
		}
		if _, err := cmd.Wait(); err != nil {
			return Latency{}, "", fmt.Errorf("bench: append probe: %w", err)
		}
		deadline := time.Now().Add(30 * time.Second)
		var end time.Time
		for end.IsZero() {
			if t, ok := watch.when(marker); ok {
				end = t
				break
			}
			var state string
			err := db.QueryRowContext(ctx, `SELECT state FROM messages WHERE message_id IN (?, ?)`, msgID, "<"+msgID+">").Scan(&state)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return Latency{}, "", fmt.Errorf("bench: probe state: %w", err)
			}
			if state == "done" || state == "skipped" || state == "dead" {
				if t, ok := watch.when(marker); ok {
					end = t
				} else {
					end = time.Now()
					if wired {
						fallback++
					}
				}
				break
			}
			if time.Now().After(deadline) {
				return Latency{}, "", fmt.Errorf("bench: probe %s not processed within 30s (state %q)", marker, state)
			}
			time.Sleep(time.Millisecond)
		}
		ms = append(ms, float64(end.Sub(start).Microseconds())/1000)
		// Spread probes out a little so they meet the pipeline idle.
		time.Sleep(time.Duration(10+k%7*5) * time.Millisecond)
	}
	pr.done("latency", "latency over %d probes: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms", len(ms), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99))
	note := ""
	if !wired {
		note = "latency_ms is measured from APPEND to the message's final state (done), not to its case: the cases stage is not wired"
	} else if fallback > 0 {
		note = fmt.Sprintf("latency_ms: %d of %d probes had no case answered by the emulator; measured to done instead", fallback, len(ms))
	}
	return Latency{P50: percentile(ms, 50), P95: percentile(ms, 95), P99: percentile(ms, 99)}, note, nil
}

// percentile is the nearest-rank percentile.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return math.Round(s[min(max(k, 0), len(s)-1)]*10) / 10
}

// snapshotIDs records the Ids of the records the org started with.
func snapshotIDs(sim *sfsim.Server) map[string]bool {
	ids := map[string]bool{}
	for _, o := range []string{"Case", "EmailMessage", "Contact"} {
		for _, r := range sim.Records(o) {
			if id, _ := r["Id"].(string); id != "" {
				ids[id] = true
			}
		}
	}
	return ids
}

// verify compares the records the run made with the ground truth: each
// thread exactly one Case (by external ID), each accepted email exactly one
// EmailMessage (by MessageIdentifier), each sender exactly one Contact (by
// Email). Every missing, extra or duplicated record is one mismatch.
func verify(sim *sfsim.Server, baseline map[string]bool, t Truth) (found map[string]int, diffs []string, mismatches int) {
	found = map[string]int{}
	check := func(object, field string, want map[string]bool, norm func(string) string) {
		got := map[string]int{}
		for _, r := range sim.Records(object) {
			if id, _ := r["Id"].(string); baseline[id] {
				continue
			}
			found[object]++
			v, _ := r[field].(string)
			got[norm(v)]++
		}
		var missing, extra, dup []string
		for k := range want {
			if got[k] == 0 {
				missing = append(missing, k)
			}
		}
		for k, n := range got {
			switch {
			case !want[k]:
				extra = append(extra, fmt.Sprintf("%q ×%d", k, n))
				mismatches += n
			case n > 1:
				dup = append(dup, fmt.Sprintf("%q ×%d", k, n))
				mismatches += n - 1
			}
		}
		mismatches += len(missing)
		sort.Strings(missing)
		sort.Strings(extra)
		sort.Strings(dup)
		for _, d := range []struct {
			what string
			list []string
		}{{"missing", missing}, {"unexpected", extra}, {"duplicated", dup}} {
			if len(d.list) > 0 {
				diffs = append(diffs, fmt.Sprintf("%s: %d %s by %s, e.g. %s", object, len(d.list), d.what, field, strings.Join(d.list[:min(3, len(d.list))], ", ")))
			}
		}
	}
	id := func(s string) string { return s }
	check("Case", "Triage_Key__c", t.CaseKeys, id)
	check("EmailMessage", "MessageIdentifier", t.MessageIDs, id)
	check("Contact", "Email", t.ContactEmails, strings.ToLower)
	return found, diffs, mismatches
}

// progress shows one line per phase, redrawn in place on a terminal.
type progress struct {
	w    io.Writer
	term bool
	mu   sync.Mutex
	last time.Time
}

func (p *progress) update(phase, format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.term {
		// A line now and then, not a flood, when the output is a log.
		if time.Since(p.last) < 5*time.Second {
			return
		}
		p.last = time.Now()
		fmt.Fprintf(p.w, "bench: %s\n", fmt.Sprintf(format, a...))
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s", fmt.Sprintf(format, a...))
}

func (p *progress) done(phase, format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = time.Time{}
	if p.term {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "bench: %s\n", fmt.Sprintf(format, a...))
}

// WriteJSON prints the Result: one object with exactly the keys.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.Result)
}

// WriteTable prints the short human-readable table and the notes.
func (r *Report) WriteTable(w io.Writer) {
	f := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	null := func(v *float64, format string) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf(format, *v)
	}
	rows := [][2]string{
		{"emails", fmt.Sprintf("%d (%.1f MB, IMAP %s)", r.Emails, r.MailboxMB, r.IMAP)},
		{"raw fetch /s", f(r.RawFetchPerS)},
		{"mbsync /s", null(r.MbsyncPerS, "%.0f")},
		{"ingest /s", f(r.IngestPerS)},
		{"end to end /s", f(r.E2EPerS)},
		{"e2e / raw", fmt.Sprintf("%.2f", r.RatioE2EToRaw)},
		{"API calls / email", fmt.Sprintf("%.3f (%d calls; %.2f one at a time)", r.APICallsPerEmail, r.APICalls, r.ProbeCallsPerEmail)},
		{"API calls / email, backfill", null(r.APICallsPerEmailBackfill, "%.3f")},
		{"latency p50/p95/p99", fmt.Sprintf("%.0f / %.0f / %.0f ms", r.LatencyMS.P50, r.LatencyMS.P95, r.LatencyMS.P99)},
		{"peak RSS (pipeline)", fmt.Sprintf("%.0f MB", r.PeakRSSMB)},
		{"mismatches", fmt.Sprintf("%d", r.Mismatches)},
	}
	fmt.Fprintln(w)
	for _, row := range rows {
		fmt.Fprintf(w, "  %-28s %s\n", row[0], row[1])
	}
	fmt.Fprintf(w, "\n  ground truth: %d threads (cases), %d email messages, %d contacts; by kind %v\n",
		r.Truth.Cases, r.Truth.EmailMessages, r.Truth.Contacts, r.Truth.ByKind)
	fmt.Fprintf(w, "  found in the org: %d cases, %d email messages, %d contacts\n", r.Found["Case"], r.Found["EmailMessage"], r.Found["Contact"])
	fmt.Fprintf(w, "  final states: %v\n", r.States)
	if len(r.ByEndpoint) > 0 {
		keys := make([]string, 0, len(r.ByEndpoint))
		for k := range r.ByEndpoint {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return r.ByEndpoint[keys[i]] > r.ByEndpoint[keys[j]] })
		var parts []string
		for _, k := range keys[:min(6, len(keys))] {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.ByEndpoint[k]))
		}
		fmt.Fprintf(w, "  API calls by endpoint: %s\n", strings.Join(parts, ", "))
	}
	if len(r.Queries) > 0 {
		shapes := make([]string, 0, len(r.Queries))
		for q := range r.Queries {
			shapes = append(shapes, q)
		}
		sort.Slice(shapes, func(i, j int) bool { return r.Queries[shapes[i]] > r.Queries[shapes[j]] })
		fmt.Fprintln(w, "  SOQL queries during the backlog, by shape:")
		for _, q := range shapes[:min(8, len(shapes))] {
			fmt.Fprintf(w, "    %6d  %s\n", r.Queries[q], q)
		}
	}
	for _, d := range r.Differences {
		fmt.Fprintf(w, "  mismatch: %s\n", d)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
