package pipeline_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/pipeline"
	"github.com/triage-dev/triage/salesforce/sfsim"
	"github.com/triage-dev/triage/store"
	"modernc.org/sqlite"
)

// TestReliabilityDatabaseLocked (issue 9, "database locked"): another
// process holds an exclusive lock on the database for a few seconds in the
// middle of the run while new mail arrives. The store reports the lock
// clearly, the pipeline pauses (ingest does not acknowledge what it could not
// record), and once the lock is released everything completes: nothing lost,
// nothing dead.
func TestReliabilityDatabaseLocked(t *testing.T) {
	t.Parallel() // the suite waits on timers and child processes more than on CPU
	srv := imaptest.StartMemServer(t)
	e := newE2E(t, srv)
	delivered := demoDelivered(e.mail)
	e.cfg.Store.BusyTimeout = 100 * time.Millisecond
	// A result that cannot be recorded comes back after its lease; the
	// default (10 minutes) would make this test wait that long.
	e.cfg.Pipeline.Lease = 2 * time.Second
	e.cfg.Mailboxes[0].After = "flag"
	// A short IDLE refresh: once in five full-suite runs, mail delivered
	// during the lock waited for the next IDLE round (25 min by default) —
	// most likely imapmemserver missing an IDLE notification under load.
	// Under investigation; see the closing note of session 1.
	e.cfg.Mailboxes[0].IdleRefresh = 2 * time.Second
	var logs logBuffer
	app, err := pipeline.New(context.Background(), e.cfg, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	e.sim.SetFaults(sfsim.Faults{LatencyMS: 20}) // keep work in flight when the lock comes
	emailsBefore := len(e.sim.Records("EmailMessage"))
	runApp(t, app)
	waitFor(t, time.Minute, "some cases", func() (bool, string) {
		return len(e.sim.Records("EmailMessage")) >= emailsBefore+5, ""
	})

	db, err := sql.Open("sqlite", "file:"+e.cfg.Store.Path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	hold := pick(30*time.Second, 3*time.Second)
	lockedAt := time.Now()
	var during []string
	for i := range 10 {
		raw := fmt.Appendf(nil, "From: Hana Kim <hana.kim%d@example.org>\r\nTo: support@northwind.example\r\n"+
			"Subject: Locked out of my account (%d)\r\nMessage-ID: <locked-%d@example.org>\r\nDate: Mon, 23 Nov 2026 11:00:00 +0000\r\n\r\n"+
			"I cannot log in since this morning.\r\n", i, i, i)
		srv.Append(t, "INBOX", raw)
		delivered[messageID(raw)] = true
		during = append(during, messageID(raw))
	}
	time.Sleep(time.Until(lockedAt.Add(hold)))
	// Mail that arrived during the lock is on the server, not acknowledged.
	acked := 0
	for _, flags := range srv.Messages(t, "INBOX") {
		if imaptest.HasFlag(flags, "$Triaged") {
			acked++
		}
	}
	var locked int
	conn.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE message_id LIKE 'locked-%'`).Scan(&locked)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if locked != 0 {
		t.Fatalf("%d messages recorded through an exclusive lock", locked)
	}
	waitFor(t, 2*time.Minute, "every message to be recorded and final after the lock", settled(app.Store, delivered))
	unacked := 0
	for _, flags := range srv.Messages(t, "INBOX") {
		if !imaptest.HasFlag(flags, "$Triaged") {
			unacked++
		}
	}
	if unacked != 0 {
		t.Errorf("%d messages still not acknowledged after the lock", unacked)
	}
	checkStore(t, app.Store, delivered, false)
	checkExactlyOnce(t, app.Store, e.sim, emailsBefore)
	out := logs.String()
	if !strings.Contains(out, "database is locked") {
		t.Errorf("the lock was never reported as such in the logs")
	}
	t.Logf("lock held %s; %d INBOX messages acked at release; log lines mentioning the lock: %d (pauses: %d, unrecorded results: %d, ingest retries: %d)",
		hold, acked, strings.Count(out, "database is locked"), strings.Count(out, "pausing stage"),
		strings.Count(out, "could not record result"), strings.Count(out, "sync failed"))
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "database is locked") {
			t.Logf("example: %.300s", l)
			break
		}
	}
}

const diskFullEnv = "TRIAGE_DISKFULL_CHILD"

// TestReliabilityDiskFullChild is the child of TestReliabilityDiskFull: the
// pipeline (`triage run`) with its database unable to grow, until SIGUSR1
// gives the space back; SIGTERM ends it. Two ways to fill the disk:
//   - "fsize": RLIMIT_FSIZE with SIGXFSZ ignored: a write past the limit fails
//     in the kernel (EFBIG; SQLite reports SQLITE_IOERR_WRITE). SIGUSR1 lifts
//     the limit while the pipeline runs.
//   - "pages": PRAGMA max_page_count on every connection (a connection hook):
//     SQLite itself answers SQLITE_FULL, as on a full disk (ENOSPC). The
//     pragma is per connection, so SIGUSR1 stops the pipeline gracefully and
//     starts it again without the cap (an operator freeing space and
//     restarting).
func TestReliabilityDiskFullChild(t *testing.T) {
	spec := os.Getenv(diskFullEnv)
	if spec == "" {
		t.Skip("child process of TestReliabilityDiskFull only")
	}
	parts := strings.Split(spec, "|")
	mode, path := parts[0], parts[1]
	limit, _ := strconv.ParseUint(parts[2], 10, 64)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		t.Fatal(err)
	}
	hard := rl.Max
	var maxPages atomic.Uint64
	switch mode {
	case "fsize":
		signal.Ignore(syscall.SIGXFSZ)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: hard}); err != nil {
			t.Fatal(err)
		}
	case "pages":
		maxPages.Store(limit)
		sqlite.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, _ string) error {
			if n := maxPages.Load(); n > 0 {
				_, err := c.ExecContext(context.Background(), fmt.Sprintf("PRAGMA max_page_count = %d", n), nil)
				return err
			}
			return nil
		})
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGTERM)
	cfg, err := pipeline.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	for {
		app, err := pipeline.New(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx) }()
		s := <-sig
		if s == syscall.SIGUSR1 && mode == "fsize" {
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: hard, Max: hard}); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(os.Stderr, "DISKFULL-CHILD: space is back")
			s = <-sig
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		app.Close()
		if s == syscall.SIGTERM {
			return
		}
		maxPages.Store(0)
		fmt.Fprintln(os.Stderr, "DISKFULL-CHILD: space is back; restarting")
	}
}

// TestReliabilityDiskFull (issue 9, "disk full"): the pipeline runs in a
// child process whose database cannot grow past a little above its size (a
// tmpfs of fixed size needs privileges; see the child for the two ways).
// Mail keeps arriving. The store reports it clearly, nothing is
// acknowledged that was not recorded, nothing is dead; once space is back
// everything completes, exactly once.
func TestReliabilityDiskFull(t *testing.T) {
	t.Parallel() // the suite waits on timers and child processes more than on CPU
	for _, mode := range []string{"pages", "fsize"} {
		t.Run(mode, func(t *testing.T) { testDiskFull(t, mode) })
	}
}

func testDiskFull(t *testing.T, mode string) {
	// The production retry schedule (5m36s in all) outlasts the full disk
	// here. A full disk that outlasts the schedule dead-letters messages whose
	// stage itself writes to the store (the cases stage's audit: "dead:
	// retries_exhausted: store: append audit: database or disk is full"):
	// temporary store errors spend retry attempts (pipeline/runner.go fail).
	// TRIAGE_SOAK_SCHEDULE=scaled (a 750 ms schedule) reproduces it now and
	// then (seen in 1 of 6 runs).
	schedule := ""
	if os.Getenv("TRIAGE_SOAK_SCHEDULE") == "scaled" {
		schedule = "\n  retry_schedule: [50ms, 100ms, 200ms, 400ms]"
	}
	srv := imaptest.StartMemServer(t)
	e := newE2E(t, srv)
	delivered := demoDelivered(e.mail)
	deliverCorpus(t, srv, "INBOX", pick(600, 80), 77, delivered)
	emailsBefore := len(e.sim.Records("EmailMessage"))
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "triage.db")
	cfgPath := filepath.Join(dir, "triage.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, `
store: {path: %s, busy_timeout: 1s}
pipeline:%s
  lease: 2s
  metrics_addr: "off"
review: {enabled: false}
mailboxes:
  - {name: support, address: %q, tls: none, username: %s, password: %s, folders: [INBOX, Billing], after: flag, batch_size: 10}
salesforce:
  login_url: %s
  auth: {flow: client_credentials, client_id: cid, client_secret: secret}
`, dbPath, schedule, srv.Addr, srv.Username, srv.Password, e.org.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	seedModel(t, dbPath)
	fi, err := os.Stat(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	const room = 256 << 10
	limit := fi.Size() + room
	if mode == "pages" {
		limit /= 4096 // the default page size
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestReliabilityDiskFullChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), diskFullEnv+"="+mode+"|"+cfgPath+"|"+strconv.FormatInt(limit, 10))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()
	symptom := map[string]string{"pages": "database or disk is full", "fsize": "disk I/O error"}[mode]
	waitFor(t, time.Minute, "the store to report the disk full", func() (bool, string) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("child exited: %v\n%s", err, out.tail())
		default:
		}
		return strings.Contains(out.String(), symptom), ""
	})
	// Stay full for a while: the pipeline must pause, not drop or kill mail.
	time.Sleep(pick(20*time.Second, time.Second))
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var recordedWhileFull, deadWhileFull int
	db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE state='dead') FROM messages`).Scan(&recordedWhileFull, &deadWhileFull)
	ackedWhileFull := 0
	for _, flags := range srv.Messages(t, "INBOX") {
		if imaptest.HasFlag(flags, "$Triaged") {
			ackedWhileFull++
		}
	}
	if ackedWhileFull > recordedWhileFull {
		t.Errorf("%d messages acknowledged on the server but only %d recorded", ackedWhileFull, recordedWhileFull)
	}
	if deadWhileFull > 0 {
		t.Errorf("%d messages dead while the disk was full", deadWhileFull)
	}
	if recordedWhileFull >= len(delivered) {
		t.Errorf("every message was recorded while the disk was full: the test proves nothing")
	}
	t.Logf("while full: %d of %d messages recorded, %d acknowledged on the server", recordedWhileFull, len(delivered)+1, ackedWhileFull)

	cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, 3*time.Minute, "everything to complete once space is back", func() (bool, string) {
		var n, pending int
		db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE state NOT IN ('done','skipped','dead')) FROM messages`).Scan(&n, &pending)
		unacked := 0
		for _, folder := range []string{"INBOX", "Billing"} {
			for _, flags := range srv.Messages(t, folder) {
				if !imaptest.HasFlag(flags, "$Triaged") {
					unacked++
				}
			}
		}
		return unacked == 0 && pending == 0 && n >= len(delivered), fmt.Sprintf("%d recorded, %d pending, %d not acknowledged", n, pending, unacked)
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Fatalf("child: %v\n%s", err, out.tail())
	}
	st, err := store.Open(context.Background(), store.Config{Path: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkStore(t, st, delivered, false)
	checkExactlyOnce(t, st, e.sim, emailsBefore)
	s := out.String()
	t.Logf("%d KB of room over a %d KB database; log lines with %q: %d", room>>10, fi.Size()>>10, symptom, strings.Count(s, symptom))
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, symptom) {
			t.Logf("example: %.300s", l)
			break
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a child's stdout and stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) tail() string {
	x := s.String()
	if len(x) > 4000 {
		x = x[len(x)-4000:]
	}
	return x
}
