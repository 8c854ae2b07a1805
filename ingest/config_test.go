package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/triage-dev/triage/ingest/imaptest"
)

func validConfig() MailboxConfig {
	return MailboxConfig{Name: "support", Address: "imap.example.com:993", Username: "u", Password: "hunter2"}
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig()
	c.SetDefaults()
	if c.TLS != "tls" || len(c.Folders) != 1 || c.Folders[0] != "INBOX" || c.PollInterval != time.Minute ||
		c.After != "none" || c.BatchSize != 500 || c.MaxMessageSize != 35<<20 || c.IdleRefresh != 25*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Errorf("valid config rejected: %v", errs)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*MailboxConfig)
		want   string // prefix of one error; "" for valid
	}{
		{"valid", func(*MailboxConfig) {}, ""},
		{"no name", func(c *MailboxConfig) { c.Name = "" }, "name: "},
		{"bad address", func(c *MailboxConfig) { c.Address = "imap.example.com" }, "address: "},
		{"bad tls", func(c *MailboxConfig) { c.TLS = "ssl" }, "tls: must be one of tls, starttls, none"},
		{"plain to remote", func(c *MailboxConfig) { c.TLS = "none" }, "tls: none is only allowed"},
		{"plain to remote, insecure", func(c *MailboxConfig) { c.TLS = "none"; c.Insecure = true }, ""},
		{"plain to loopback", func(c *MailboxConfig) { c.TLS = "none"; c.Address = "127.0.0.1:143" }, ""},
		{"plain to localhost", func(c *MailboxConfig) { c.TLS = "none"; c.Address = "localhost:143" }, ""},
		{"plain to ::1", func(c *MailboxConfig) { c.TLS = "none"; c.Address = "[::1]:143" }, ""},
		{"no username", func(c *MailboxConfig) { c.Username = "" }, "username: "},
		{"no password", func(c *MailboxConfig) { c.Password = "" }, "password: "},
		{"oauth2 and password", func(c *MailboxConfig) {
			c.OAuth2 = &OAuth2Config{ClientID: "c", RefreshToken: "r", TokenURL: "https://t"}
		}, "password: must be empty"},
		{"oauth2 incomplete", func(c *MailboxConfig) { c.Password = ""; c.OAuth2 = &OAuth2Config{TokenURL: "ftp://x"} }, "oauth2.client_id: "},
		{"oauth2 token url", func(c *MailboxConfig) {
			c.Password = ""
			c.OAuth2 = &OAuth2Config{ClientID: "c", RefreshToken: "r", TokenURL: "nope"}
		}, "oauth2.token_url: "},
		{"oauth2 ok", func(c *MailboxConfig) {
			c.Password = ""
			c.OAuth2 = &OAuth2Config{ClientID: "c", RefreshToken: "r", TokenURL: "https://oauth2.googleapis.com/token"}
		}, ""},
		{"duplicate folder", func(c *MailboxConfig) { c.Folders = []string{"INBOX", "INBOX"} }, "folders[1]: "},
		{"empty folder", func(c *MailboxConfig) { c.Folders = []string{" "} }, "folders[0]: "},
		{"poll too fast", func(c *MailboxConfig) { c.PollInterval = time.Millisecond }, "poll_interval: "},
		{"bad after", func(c *MailboxConfig) { c.After = "delete" }, "after: must be one of none, flag, move:FOLDER"},
		{"move without folder", func(c *MailboxConfig) { c.After = "move:" }, "after: "},
		{"move into synced folder", func(c *MailboxConfig) { c.After = "move:INBOX" }, "after: move target"},
		{"move ok", func(c *MailboxConfig) { c.After = "move:Done" }, ""},
		{"flag ok", func(c *MailboxConfig) { c.After = "flag" }, ""},
		{"batch size", func(c *MailboxConfig) { c.BatchSize = -1 }, "batch_size: "},
		{"max size", func(c *MailboxConfig) { c.MaxMessageSize = 10 }, "max_message_size: "},
		{"idle refresh too long", func(c *MailboxConfig) { c.IdleRefresh = 29 * time.Minute }, "idle_refresh: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.SetDefaults()
			tc.mutate(&c)
			errs := c.Validate()
			if tc.want == "" {
				if len(errs) != 0 {
					t.Errorf("unexpected errors: %v", errs)
				}
				return
			}
			found := false
			for _, e := range errs {
				if strings.HasPrefix(e.Error(), tc.want) {
					found = true
				}
				if strings.Contains(e.Error(), "hunter2") {
					t.Errorf("error leaks the password: %v", e)
				}
			}
			if !found {
				t.Errorf("errors %v: none starts with %q", errs, tc.want)
			}
		})
	}
}

func TestConfigSecretsNotLogged(t *testing.T) {
	c := validConfig()
	c.OAuth2 = &OAuth2Config{ClientID: "cid", ClientSecret: "s3cret", RefreshToken: "r3fresh", TokenURL: "https://t"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "mailbox", c, "oauth", c.OAuth2, "oauth_value", *c.OAuth2)
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s", c, c, c, c)
	for _, secret := range []string{"hunter2", "s3cret", "r3fresh"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q printed: %s", secret, out)
		}
	}
	if !strings.Contains(out, "imap.example.com:993") {
		t.Errorf("address missing from log: %s", out)
	}
}

// TestTLSModes connects with implicit TLS and STARTTLS; an untrusted
// certificate and plain text to a non-loopback host are refused.
func TestTLSModes(t *testing.T) {
	for _, mode := range []string{imaptest.TLSImplicit, imaptest.TLSStartTLS} {
		t.Run(mode, func(t *testing.T) {
			srv := imaptest.StartMemServer(t, imaptest.WithTLS(mode))
			srv.AppendMany(t, "INBOX", imaptest.Corpus(2, 20))
			cfg := mailboxConfig(srv)
			cfg.TLS = mode
			s := NewSyncer(cfg, openStore(t, t.TempDir()), WithTLSConfig(srv.ClientTLS))
			defer s.Close()
			if n := syncOnce(t, s); n != 2 {
				t.Errorf("fetched %d, want 2", n)
			}
			untrusted := NewSyncer(cfg, openStore(t, t.TempDir()))
			defer untrusted.Close()
			if _, err := untrusted.SyncOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("untrusted certificate: err = %v", err)
			}
		})
	}
	cfg := validConfig()
	cfg.SetDefaults()
	cfg.TLS = TLSNone
	s := NewSyncer(cfg, openStore(t, t.TempDir()))
	if _, err := s.SyncOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "refusing a plain-text connection") {
		t.Errorf("plain text to a remote host: err = %v", err)
	}
}
