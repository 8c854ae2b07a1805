package salesforce

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults. DefaultAPIVersion is Winter '25; any version from 46.0 on gives
// upsert's 200 created:false answer, older ones answer 204 (both handled).
const (
	DefaultLoginURL         = "https://login.salesforce.com"
	DefaultAPIVersion       = "62.0"
	DefaultTimeout          = 30 * time.Second
	DefaultNonCriticalShare = 0.80
	DefaultCriticalShare    = 0.95
)

// Auth flows accepted in AuthConfig.Flow.
const (
	FlowJWT               = "jwt"
	FlowClientCredentials = "client_credentials"
	FlowRefreshToken      = "refresh_token"
)

// DefaultScopes is the scope profile the connected app should grant.
var defaultScopes = []string{"api", "refresh_token", "offline_access"}

// Config is the `salesforce:` section of the triage configuration.
type Config struct {
	// LoginURL is the OAuth host: https://login.salesforce.com,
	// https://test.salesforce.com, a My Domain URL, or the emulator's
	// http://127.0.0.1:PORT (plain http only for loopback hosts).
	LoginURL   string         `yaml:"login_url"`
	APIVersion string         `yaml:"api_version"`
	Auth       AuthConfig     `yaml:"auth"`
	Timeout    time.Duration  `yaml:"timeout"`
	Governor   GovernorConfig `yaml:"governor"`
	// AutoAssign, when set, is sent as Sforce-Auto-Assign on every write
	// (TRUE/FALSE). Unset means "send nothing" (Salesforce applies active
	// assignment rules). Per-call options override it.
	AutoAssign *bool `yaml:"auto_assign"`
	// AllowDuplicateSave sends Sforce-Duplicate-Rule-Header: allowSave=true
	// on every write, saving records that duplicate rules set to "Allow"
	// would otherwise block with DUPLICATES_DETECTED.
	AllowDuplicateSave bool `yaml:"allow_duplicate_save"`
}

// AuthConfig selects and parameterises the OAuth 2.0 flow.
type AuthConfig struct {
	Flow           string `yaml:"flow"`
	ClientID       string `yaml:"client_id"`
	ClientSecret   string `yaml:"client_secret"`
	Username       string `yaml:"username"`
	PrivateKeyFile string `yaml:"private_key_file"`
	RefreshToken   string `yaml:"refresh_token"`
	// RefreshTokenFile (optional, refresh_token flow): each rotated refresh
	// token is written here (atomically, mode 0600) and, when the file
	// exists, it is preferred over RefreshToken, so a restart never uses a
	// token Salesforce already revoked. Never the database: no secrets there.
	RefreshTokenFile string   `yaml:"refresh_token_file"`
	Scopes           []string `yaml:"scopes"`
	// Audience overrides the JWT aud claim (default: login_url). Salesforce
	// accepts https://login.salesforce.com, https://test.salesforce.com or
	// the My Domain / Experience Cloud URL.
	Audience string `yaml:"audience"`
}

// GovernorConfig bounds the share of the daily API allocation triage uses.
type GovernorConfig struct {
	// NonCriticalShare: above this share of the daily allocation, only calls
	// marked critical are made. Default 0.80.
	NonCriticalShare float64 `yaml:"non_critical_share"`
	// CriticalShare: above this share no call is made. Default 0.95.
	CriticalShare float64 `yaml:"critical_share"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.LoginURL == "" {
		c.LoginURL = DefaultLoginURL
	}
	c.LoginURL = strings.TrimRight(c.LoginURL, "/")
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	c.APIVersion = strings.TrimPrefix(c.APIVersion, "v")
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if len(c.Auth.Scopes) == 0 {
		c.Auth.Scopes = append([]string(nil), defaultScopes...)
	}
	if c.Governor.NonCriticalShare == 0 {
		c.Governor.NonCriticalShare = DefaultNonCriticalShare
	}
	if c.Governor.CriticalShare == 0 {
		c.Governor.CriticalShare = DefaultCriticalShare
	}
}

var apiVersionRE = regexp.MustCompile(`^v?[1-9][0-9]*\.[0-9]$`)

// Validate reports every problem, each prefixed with its key path.
// It does no I/O: the key file is read by New.
func (c *Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := checkBaseURL(c.LoginURL); err != nil {
		add("login_url", "%v", err)
	}
	if !apiVersionRE.MatchString(c.APIVersion) {
		add("api_version", "must look like \"62.0\", got %q", c.APIVersion)
	}
	if c.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	a := c.Auth
	if a.ClientID == "" {
		add("auth.client_id", "required (the connected app's consumer key)")
	}
	switch a.Flow {
	case FlowJWT:
		if a.Username == "" {
			add("auth.username", "required for the jwt flow")
		}
		if a.PrivateKeyFile == "" {
			add("auth.private_key_file", "required for the jwt flow")
		}
		if a.Audience != "" {
			if err := checkBaseURL(a.Audience); err != nil {
				add("auth.audience", "%v", err)
			}
		}
	case FlowClientCredentials:
		if a.ClientSecret == "" {
			add("auth.client_secret", "required for the client_credentials flow")
		}
	case FlowRefreshToken:
		// With a token file the token may live only there (checked by New).
		if a.RefreshToken == "" && a.RefreshTokenFile == "" {
			add("auth.refresh_token", "required for the refresh_token flow (or auth.refresh_token_file holding one)")
		}
	case "":
		add("auth.flow", "required: one of jwt, client_credentials, refresh_token")
	default:
		add("auth.flow", "must be one of jwt, client_credentials, refresh_token, got %q", a.Flow)
	}
	g := c.Governor
	if g.NonCriticalShare <= 0 || g.NonCriticalShare > 1 {
		add("governor.non_critical_share", "must be in (0, 1], got %v", g.NonCriticalShare)
	}
	if g.CriticalShare <= 0 || g.CriticalShare > 1 {
		add("governor.critical_share", "must be in (0, 1], got %v", g.CriticalShare)
	} else if g.NonCriticalShare > g.CriticalShare {
		add("governor.non_critical_share", "must not exceed governor.critical_share (%v > %v)", g.NonCriticalShare, g.CriticalShare)
	}
	return errs
}

// checkBaseURL accepts https URLs, and http only for loopback hosts: a bearer
// token must never cross a network in clear.
func checkBaseURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Host == "" {
		return fmt.Errorf("must be an absolute URL with a host, got %q", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must not carry user info, query or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("plain http is only allowed for loopback hosts, got %q", u.Host)
	default:
		return fmt.Errorf("scheme must be https, got %q", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String redacts secrets so a logged or printed config never shows them.
func (a AuthConfig) String() string {
	return fmt.Sprintf("{Flow:%s ClientID:%s ClientSecret:%s Username:%s PrivateKeyFile:%s RefreshToken:%s RefreshTokenFile:%s Scopes:%v Audience:%s}",
		a.Flow, a.ClientID, redact(a.ClientSecret), a.Username, a.PrivateKeyFile, redact(a.RefreshToken), a.RefreshTokenFile, a.Scopes, a.Audience)
}

// LogValue redacts secrets in slog output.
func (a AuthConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("flow", a.Flow),
		slog.String("client_id", a.ClientID),
		slog.String("client_secret", redact(a.ClientSecret)),
		slog.String("username", a.Username),
		slog.String("private_key_file", a.PrivateKeyFile),
		slog.String("refresh_token", redact(a.RefreshToken)),
		slog.String("refresh_token_file", a.RefreshTokenFile),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}
