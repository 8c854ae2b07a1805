package ingest

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/store"
)

// Environment of the crash test's child process.
const (
	crashEnvAddr = "TRIAGE_CRASH_ADDR"
	crashEnvUser = "TRIAGE_CRASH_USER"
	crashEnvPass = "TRIAGE_CRASH_PASS"
	crashEnvDB   = "TRIAGE_CRASH_DB"
)

// TestCrashChild is the child of TestCrashRecovery: it ingests the mailbox
// into the store and exits, unless it is killed first. It does nothing in a
// normal test run.
func TestCrashChild(t *testing.T) {
	addr := os.Getenv(crashEnvAddr)
	if addr == "" {
		t.Skip("child process of TestCrashRecovery only")
	}
	st, err := store.Open(context.Background(), store.Config{Path: os.Getenv(crashEnvDB)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := MailboxConfig{Name: "support", Address: addr, TLS: TLSNone, Username: os.Getenv(crashEnvUser),
		Password: os.Getenv(crashEnvPass), After: "flag", BatchSize: 10}
	cfg.SetDefaults()
	s := NewSyncer(cfg, st)
	defer s.Close()
	if _, err := s.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestCrashRecovery kills an ingesting child process with SIGKILL at random
// points, over and over, then lets one run finish: every message of the
// mailbox must be recorded exactly once and acknowledged.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns processes")
	}
	const kills = 22
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			srv := sv.start(t)
			msgs := imaptest.Corpus(600, 30)
			srv.AppendMany(t, "INBOX", msgs)
			db := filepath.Join(t.TempDir(), "triage.db")
			run := func(killAfter time.Duration) (killed bool) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashEnvAddr+"="+srv.Addr, crashEnvUser+"="+srv.Username,
					crashEnvPass+"="+srv.Password, crashEnvDB+"="+db)
				out := &prefixWriter{}
				cmd.Stdout, cmd.Stderr = out, out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				if killAfter > 0 {
					select {
					case err := <-done:
						if err != nil {
							t.Fatalf("child failed before the kill: %v\n%s", err, out)
						}
						return false
					case <-time.After(killAfter):
						_ = cmd.Process.Kill() // SIGKILL
						<-done
						return true
					}
				}
				if err := <-done; err != nil {
					t.Fatalf("final child: %v\n%s", err, out)
				}
				return false
			}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
			st := openStore(t, filepath.Dir(db)) // reader only; the child writes
			killed, progress := 0, []int{}
			for i := 0; killed < kills && i < 4*kills; i++ {
				if run(time.Duration(20+rng.IntN(250)) * time.Millisecond) {
					killed++
				}
				progress = append(progress, count(t, st, `SELECT count(*) FROM messages`))
				if progress[len(progress)-1] == len(msgs) && killed < kills {
					// Everything is in: start over on a fresh database so kills keep landing mid-ingest.
					st.Close()
					for _, f := range []string{db, db + "-wal", db + "-shm"} {
						_ = os.Remove(f)
					}
					st = openStore(t, filepath.Dir(db))
					progress = append(progress, -1)
				}
			}
			if killed < kills {
				t.Fatalf("only %d kills landed", killed)
			}
			run(0)
			t.Logf("%d SIGKILLs; messages recorded after each run: %v", killed, progress)
			got := rows(t, st)
			if len(got) != len(msgs) {
				t.Fatalf("%d messages recorded, want %d", len(got), len(msgs))
			}
			seen := map[string]bool{}
			for _, r := range got {
				if seen[r.SHA256] {
					t.Errorf("message %s recorded twice", r.SHA256)
				}
				seen[r.SHA256] = true
			}
			for i, m := range msgs {
				if !seen[hexsum(m)] {
					t.Errorf("message %d missing", i)
				}
			}
			if n := count(t, st, `SELECT count(*) FROM message_locations`); n != len(msgs) {
				t.Errorf("%d locations, want %d", n, len(msgs))
			}
			if n := count(t, st, `SELECT count(DISTINCT uid) FROM message_locations`); n != len(msgs) {
				t.Errorf("%d distinct UIDs, want %d", n, len(msgs))
			}
			if n := count(t, st, `SELECT count(*) FROM message_locations WHERE acked=0`); n != 0 {
				t.Errorf("%d locations not acked", n)
			}
			ms, _ := st.MailboxState(context.Background(), "support", "INBOX")
			if ms.LastUID != uint32(len(msgs)) {
				t.Errorf("last uid %d, want %d", ms.LastUID, len(msgs))
			}
			for uid, f := range srv.Messages(t, "INBOX") {
				if !imaptest.HasFlag(f, TriagedFlag) {
					t.Errorf("uid %d not flagged %s", uid, TriagedFlag)
				}
			}
		})
	}
}

// prefixWriter collects a child's output for failure messages.
type prefixWriter struct{ b []byte }

func (w *prefixWriter) Write(p []byte) (int, error) {
	if len(w.b) < 64<<10 {
		w.b = append(w.b, p...)
	}
	return len(p), nil
}

func (w *prefixWriter) String() string { return string(w.b) }
