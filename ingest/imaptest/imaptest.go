// Package imaptest starts throw-away IMAP servers for tests and benchmarks:
// go-imap's in-memory server in-process, or a real Dovecot as an unprivileged
// child process. Both listen on loopback and are removed by t.Cleanup.
package imaptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// Server is a running test IMAP server with one user.
type Server struct {
	Kind     string // "memserver" or "dovecot"
	Addr     string // host:port on loopback
	Username string
	Password string

	mu        sync.Mutex
	listener  net.Listener // memserver only
	accepted  []net.Conn   // memserver only: open connections, for DropConnections
	memServer *imapserver.Server
	tlsMode   string
	logs      func() string // dovecot only: its log, for failure messages
	// ClientTLS trusts the server's certificate (WithTLS only).
	ClientTLS *tls.Config
}

// Option configures a server.
type Option func(*options)

type options struct {
	noMove      bool
	noIdle      bool
	oauthToken  string
	username    string
	password    string
	debugWriter io.Writer
	tlsMode     string
	reverse     bool
}

// WithoutMove hides the MOVE capability so clients must fall back to
// COPY + STORE \Deleted + EXPUNGE.
func WithoutMove() Option { return func(o *options) { o.noMove = true } }

// WithoutIdle hides the IDLE capability so clients must poll (Dovecot only:
// go-imap's server always offers IDLE).
func WithoutIdle() Option { return func(o *options) { o.noIdle = true } }

// WithXOAUTH2 makes the memserver accept SASL XOAUTH2 with this bearer token
// (in addition to PLAIN and LOGIN). Dovecot ignores it.
func WithXOAUTH2(token string) Option { return func(o *options) { o.oauthToken = token } }

// WithUser sets the user's credentials (default "triage" / "test-password").
func WithUser(username, password string) Option {
	return func(o *options) { o.username, o.password = username, password }
}

// WithReversedFetch makes the memserver answer a FETCH of listed UIDs in
// descending UID order, which IMAP allows (servers use ascending order in
// practice), so clients cannot rely on the order.
func WithReversedFetch() Option { return func(o *options) { o.reverse = true } }

// WithDebug copies the server side of the protocol to w (memserver only).
func WithDebug(w io.Writer) Option { return func(o *options) { o.debugWriter = w } }

func buildOptions(opts []Option) options {
	o := options{username: "triage", password: "test-password"}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// StartMemServer starts go-imap's in-memory server on a loopback port with an
// INBOX. IDLE works: appends through any connection wake idling clients.
func StartMemServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, stop, err := launchMem(buildOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	return s
}

// launchMem starts the memserver; TLS modes get a fresh self-signed certificate.
func launchMem(o options) (*Server, func() error, error) {
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(o.username, o.password)
	if err := user.Create("INBOX", nil); err != nil {
		return nil, nil, fmt.Errorf("imaptest: create INBOX: %w", err)
	}
	mem.AddUser(user)
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	if o.noMove {
		// IMAP4rev2 implies MOVE, so advertise rev1 plus what the client needs.
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapNamespace: {}}
	}
	var serverTLS, clientTLS, starttls *tls.Config
	if o.tlsMode != "" {
		var err error
		if serverTLS, clientTLS, err = selfSigned(); err != nil {
			return nil, nil, err
		}
	}
	if o.tlsMode == TLSStartTLS {
		starttls = serverTLS
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &memSession{server: mem, user: user, username: o.username, password: o.password, token: o.oauthToken,
				reverse: o.reverse}, nil, nil
		},
		Caps:         caps,
		InsecureAuth: o.tlsMode == "", // with STARTTLS, no authentication before it
		TLSConfig:    starttls,
		DebugWriter:  o.debugWriter,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("imaptest: listen: %w", err)
	}
	if o.tlsMode == TLSImplicit {
		ln = tls.NewListener(ln, serverTLS)
	}
	s := &Server{Kind: "memserver", Addr: ln.Addr().String(), Username: o.username, Password: o.password, memServer: srv, ClientTLS: clientTLS, tlsMode: o.tlsMode}
	s.listener = &trackingListener{Listener: ln, s: s}
	go func() { _ = srv.Serve(s.listener) }()
	stop := func() error {
		if err := srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
	return s, stop, nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// trackingListener remembers accepted connections so a test can cut them.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.accepted = append(l.s.accepted, c)
		l.s.mu.Unlock()
	}
	return c, err
}

// DropConnections closes every client connection the memserver accepted so far
// (the server keeps running). Dovecot: not supported.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.accepted)
	for _, c := range s.accepted {
		_ = c.Close()
	}
	s.accepted = nil
	return n
}

// memSession adds SASL XOAUTH2 (and, when asked, reversed FETCH answers) to
// the memserver's session.
type memSession struct {
	*imapmemserver.UserSession
	server             *imapmemserver.Server
	user               *imapmemserver.User
	username, password string
	token              string
	reverse            bool
}

func (s *memSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	uids, ok := numSet.(imap.UIDSet)
	var nums []imap.UID
	if ok && s.reverse {
		nums, ok = uids.Nums() // false for ranges ending in "*"
	}
	if !ok || !s.reverse {
		return s.UserSession.Fetch(w, numSet, options)
	}
	for i := len(nums) - 1; i >= 0; i-- {
		if err := s.UserSession.Fetch(w, imap.UIDSetNum(nums[i]), options); err != nil {
			return err
		}
	}
	return nil
}

func (s *memSession) Close() error {
	if s.UserSession == nil {
		return nil
	}
	return s.UserSession.Close()
}

func (s *memSession) Login(username, password string) error {
	if err := s.user.Login(username, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.user)
	return nil
}

// Idle works around go-imap's SessionTracker.Idle, which only reports updates
// queued after IDLE began: mail appended between the client's last command
// and IDLE would wait for the next command. Re-polling every 50 ms delivers it.
func (s *memSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for {
		if err := s.UserSession.Poll(w, true); err != nil {
			return err
		}
		sub := make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- s.UserSession.Idle(w, sub) }()
		select {
		case <-stop:
			close(sub)
			return <-done
		case err := <-done:
			return err
		case <-time.After(50 * time.Millisecond):
			close(sub)
			if err := <-done; err != nil {
				return err
			}
		}
	}
}

func (s *memSession) AuthenticateMechanisms() []string {
	if s.token != "" {
		return []string{"PLAIN", "XOAUTH2"}
	}
	return []string{"PLAIN"}
}

func (s *memSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return imapserver.ErrAuthFailed
			}
			return s.Login(username, password)
		}), nil
	case "XOAUTH2":
		if s.token != "" {
			return &xoauth2Server{sess: s}, nil
		}
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}

// xoauth2Server checks "user=U\x01auth=Bearer T\x01\x01" as Gmail does.
type xoauth2Server struct {
	sess *memSession
	done bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.done {
		return nil, false, errors.New("xoauth2: unexpected response")
	}
	if resp == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	x.done = true
	var user, auth string
	for _, kv := range bytes.Split(resp, []byte{1}) {
		k, v, _ := strings.Cut(string(kv), "=")
		switch k {
		case "user":
			user = v
		case "auth":
			auth = v
		}
	}
	if user != x.sess.username || auth != "Bearer "+x.sess.token || !bytes.HasSuffix(resp, []byte{1, 1}) {
		return nil, false, imapserver.ErrAuthFailed
	}
	x.sess.UserSession = imapmemserver.NewUserSession(x.sess.user)
	return nil, true, nil
}

// Dial opens a logged-in client connection; it is closed on t.Cleanup.
func (s *Server) Dial(t testing.TB) *imapclient.Client {
	t.Helper()
	var c *imapclient.Client
	var err error
	switch {
	case s.ClientTLS == nil:
		c, err = imapclient.DialInsecure(s.Addr, nil)
	case s.tlsMode == TLSImplicit:
		c, err = imapclient.DialTLS(s.Addr, &imapclient.Options{TLSConfig: s.ClientTLS})
	default:
		c, err = imapclient.DialStartTLS(s.Addr, &imapclient.Options{TLSConfig: s.ClientTLS})
	}
	if err != nil {
		t.Fatalf("imaptest: dial %s: %v%s", s.Addr, err, s.logTail())
	}
	if err := c.Login(s.Username, s.Password).Wait(); err != nil {
		c.Close()
		t.Fatalf("imaptest: login: %v%s", err, s.logTail())
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) logTail() string {
	if s.logs == nil {
		return ""
	}
	return "\ndovecot log:\n" + s.logs()
}

// CreateFolder creates a folder; an existing one is fine.
func (s *Server) CreateFolder(t testing.TB, folder string) {
	t.Helper()
	c := s.Dial(t)
	defer c.Logout()
	createFolder(t, c, folder)
}

func createFolder(t testing.TB, c *imapclient.Client, folder string) {
	t.Helper()
	if strings.EqualFold(folder, "INBOX") {
		return
	}
	if err := c.Create(folder, nil).Wait(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && (ie.Code == imap.ResponseCodeAlreadyExists || strings.Contains(strings.ToLower(ie.Text), "exists")) {
			return
		}
		t.Fatalf("imaptest: create %s: %v", folder, err)
	}
}

// Append adds one message to folder (created if missing) and returns its UID.
func (s *Server) Append(t testing.TB, folder string, raw []byte) uint32 {
	t.Helper()
	uids := s.AppendMany(t, folder, [][]byte{raw})
	return uids[0]
}

// AppendMany adds messages in order, pipelining the APPENDs; it returns their
// UIDs (0 when the server reports none).
func (s *Server) AppendMany(t testing.TB, folder string, raws [][]byte) []uint32 {
	t.Helper()
	c := s.Dial(t)
	defer c.Logout()
	createFolder(t, c, folder)
	const window = 64 // APPENDs in flight
	uids := make([]uint32, len(raws))
	cmds := make([]*imapclient.AppendCommand, len(raws))
	wait := func(i int) {
		data, err := cmds[i].Wait()
		if err != nil {
			t.Fatalf("imaptest: append %d to %s: %v%s", i, folder, err, s.logTail())
		}
		uids[i] = uint32(data.UID)
	}
	for i, raw := range raws {
		if i >= window {
			wait(i - window)
		}
		cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Time: time.Unix(1_780_000_000+int64(i), 0)})
		if _, err := cmd.Write(raw); err != nil {
			t.Fatalf("imaptest: append %d: %v", i, err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("imaptest: append %d: %v", i, err)
		}
		cmds[i] = cmd
	}
	for i := max(0, len(raws)-window); i < len(raws); i++ {
		wait(i)
	}
	return uids
}

// ResetFolder deletes and re-creates a folder, which gives it a new
// UIDVALIDITY and makes it empty. INBOX cannot be reset.
func (s *Server) ResetFolder(t testing.TB, folder string) {
	t.Helper()
	c := s.Dial(t)
	defer c.Logout()
	if err := c.Delete(folder).Wait(); err != nil {
		t.Fatalf("imaptest: delete %s: %v", folder, err)
	}
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatalf("imaptest: create %s: %v", folder, err)
	}
}

// UIDValidity returns a folder's UIDVALIDITY.
func (s *Server) UIDValidity(t testing.TB, folder string) uint32 {
	t.Helper()
	c := s.Dial(t)
	defer c.Logout()
	st, err := c.Status(folder, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatalf("imaptest: status %s: %v", folder, err)
	}
	return st.UIDValidity
}

// Messages lists a folder's messages: UID → flags.
func (s *Server) Messages(t testing.TB, folder string) map[uint32][]imap.Flag {
	t.Helper()
	c := s.Dial(t)
	defer c.Logout()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("imaptest: select %s: %v", folder, err)
	}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatalf("imaptest: fetch flags %s: %v", folder, err)
	}
	out := make(map[uint32][]imap.Flag, len(msgs))
	for _, m := range msgs {
		out[uint32(m.UID)] = m.Flags
	}
	return out
}

// HasFlag reports whether flags contains f (case-insensitively, as IMAP compares).
func HasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}

// String names the server for subtests.
func (s *Server) String() string { return fmt.Sprintf("%s@%s", s.Kind, s.Addr) }
