package imaptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The Launch* functions are the testing-free variants of StartMemServer and
// StartDovecot, for programs (`triage bench`) that run outside `go test`:
// they return an error instead of failing a test and a stop function instead
// of registering a cleanup. TLS is not offered (loopback benchmarks only).

// LaunchMemServer starts go-imap's in-memory server on a loopback port with
// one user and an INBOX. stop closes it.
func LaunchMemServer(opts ...Option) (s *Server, stop func() error, err error) {
	o := buildOptions(opts)
	if o.tlsMode != "" {
		return nil, nil, errors.New("imaptest: LaunchMemServer does not offer TLS")
	}
	return launchMem(o)
}

// LaunchDovecot starts a private Dovecot as StartDovecot does. dir holds its
// config, sockets and Maildir; "" makes a temporary directory that stop
// removes (keep dir short: Dovecot's unix sockets live under it and paths are
// limited to 108 bytes). It returns an error wrapping exec.ErrNotFound when
// Dovecot is not installed.
func LaunchDovecot(dir string, opts ...Option) (s *Server, stop func() error, err error) {
	bin := DovecotPath
	if _, err := os.Stat(bin); err != nil {
		p, lerr := exec.LookPath("dovecot")
		if lerr != nil {
			return nil, nil, fmt.Errorf("imaptest: dovecot not installed (apt-get install dovecot-imapd): %w", lerr)
		}
		bin = p
	}
	o := buildOptions(opts)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken between probe and bind
		s, stop, err := launchDovecot(dir, bin, o)
		if err == nil {
			return s, stop, nil
		}
		lastErr = err
	}
	return nil, nil, fmt.Errorf("imaptest: start dovecot: %w", lastErr)
}

func launchDovecot(dir, bin string, o options) (*Server, func() error, error) {
	removeDir := false
	if dir == "" {
		d, err := os.MkdirTemp("", "dovecot-")
		if err != nil {
			return nil, nil, err
		}
		dir, removeDir = d, true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		if removeDir {
			_ = os.RemoveAll(dir)
		}
	}
	fail := func(err error) (*Server, func() error, error) {
		cleanup()
		return nil, nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // imap-login runs unprivileged and must reach the sockets
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	ids, err := dovecotIdentity()
	if err != nil {
		return fail(err)
	}
	mailDir := filepath.Join(dir, "mail")
	for _, d := range []string{mailDir, filepath.Join(dir, "run"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(mailDir, ids.mailUID, ids.mailGID); err != nil {
			return fail(err)
		}
	}
	passwd := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", o.username, o.password, ids.mailUID, ids.mailGID, filepath.Join(mailDir, o.username))
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd), 0o644); err != nil {
		return fail(err)
	}
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(dovecotConfig(dir, port, ids, o)), 0o644); err != nil {
		return fail(err)
	}
	logPath := filepath.Join(dir, "dovecot.log")
	cmd := exec.Command(bin, "-F", "-c", confPath)
	cmd.Dir = dir
	// Own process group: stop takes the master's children down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("exec %s: %w", bin, err))
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	logs := func() string {
		b, _ := os.ReadFile(logPath)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return string(b)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for !greeted(addr) {
		select {
		case err := <-exited:
			exited <- err
			l := logs()
			cleanup()
			return nil, nil, fmt.Errorf("dovecot exited: %v\n%s", err, l)
		default:
		}
		if time.Now().After(deadline) {
			kill()
			l := logs()
			cleanup()
			return nil, nil, fmt.Errorf("dovecot did not answer on %s\n%s", addr, l)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop := func() error {
		kill()
		cleanup()
		return nil
	}
	return &Server{Kind: "dovecot", Addr: addr, Username: o.username, Password: o.password, logs: logs}, stop, nil
}

// Connect opens a logged-in plain-text client connection (the caller closes it).
func (s *Server) Connect() (*imapclient.Client, error) {
	if s.ClientTLS != nil {
		return nil, errors.New("imaptest: Connect does not speak TLS")
	}
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		return nil, fmt.Errorf("imaptest: dial %s: %w%s", s.Addr, err, s.logTail())
	}
	if err := c.Login(s.Username, s.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imaptest: login: %w%s", err, s.logTail())
	}
	return c, nil
}

// Load appends the messages next yields (nil ends) to folder, created if
// missing, pipelining the APPENDs over one connection. at gives each
// message's internal date. It returns how many were appended.
func (s *Server) Load(ctx context.Context, folder string, next func() []byte, at func(i int) time.Time) (int, error) {
	c, err := s.Connect()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if !strings.EqualFold(folder, "INBOX") {
		if err := c.Create(folder, nil).Wait(); err != nil {
			var ie *imap.Error
			if !errors.As(err, &ie) || (ie.Code != imap.ResponseCodeAlreadyExists && !strings.Contains(strings.ToLower(ie.Text), "exists")) {
				return 0, fmt.Errorf("imaptest: create %s: %w", folder, err)
			}
		}
	}
	const window = 64 // APPENDs in flight
	var inflight []*imapclient.AppendCommand
	n := 0
	wait := func(cmd *imapclient.AppendCommand) error {
		if _, err := cmd.Wait(); err != nil {
			return fmt.Errorf("imaptest: append to %s: %w%s", folder, err, s.logTail())
		}
		return nil
	}
	for raw := next(); raw != nil; raw = next() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if len(inflight) == window {
			if err := wait(inflight[0]); err != nil {
				return n, err
			}
			inflight = inflight[1:]
		}
		cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Time: at(n)})
		if _, err := cmd.Write(raw); err != nil {
			return n, fmt.Errorf("imaptest: append: %w", err)
		}
		if err := cmd.Close(); err != nil {
			return n, fmt.Errorf("imaptest: append: %w", err)
		}
		inflight = append(inflight, cmd)
		n++
	}
	for _, cmd := range inflight {
		if err := wait(cmd); err != nil {
			return n, err
		}
	}
	return n, c.Logout().Wait()
}
