package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// MemIMAP is go-imap's in-memory IMAP server on a loopback port: the built-in
// mail server of `triage demo`. Each user has an INBOX.
type MemIMAP struct {
	Addr  string
	srv   *imapserver.Server
	users map[string]*imapmemserver.User
}

// StartMemIMAP listens on addr (use "127.0.0.1:0" for a free port) with the
// given users (name → password). logw receives the server's own error log.
func StartMemIMAP(addr string, users map[string]string, logw *log.Logger) (*MemIMAP, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("demo imap: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		// The demo server speaks plain IMAP with plain passwords: loopback only.
		return nil, fmt.Errorf("demo imap: %q is not a loopback address", addr)
	}
	mem := imapmemserver.New()
	m := &MemIMAP{users: map[string]*imapmemserver.User{}}
	for name, pw := range users {
		u := imapmemserver.NewUser(name, pw)
		if err := u.Create("INBOX", nil); err != nil {
			return nil, err
		}
		mem.AddUser(u)
		m.users[name] = u
	}
	m.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{
			imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapIdle: {}, imap.CapMove: {},
			imap.CapUIDPlus: {}, imap.CapLiteralPlus: {},
		},
		InsecureAuth: true,
		Logger:       logw,
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo imap: listen: %w", err)
	}
	m.Addr = ln.Addr().String()
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// Append delivers a raw message into a user's INBOX, as an MTA would.
func (m *MemIMAP) Append(user string, raw []byte, at time.Time) error {
	u, ok := m.users[user]
	if !ok {
		return fmt.Errorf("demo imap: no user %q", user)
	}
	_, err := u.Append("INBOX", literal{bytes.NewReader(raw)}, &imap.AppendOptions{Time: at})
	return err
}

// Close stops the server.
func (m *MemIMAP) Close() error {
	err := m.srv.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }
