package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
)

// lineCounter counts protocol lines containing a word (safe for concurrent use).
type lineCounter struct {
	mu   sync.Mutex
	word string
	n    int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += strings.Count(string(p), c.word)
	c.mu.Unlock()
	return len(p), nil
}

func (c *lineCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestRunRefreshesIdle: IDLE is ended and re-issued every idle_refresh, and
// mail still arrives afterwards. Two folders idle at once, each on its own
// connection.
func TestRunRefreshesIdle(t *testing.T) {
	idles := &lineCounter{word: " IDLE\r\n"}
	srv := imaptest.StartMemServer(t, imaptest.WithDebug(idles))
	srv.CreateFolder(t, "Billing")
	st := openStore(t, t.TempDir())
	woke := make(chan struct{}, 10)
	cfg := mailboxConfig(srv, "INBOX", "Billing")
	cfg.IdleRefresh = 150 * time.Millisecond
	s := NewSyncer(cfg, st, WithNotify(func() { woke <- struct{}{} }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for idles.count() < 6 { // both folders, at least three IDLEs each
		if time.Now().After(deadline) {
			t.Fatalf("only %d IDLE commands in 10s", idles.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	msgs := imaptest.Corpus(2, 60)
	srv.Append(t, "INBOX", msgs[0])
	srv.Append(t, "Billing", msgs[1])
	waitFor(t, woke, 10*time.Second, "INBOX message")
	waitFor(t, woke, 10*time.Second, "Billing message")
	if n := count(t, st, `SELECT count(DISTINCT folder) FROM message_locations`); n != 2 {
		t.Errorf("messages from %d folders, want 2", n)
	}
}

// TestLogsHoldNoSecret: a failing login, logged at debug level, never shows
// the password.
func TestLogsHoldNoSecret(t *testing.T) {
	srv := imaptest.StartMemServer(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := mailboxConfig(srv)
	cfg.Password = "Sup3r-Secret-Pw"
	s := NewSyncer(cfg, openStore(t, t.TempDir()), WithLogger(log))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_ = s.Run(ctx) // fails to log in, backs off, until the timeout
	_, err := s.SyncOnce(context.Background())
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if err == nil || !strings.Contains(out, "sync failed") {
		t.Fatalf("want a logged login failure; err %v, log %s", err, out)
	}
	if strings.Contains(out+err.Error(), "Sup3r-Secret-Pw") {
		t.Errorf("password in log or error:\n%s\n%v", out, err)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
