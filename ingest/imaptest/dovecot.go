package imaptest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DovecotPath is where Debian's dovecot-imapd installs the server.
const DovecotPath = "/usr/sbin/dovecot"

// StartDovecot starts a private Dovecot on a free loopback port with a
// temporary config, Maildir and passwd-file, and stops it on t.Cleanup. It
// skips the test when Dovecot is not installed, unless the CI environment
// variable is set, where a missing Dovecot is a failure.
func StartDovecot(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, stop, err := LaunchDovecot("", opts...)
	if errors.Is(err, exec.ErrNotFound) {
		if os.Getenv("CI") != "" {
			t.Fatalf("imaptest: %v", err)
		}
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	return s
}

func greeted(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "* OK")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type identity struct {
	loginUser, internalUser, internalGroup string // "" keeps Dovecot's defaults
	mailUID, mailGID                       int
}

// dovecotIdentity picks the users Dovecot runs as. Unprivileged, everything runs
// as the current user. As root, Dovecot insists that imap-login is not root and
// refuses uid 0 for mail, so the Debian users dovenull/dovecot serve login and
// "nobody" owns the mail.
func dovecotIdentity() (identity, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return identity{}, err
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return identity{}, err
		}
		return identity{loginUser: u.Username, internalUser: u.Username, internalGroup: g.Name,
			mailUID: os.Getuid(), mailGID: os.Getgid()}, nil
	}
	id := identity{mailUID: 65534, mailGID: 65534}
	if u, err := user.Lookup("nobody"); err == nil {
		id.mailUID, _ = strconv.Atoi(u.Uid)
		id.mailGID, _ = strconv.Atoi(u.Gid)
	}
	return id, nil
}

func dovecotConfig(dir string, port int, ids identity, o options) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("base_dir = %s/run", dir)
	p("state_dir = %s/state", dir)
	p("log_path = %s/dovecot.log", dir)
	p("protocols = imap")
	p("listen = 127.0.0.1")
	p("ssl = no")
	p("disable_plaintext_auth = no")
	p("auth_mechanisms = plain login")
	if ids.loginUser != "" {
		p("default_login_user = %s", ids.loginUser)
		p("default_internal_user = %s", ids.internalUser)
		p("default_internal_group = %s", ids.internalGroup)
	}
	p("first_valid_uid = %d", ids.mailUID)
	p("first_valid_gid = %d", ids.mailGID)
	p("mail_location = maildir:~/Maildir")
	p("mail_fsync = never") // tests, not durability: the store fsyncs what matters
	p("maildir_very_dirty_syncs = yes")
	if o.noMove || o.noIdle {
		// An explicit list replaces the default one, which includes MOVE and IDLE.
		caps := []string{"IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "SORT", "UNSELECT", "CHILDREN", "NAMESPACE", "UIDPLUS", "LIST-EXTENDED", "LITERAL+"}
		if !o.noIdle {
			caps = append(caps, "IDLE")
		}
		if !o.noMove {
			caps = append(caps, "MOVE")
		}
		p("imap_capability = %s", strings.Join(caps, " "))
	}
	p("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s/passwd\n}", dir)
	p("userdb {\n  driver = passwd-file\n  args = username_format=%%u %s/passwd\n}", dir)
	p("service imap-login {\n  chroot =\n  inet_listener imap {\n    address = 127.0.0.1\n    port = %d\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}", port)
	p("service anvil {\n  chroot =\n}")
	p("service imap {\n  process_limit = 200\n}")
	p("protocol imap {\n  mail_max_userip_connections = 1000\n}")
	return b.String()
}
