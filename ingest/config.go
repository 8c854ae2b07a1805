package ingest

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Defaults of MailboxConfig.
const (
	DefaultPollInterval   = 60 * time.Second
	DefaultBatchSize      = 500
	DefaultMaxMessageSize = 35 << 20 // Salesforce's email size limit
	DefaultIdleRefresh    = 25 * time.Minute
	// maxIdleRefresh: RFC 2177 servers may drop an IDLE after 30 minutes.
	maxIdleRefresh = 29 * time.Minute
)

// TLS modes.
const (
	TLSImplicit = "tls"
	TLSStartTLS = "starttls"
	TLSNone     = "none"
)

// MailboxConfig is one entry of the `mailboxes` list.
type MailboxConfig struct {
	Name     string        `yaml:"name"`
	Address  string        `yaml:"address"` // host:port
	TLS      string        `yaml:"tls"`     // tls | starttls | none
	Insecure bool          `yaml:"insecure"`
	Username string        `yaml:"username"`
	Password string        `yaml:"password"`
	OAuth2   *OAuth2Config `yaml:"oauth2"`
	Folders  []string      `yaml:"folders"`
	// PollInterval is used when the server lacks IDLE.
	PollInterval time.Duration `yaml:"poll_interval"`
	// After is what to do on the server once a message is committed:
	// none, flag (keyword $Triaged) or move:FOLDER.
	After          string        `yaml:"after"`
	BatchSize      int           `yaml:"batch_size"`
	MaxMessageSize int64         `yaml:"max_message_size"`
	IdleRefresh    time.Duration `yaml:"idle_refresh"`
}

// OAuth2Config obtains XOAUTH2 access tokens with a refresh token.
type OAuth2Config struct {
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	RefreshToken string   `yaml:"refresh_token"`
	TokenURL     string   `yaml:"token_url"`
	Scopes       []string `yaml:"scopes"`
}

// SetDefaults fills unset fields.
func (c *MailboxConfig) SetDefaults() {
	if c.TLS == "" {
		c.TLS = TLSImplicit
	}
	if len(c.Folders) == 0 {
		c.Folders = []string{"INBOX"}
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.After == "" {
		c.After = "none"
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.IdleRefresh == 0 {
		c.IdleRefresh = DefaultIdleRefresh
	}
}

// Validate reports every problem, each prefixed with its key path.
func (c *MailboxConfig) Validate() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(c.Name) == "" {
		add("name: must not be empty")
	}
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil || host == "" || port == "" {
		add("address: must be host:port")
	}
	switch c.TLS {
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		if err == nil && !c.Insecure && !isLoopback(host) {
			add("tls: none is only allowed for loopback addresses unless insecure: true")
		}
	default:
		add("tls: must be one of tls, starttls, none")
	}
	if c.Username == "" {
		add("username: must not be empty")
	}
	if c.OAuth2 != nil {
		if c.Password != "" {
			add("password: must be empty when oauth2 is set")
		}
		if c.OAuth2.ClientID == "" {
			add("oauth2.client_id: must not be empty")
		}
		if c.OAuth2.RefreshToken == "" {
			add("oauth2.refresh_token: must not be empty")
		}
		if !strings.HasPrefix(c.OAuth2.TokenURL, "https://") && !strings.HasPrefix(c.OAuth2.TokenURL, "http://") {
			add("oauth2.token_url: must be an http(s) URL")
		}
	} else if c.Password == "" {
		add("password: must not be empty (or configure oauth2)")
	}
	if len(c.Folders) == 0 {
		add("folders: must list at least one folder")
	}
	seen := map[string]bool{}
	for i, f := range c.Folders {
		if strings.TrimSpace(f) == "" {
			add("folders[%d]: must not be empty", i)
		}
		if seen[f] {
			add("folders[%d]: %q is listed twice", i, f)
		}
		seen[f] = true
	}
	if c.PollInterval < time.Second {
		add("poll_interval: must be at least 1s")
	}
	if kind, folder := c.afterAction(); kind == "" {
		add("after: must be one of none, flag, move:FOLDER")
	} else if kind == "move" && seen[folder] {
		add("after: move target %q is also a synced folder", folder)
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		add("batch_size: must be between 1 and 10000")
	}
	if c.MaxMessageSize < 1024 {
		add("max_message_size: must be at least 1024 bytes")
	}
	if c.IdleRefresh <= 0 || c.IdleRefresh >= maxIdleRefresh {
		add("idle_refresh: must be positive and below 29m")
	}
	return errs
}

// afterAction splits After into "none", "flag" or "move" plus the folder;
// kind is "" when After is invalid.
func (c *MailboxConfig) afterAction() (kind, folder string) {
	switch {
	case c.After == "none" || c.After == "":
		return "none", ""
	case c.After == "flag":
		return "flag", ""
	case strings.HasPrefix(c.After, "move:") && strings.TrimSpace(c.After[len("move:"):]) != "":
		return "move", strings.TrimSpace(c.After[len("move:"):])
	}
	return "", ""
}

// LogValue keeps secrets out of logs: only non-secret fields are shown.
func (c MailboxConfig) LogValue() slog.Value {
	auth := "password"
	if c.OAuth2 != nil {
		auth = "oauth2"
	}
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("address", c.Address),
		slog.String("tls", c.TLS),
		slog.String("username", c.Username),
		slog.String("auth", auth),
		slog.Any("folders", c.Folders),
		slog.String("after", c.After),
	)
}

// String is LogValue for %v and %s, so a config printed by mistake shows no secret.
func (c MailboxConfig) String() string { return c.LogValue().String() }

// GoString hides secrets from %#v as well.
func (c MailboxConfig) GoString() string { return c.String() }

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LogValue shows only the client id and token URL: the secret and refresh token never.
func (o OAuth2Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", o.ClientID), slog.String("token_url", o.TokenURL))
}

// String hides secrets from fmt.
func (o OAuth2Config) String() string { return o.LogValue().String() }

// GoString hides secrets from %#v.
func (o OAuth2Config) GoString() string { return o.String() }
