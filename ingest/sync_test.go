package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"golang.org/x/oauth2"

	"github.com/triage-dev/triage/ingest/imaptest"
	"github.com/triage-dev/triage/store"
)

type startFunc func(testing.TB, ...imaptest.Option) *imaptest.Server

var servers = []struct {
	name  string
	start startFunc
}{
	{"memserver", imaptest.StartMemServer},
	{"dovecot", imaptest.StartDovecot},
}

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Path: filepath.Join(dir, "triage.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mailboxConfig(srv *imaptest.Server, folders ...string) MailboxConfig {
	if len(folders) == 0 {
		folders = []string{"INBOX"}
	}
	c := MailboxConfig{Name: "support", Address: srv.Addr, TLS: TLSNone, Username: srv.Username,
		Password: srv.Password, Folders: folders, BatchSize: 7}
	c.SetDefaults()
	return c
}

type row struct {
	UID, UIDValidity uint32
	State, Reason    string
	HeaderOnly       bool
	LastError        string
	MessageID        string
	SHA256           string
	Size             int64
}

// rows lists the recorded messages of a folder with their first location.
func rows(t testing.TB, st *store.Store) []row {
	t.Helper()
	r, err := st.DB().Query(`SELECT uid, uidvalidity, state, reason, header_only, last_error, message_id, sha256, size FROM messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []row
	for r.Next() {
		var x row
		if err := r.Scan(&x.UID, &x.UIDValidity, &x.State, &x.Reason, &x.HeaderOnly, &x.LastError, &x.MessageID, &x.SHA256, &x.Size); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func count(t testing.TB, st *store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func hexsum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func syncOnce(t testing.TB, s *Syncer) int {
	t.Helper()
	n, err := s.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("SyncOnce: %v", err)
	}
	return n
}

// TestSync runs the same client cases against the in-memory server and Dovecot.
func TestSync(t *testing.T) {
	cases := []struct {
		name string
		opts []imaptest.Option
		run  func(t *testing.T, srv *imaptest.Server)
	}{
		{"fetch all, byte for byte", nil, func(t *testing.T, srv *imaptest.Server) {
			st := openStore(t, t.TempDir())
			msgs := imaptest.Corpus(25, 1)
			srv.AppendMany(t, "INBOX", msgs)
			var notified atomic.Int32
			s := NewSyncer(mailboxConfig(srv), st, WithNotify(func() { notified.Add(1) }))
			defer s.Close()
			if n := syncOnce(t, s); n != 25 {
				t.Fatalf("fetched %d, want 25", n)
			}
			got := rows(t, st)
			if len(got) != 25 {
				t.Fatalf("%d rows, want 25", len(got))
			}
			for i, r := range got {
				if r.UID != uint32(i+1) || r.State != "received" || r.SHA256 != hexsum(msgs[i]) || r.Size != int64(len(msgs[i])) {
					t.Errorf("row %d: %+v (want sha %s size %d)", i, r, hexsum(msgs[i]), len(msgs[i]))
				}
			}
			if notified.Load() == 0 {
				t.Error("notify not called")
			}
			if n := syncOnce(t, s); n != 0 {
				t.Errorf("second sync fetched %d, want 0", n)
			}
			// Nothing may have been marked \Seen or otherwise changed.
			for uid, flags := range srv.Messages(t, "INBOX") {
				if len(flags) != 0 {
					t.Errorf("uid %d has flags %v, want none", uid, flags)
				}
			}
		}},
		{"resume from last UID", nil, func(t *testing.T, srv *imaptest.Server) {
			dir := t.TempDir()
			st := openStore(t, dir)
			srv.AppendMany(t, "INBOX", imaptest.Corpus(10, 2))
			s1 := NewSyncer(mailboxConfig(srv), st)
			syncOnce(t, s1)
			s1.Close()
			srv.AppendMany(t, "INBOX", imaptest.Corpus(15, 3)[10:])
			s2 := NewSyncer(mailboxConfig(srv), st)
			defer s2.Close()
			if n := syncOnce(t, s2); n != 5 {
				t.Errorf("resumed sync fetched %d, want 5", n)
			}
			ms, _ := st.MailboxState(context.Background(), "support", "INBOX")
			if ms.LastUID != 15 {
				t.Errorf("last uid %d, want 15", ms.LastUID)
			}
			if n := len(rows(t, st)); n != 15 {
				t.Errorf("%d messages, want 15", n)
			}
		}},
		{"UIDVALIDITY change resyncs without duplicates", nil, func(t *testing.T, srv *imaptest.Server) {
			st := openStore(t, t.TempDir())
			msgs := imaptest.Corpus(7, 4)
			srv.AppendMany(t, "Support", msgs[:5])
			s := NewSyncer(mailboxConfig(srv, "Support"), st)
			defer s.Close()
			syncOnce(t, s)
			old := srv.UIDValidity(t, "Support")
			srv.ResetFolder(t, "Support")
			srv.AppendMany(t, "Support", msgs) // the same 5 again plus 2 new
			if n := syncOnce(t, s); n != 7 {
				t.Errorf("resync fetched %d, want 7", n)
			}
			if n := len(rows(t, st)); n != 7 {
				t.Errorf("%d messages, want 7 (no duplicates)", n)
			}
			ms, _ := st.MailboxState(context.Background(), "support", "Support")
			if ms.UIDValidity == old || ms.LastUID != 7 {
				t.Errorf("mailbox state %+v, old uidvalidity %d", ms, old)
			}
		}},
		{"after flag", nil, func(t *testing.T, srv *imaptest.Server) {
			testAck(t, srv, "flag")
		}},
		{"after move", nil, func(t *testing.T, srv *imaptest.Server) {
			testAck(t, srv, "move:Processed")
		}},
		{"after move without MOVE", []imaptest.Option{imaptest.WithoutMove()}, func(t *testing.T, srv *imaptest.Server) {
			testAck(t, srv, "move:Processed")
		}},
		{"too large keeps the header, skipped", nil, func(t *testing.T, srv *imaptest.Server) {
			st := openStore(t, t.TempDir())
			big := imaptest.LargeMessage("tl", 200<<10)
			srv.AppendMany(t, "INBOX", [][]byte{imaptest.Corpus(1, 5)[0], big, imaptest.Corpus(2, 6)[1]})
			cfg := mailboxConfig(srv)
			cfg.MaxMessageSize = 100 << 10
			s := NewSyncer(cfg, st)
			defer s.Close()
			if n := syncOnce(t, s); n != 3 {
				t.Fatalf("fetched %d, want 3", n)
			}
			r := rows(t, st)[1]
			if r.State != "skipped" || r.Reason != ReasonTooLarge || !r.HeaderOnly || r.Size != int64(len(big)) || r.MessageID != "large-tl@example.com" {
				t.Errorf("big message row %+v", r)
			}
			m, _ := st.Message(context.Background(), 2)
			raw, err := st.Raw(context.Background(), m.SHA256)
			if err != nil || len(raw) > 2000 || !strings.HasPrefix(string(raw), "From: Big Sender") {
				t.Errorf("kept %d bytes (%v), want the header only", len(raw), err)
			}
			if a, b := rows(t, st)[0].State, rows(t, st)[2].State; a != "received" || b != "received" {
				t.Errorf("neighbours %s, %s", a, b)
			}
		}},
		{"unparseable message recorded dead", nil, func(t *testing.T, srv *imaptest.Server) {
			st := openStore(t, t.TempDir())
			srv.AppendMany(t, "INBOX", [][]byte{[]byte("garbage without any header\r\nmore garbage\r\n\r\nbody\r\n"), imaptest.Corpus(1, 7)[0]})
			s := NewSyncer(mailboxConfig(srv), st)
			defer s.Close()
			syncOnce(t, s)
			r := rows(t, st)
			if len(r) != 2 || r[0].State != "dead" || r[0].Reason != ReasonParseError || r[0].LastError == "" || !strings.HasSuffix(r[0].MessageID, "@triage.invalid") {
				t.Fatalf("rows %+v", r)
			}
			if r[1].State != "received" {
				t.Errorf("next message %+v", r[1])
			}
		}},
		{"several folders", nil, func(t *testing.T, srv *imaptest.Server) {
			st := openStore(t, t.TempDir())
			srv.AppendMany(t, "INBOX", imaptest.Corpus(3, 8))
			srv.AppendMany(t, "Billing", imaptest.Corpus(4, 9))
			s := NewSyncer(mailboxConfig(srv, "INBOX", "Billing"), st)
			defer s.Close()
			if n := syncOnce(t, s); n != 7 {
				t.Errorf("fetched %d, want 7", n)
			}
			if n := count(t, st, `SELECT count(*) FROM message_locations WHERE folder='Billing'`); n != 4 {
				t.Errorf("Billing locations %d, want 4", n)
			}
		}},
	}
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, sv.start(t, c.opts...))
				})
			}
		})
	}
}

// testAck checks that committed messages are acknowledged, and that acks a
// crash left undone (committed, not acked) are done on the next sync.
func testAck(t *testing.T, srv *imaptest.Server, after string) {
	st := openStore(t, t.TempDir())
	srv.AppendMany(t, "INBOX", imaptest.Corpus(9, 10))
	// A syncer that never acks plays the process that crashed before acking.
	s0 := NewSyncer(mailboxConfig(srv), st)
	if n := syncOnce(t, s0); n != 9 {
		t.Fatalf("fetched %d", n)
	}
	s0.Close()
	srv.AppendMany(t, "INBOX", imaptest.Corpus(12, 11)[9:])
	cfg := mailboxConfig(srv)
	cfg.After = after
	s := NewSyncer(cfg, st)
	defer s.Close()
	if n := syncOnce(t, s); n != 3 {
		t.Fatalf("fetched %d, want 3", n)
	}
	if n := count(t, st, `SELECT count(*) FROM message_locations WHERE acked=0`); n != 0 {
		t.Errorf("%d locations not acked", n)
	}
	inbox := srv.Messages(t, "INBOX")
	switch after {
	case "flag":
		if len(inbox) != 12 {
			t.Errorf("INBOX has %d messages, want 12", len(inbox))
		}
		for uid, f := range inbox {
			if !imaptest.HasFlag(f, TriagedFlag) || imaptest.HasFlag(f, imap.FlagSeen) {
				t.Errorf("uid %d flags %v", uid, f)
			}
		}
	default:
		if len(inbox) != 0 {
			t.Errorf("INBOX still has %d messages", len(inbox))
		}
		if n := len(srv.Messages(t, "Processed")); n != 12 {
			t.Errorf("Processed has %d messages, want 12", n)
		}
	}
	if n := syncOnce(t, s); n != 0 {
		t.Errorf("sync after ack fetched %d", n)
	}
	if n := len(rows(t, st)); n != 12 {
		t.Errorf("%d messages recorded, want 12", n)
	}
}

func TestXOAUTH2(t *testing.T) {
	const token = "ya29.test-access-token"
	srv := imaptest.StartMemServer(t, imaptest.WithXOAUTH2(token))
	srv.AppendMany(t, "INBOX", imaptest.Corpus(2, 12))
	// A token endpoint that trades the refresh token for the access token.
	var refreshes atomic.Int32
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != "refresh-1" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		refreshes.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
	}))
	defer tokenSrv.Close()
	cfg := mailboxConfig(srv)
	cfg.Password = ""
	cfg.OAuth2 = &OAuth2Config{ClientID: "cid", ClientSecret: "csecret", RefreshToken: "refresh-1", TokenURL: tokenSrv.URL}
	if errs := cfg.Validate(); len(errs) != 0 {
		t.Fatalf("config: %v", errs)
	}
	st := openStore(t, t.TempDir())
	s := NewSyncer(cfg, st)
	defer s.Close()
	if n := syncOnce(t, s); n != 2 || refreshes.Load() != 1 {
		t.Errorf("fetched %d with %d token refreshes", n, refreshes.Load())
	}

	bad := NewSyncer(cfg, openStore(t, t.TempDir()), WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "wrong-token"})))
	defer bad.Close()
	_, err := bad.SyncOnce(context.Background())
	if err == nil {
		t.Fatal("a wrong token authenticated")
	}
	if strings.Contains(err.Error(), "wrong-token") || strings.Contains(err.Error(), "csecret") {
		t.Errorf("error leaks a secret: %v", err)
	}
}

func TestXOAUTH2ClientBytes(t *testing.T) {
	c := &xoauth2Client{user: "me@example.com", token: "T0k"}
	mech, ir, err := c.Start()
	if mech != "XOAUTH2" || string(ir) != "user=me@example.com\x01auth=Bearer T0k\x01\x01" || err != nil {
		t.Errorf("Start() = %q, %q, %v", mech, ir, err)
	}
	if resp, err := c.Next([]byte(`{"status":"401"}`)); err != nil || len(resp) != 0 {
		t.Errorf("first Next = %q, %v; want empty response", resp, err)
	}
	if _, err := c.Next(nil); err == nil {
		t.Error("second challenge accepted")
	}
}

// TestRunIdle: a message appended while Run idles is recorded, on both servers.
func TestRunIdle(t *testing.T) {
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			srv := sv.start(t)
			srv.AppendMany(t, "INBOX", imaptest.Corpus(3, 13))
			st := openStore(t, t.TempDir())
			woke := make(chan struct{}, 10)
			s := NewSyncer(mailboxConfig(srv), st, WithNotify(func() { woke <- struct{}{} }))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != context.Canceled {
					t.Errorf("Run returned %v, want context.Canceled", err)
				}
			}()
			// The syncer notifies once per committed group: wait for the
			// rows, then forget the notifications of the initial sync.
			waitFor(t, woke, 10*time.Second, "initial sync")
			waitRows(t, st, 3)
			time.Sleep(100 * time.Millisecond) // let it enter IDLE
			for len(woke) > 0 {
				<-woke
			}
			srv.Append(t, "INBOX", imaptest.Corpus(4, 13)[3])
			waitFor(t, woke, 10*time.Second, "message appended during IDLE")
			if n := len(rows(t, st)); n != 4 {
				t.Errorf("%d messages, want 4", n)
			}
		})
	}
}

// waitRows waits until n messages are recorded.
func waitRows(t *testing.T, st *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(rows(t, st)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages recorded after 10 s, want %d", len(rows(t, st)), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunPolls: without IDLE, Run polls every poll_interval.
func TestRunPolls(t *testing.T) {
	srv := imaptest.StartDovecot(t, imaptest.WithoutIdle())
	st := openStore(t, t.TempDir())
	woke := make(chan struct{}, 10)
	cfg := mailboxConfig(srv)
	cfg.PollInterval = 200 * time.Millisecond
	s := NewSyncer(cfg, st, WithNotify(func() { woke <- struct{}{} }))
	c := srv.Dial(t)
	if c.Caps().Has(imap.CapIdle) {
		t.Fatal("server still offers IDLE")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	srv.Append(t, "INBOX", imaptest.Corpus(1, 15)[0])
	waitFor(t, woke, 10*time.Second, "first message")
	srv.Append(t, "INBOX", imaptest.Corpus(2, 15)[1])
	waitFor(t, woke, 10*time.Second, "second message")
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v", err)
	}
	if n := len(rows(t, st)); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

// TestRunReconnects: the server drops every connection; Run reconnects and
// records mail that arrives afterwards.
func TestRunReconnects(t *testing.T) {
	srv := imaptest.StartMemServer(t)
	st := openStore(t, t.TempDir())
	woke := make(chan struct{}, 10)
	s := NewSyncer(mailboxConfig(srv), st, WithNotify(func() { woke <- struct{}{} }), WithLogger(testLogger(t)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	srv.Append(t, "INBOX", imaptest.Corpus(1, 14)[0])
	waitFor(t, woke, 10*time.Second, "first message")
	if n := srv.DropConnections(); n == 0 {
		t.Fatal("no connection to drop")
	}
	srv.Append(t, "INBOX", imaptest.Corpus(2, 14)[1])
	waitFor(t, woke, 10*time.Second, "message after reconnect")
	cancel()
	<-done
}

func waitFor(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// testLogger sends the syncer's log to t.Log (shown on failure or with -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
