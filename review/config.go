package review

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// Defaults of the review section.
const (
	DefaultAddr             = "127.0.0.1:8080"
	DefaultSessionLifetime  = 12 * time.Hour
	DefaultLoginAttempts    = 5
	DefaultLoginWindow      = 15 * time.Minute
	DefaultRetrainInterval  = 24 * time.Hour
	DefaultOIDCRoleClaim    = "groups"
	minSessionLifetime      = 5 * time.Minute
	minRetrainInterval      = time.Minute
	maxLoginAttemptsAllowed = 1000
)

// Role is what a user may do. Roles are ordered: each includes the ones before it.
type Role string

// The roles: viewers read, managers act on messages, admins also replay and push through.
const (
	RoleViewer  Role = "viewer"
	RoleManager Role = "manager"
	RoleAdmin   Role = "admin"
)

// Roles lists the valid roles, weakest first.
var Roles = []Role{RoleViewer, RoleManager, RoleAdmin}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleManager:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Includes reports whether r grants at least what need grants.
func (r Role) Includes(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// Config is the `review:` section of the triage configuration.
type Config struct {
	// Enabled serves the UI from `triage run` and `triage demo` (default true).
	Enabled *bool `yaml:"enabled"`
	// Addr is the listen address (default 127.0.0.1:8080). A non-loopback
	// address needs a user (`triage user add`) or OIDC: without a configured
	// user the UI listens on loopback only.
	Addr string `yaml:"addr"`
	// TLS serves HTTPS when both files are set; session cookies are then Secure.
	TLS TLSConfig `yaml:"tls"`
	// SessionLifetime is how long a login lasts (default 12h).
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// LoginRateLimit bounds failed logins per user name and per client address.
	LoginRateLimit RateLimit `yaml:"login_rate_limit"`
	// OIDC enables single sign-on when issuer (or auth_url) and client_id are set.
	OIDC OIDCConfig `yaml:"oidc"`
	// SecureCookies marks cookies Secure. Default: on with tls or an https
	// oidc.redirect_url; turn it on behind a TLS-terminating proxy.
	SecureCookies *bool `yaml:"secure_cookies"`
	// RetrainInterval is how often the offline classifier retrains from
	// manager corrections (default 24h; a negative value turns it off).
	RetrainInterval time.Duration `yaml:"retrain_interval"`
}

// TLSConfig names the certificate and key files (PEM).
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// RateLimit allows Attempts failures per Window.
type RateLimit struct {
	Attempts int           `yaml:"attempts"` // default 5
	Window   time.Duration `yaml:"window"`   // default 15m
}

// OIDCConfig is an OpenID Connect provider used through the authorization code
// flow with PKCE. Endpoints are given explicitly (no discovery at start-up, so
// the UI starts when the provider is down).
type OIDCConfig struct {
	Issuer       string `yaml:"issuer"`
	AuthURL      string `yaml:"auth_url"`
	TokenURL     string `yaml:"token_url"`
	UserinfoURL  string `yaml:"userinfo_url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"` // a ${ENV} reference in the file
	// RedirectURL is this UI's callback, ending in /auth/oidc/callback.
	RedirectURL string   `yaml:"redirect_url"`
	Scopes      []string `yaml:"scopes"` // default openid, profile, email
	// RoleClaim is the userinfo claim holding group names (default "groups").
	RoleClaim string `yaml:"role_claim"`
	// Roles maps a claim value (group name) to a role; the strongest match wins.
	Roles map[string]Role `yaml:"roles"`
	// DefaultRole is given to an authenticated user no mapping matches; empty denies access.
	DefaultRole Role `yaml:"default_role"`
	// NameClaim is the userinfo claim used as the user's name in the audit trail
	// (default preferred_username, then email, then sub).
	NameClaim string `yaml:"name_claim"`
}

// Enabled reports whether OIDC is configured.
func (o OIDCConfig) Enabled() bool {
	return o.ClientID != "" || o.Issuer != "" || o.AuthURL != ""
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Enabled == nil {
		on := true
		c.Enabled = &on
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = DefaultSessionLifetime
	}
	if c.LoginRateLimit.Attempts == 0 {
		c.LoginRateLimit.Attempts = DefaultLoginAttempts
	}
	if c.LoginRateLimit.Window == 0 {
		c.LoginRateLimit.Window = DefaultLoginWindow
	}
	if c.RetrainInterval == 0 {
		c.RetrainInterval = DefaultRetrainInterval
	}
	if c.OIDC.Enabled() {
		o := &c.OIDC
		iss := strings.TrimRight(o.Issuer, "/")
		// Common defaults for providers that follow the usual layout; explicit URLs win.
		if o.AuthURL == "" && iss != "" {
			o.AuthURL = iss + "/authorize"
		}
		if o.TokenURL == "" && iss != "" {
			o.TokenURL = iss + "/token"
		}
		if o.UserinfoURL == "" && iss != "" {
			o.UserinfoURL = iss + "/userinfo"
		}
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"openid", "profile", "email"}
		}
		if o.RoleClaim == "" {
			o.RoleClaim = DefaultOIDCRoleClaim
		}
	}
}

// IsEnabled reports whether the UI is served.
func (c *Config) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// RetrainEnabled reports whether automatic retraining runs.
func (c *Config) RetrainEnabled() bool { return c.RetrainInterval > 0 }

// Validate reports every problem with the section; messages start with the key path.
// Whether users exist is only known with the database open: New refuses a
// non-loopback address when neither a user nor OIDC is configured.
func (c *Config) Validate() []error {
	var errs []error
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr: %q is not host:port: %v", c.Addr, err))
	} else if port == "" {
		errs = append(errs, fmt.Errorf("addr: %q has no port", c.Addr))
	} else if host == "" {
		errs = append(errs, fmt.Errorf("addr: %q listens on every interface; name the address (127.0.0.1:PORT for this machine only, 0.0.0.0:PORT to expose it deliberately)", c.Addr))
	}
	if c.TLS.Enabled() {
		if c.TLS.CertFile == "" {
			errs = append(errs, errors.New("tls.cert_file: must be set together with tls.key_file"))
		} else if _, err := os.Stat(c.TLS.CertFile); err != nil {
			errs = append(errs, fmt.Errorf("tls.cert_file: %v", err))
		}
		if c.TLS.KeyFile == "" {
			errs = append(errs, errors.New("tls.key_file: must be set together with tls.cert_file"))
		} else if _, err := os.Stat(c.TLS.KeyFile); err != nil {
			errs = append(errs, fmt.Errorf("tls.key_file: %v", err))
		}
	}
	if c.SessionLifetime < minSessionLifetime {
		errs = append(errs, fmt.Errorf("session_lifetime: %s is too short (minimum %s)", c.SessionLifetime, minSessionLifetime))
	}
	if c.LoginRateLimit.Attempts < 1 || c.LoginRateLimit.Attempts > maxLoginAttemptsAllowed {
		errs = append(errs, fmt.Errorf("login_rate_limit.attempts: %d must be between 1 and %d", c.LoginRateLimit.Attempts, maxLoginAttemptsAllowed))
	}
	if c.LoginRateLimit.Window < time.Second {
		errs = append(errs, fmt.Errorf("login_rate_limit.window: %s is too short (minimum 1s)", c.LoginRateLimit.Window))
	}
	if c.RetrainInterval > 0 && c.RetrainInterval < minRetrainInterval {
		errs = append(errs, fmt.Errorf("retrain_interval: %s is too short (minimum %s; negative turns it off)", c.RetrainInterval, minRetrainInterval))
	}
	if c.OIDC.Enabled() {
		errs = append(errs, c.OIDC.validate()...)
	}
	return errs
}

func (o *OIDCConfig) validate() []error {
	var errs []error
	checkURL := func(key, v string, required bool) {
		if v == "" {
			if required {
				errs = append(errs, fmt.Errorf("oidc.%s: must be set (or set oidc.issuer)", key))
			}
			return
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("oidc.%s: %q is not an http(s) URL", key, v))
			return
		}
		// Tokens over plain HTTP leak; allow it only to this machine (tests, local IdPs).
		if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			errs = append(errs, fmt.Errorf("oidc.%s: %q must use https", key, v))
		}
	}
	if o.Issuer != "" {
		checkURL("issuer", o.Issuer, false)
	}
	checkURL("auth_url", o.AuthURL, true)
	checkURL("token_url", o.TokenURL, true)
	checkURL("userinfo_url", o.UserinfoURL, true)
	if o.ClientID == "" {
		errs = append(errs, errors.New("oidc.client_id: must be set"))
	}
	if o.RedirectURL == "" {
		errs = append(errs, errors.New("oidc.redirect_url: must be set (this UI's URL ending in /auth/oidc/callback)"))
	} else if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs = append(errs, fmt.Errorf("oidc.redirect_url: %q is not an http(s) URL", o.RedirectURL))
	} else if u.Path != oidcCallbackPath {
		errs = append(errs, fmt.Errorf("oidc.redirect_url: path must be %s, not %q", oidcCallbackPath, u.Path))
	}
	keys := make([]string, 0, len(o.Roles))
	for k := range o.Roles {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !o.Roles[k].Valid() {
			errs = append(errs, fmt.Errorf("oidc.roles.%s: %q is not one of viewer, manager, admin", k, o.Roles[k]))
		}
	}
	if o.DefaultRole != "" && !o.DefaultRole.Valid() {
		errs = append(errs, fmt.Errorf("oidc.default_role: %q is not one of viewer, manager, admin (or empty to deny)", o.DefaultRole))
	}
	if len(o.Roles) == 0 && o.DefaultRole == "" {
		errs = append(errs, errors.New("oidc.roles: map at least one group to a role, or set oidc.default_role; otherwise nobody can sign in"))
	}
	return errs
}

const oidcCallbackPath = "/auth/oidc/callback"

// isLoopbackAddr reports whether a listen address only accepts local connections.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return isLoopbackHost(host)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
