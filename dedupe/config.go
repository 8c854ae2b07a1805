package dedupe

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Behaviours for a reply to a closed case (Config.Reopen.Behaviour).
const (
	// ReopenWithinWindow reopens a case closed less than Reopen.Window ago and
	// opens a new case linked to it (ParentId) otherwise.
	ReopenWithinWindow = "reopen"
	// ReopenNever always opens a new linked case.
	ReopenNever = "new_linked"
)

// DefaultThreadTokenFormat is put in case subjects; {key} is the thread key.
const DefaultThreadTokenFormat = "[ref:T-{key}]"

// DefaultFreeMailDomains are consumer mail providers: a sender's domain there
// says nothing about which Account they belong to.
var DefaultFreeMailDomains = []string{
	"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de",
	"live.com", "live.co.uk", "live.fr", "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es",
	"yahoo.it", "ymail.com", "rocketmail.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
	"protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de",
	"freenet.de", "mail.com", "mail.ru", "yandex.com", "yandex.ru", "zoho.com", "fastmail.com", "tutanota.com",
	"orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "libero.it", "virgilio.it", "alice.it",
	"tiscali.it", "terra.com.br", "uol.com.br", "bol.com.br", "sapo.pt", "ziggo.nl", "kpnmail.nl", "hetnet.nl",
	"planet.nl", "telenet.be", "skynet.be", "btinternet.com", "sky.com", "qq.com", "163.com", "126.com",
	"naver.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "hey.com",
}

// Config is the `dedupe` section of the config file.
type Config struct {
	Address AddressOptions `yaml:"address"`
	// AlternateEmailFields are Contact fields holding further addresses of a
	// person (e.g. Secondary_Email__c), searched after Contact.Email.
	AlternateEmailFields []string `yaml:"alternate_email_fields"`
	// AlternateEmailWritable: when a contact is matched by name on its
	// account, record the new address in the first alternate field if empty.
	AlternateEmailWritable bool `yaml:"alternate_email_writable"`
	// AccountDomainFields are Account fields compared with the sender's
	// domain (URLs such as Website are reduced to their host).
	AccountDomainFields []string `yaml:"account_domain_fields"`
	// FreeMailDomains are never matched against Accounts.
	FreeMailDomains []string `yaml:"free_mail_domains"`
	// CreateContacts: when no contact matches, decide to create one (default true).
	CreateContacts *bool `yaml:"create_contacts"`

	ContactCache CacheConfig    `yaml:"contact_cache"`
	Thread       ThreadConfig   `yaml:"thread"`
	Reopen       ReopenConfig   `yaml:"reopen"`
	Loop         LoopConfig     `yaml:"loop"`
	Context      ContextConfig  `yaml:"context"`
	Prefetch     PrefetchConfig `yaml:"prefetch"`

	// SkipLists skips mail carrying List-Id / List-Unsubscribe (newsletters,
	// mailing lists). Default true.
	SkipLists *bool `yaml:"skip_lists"`
	// OwnAddresses are the addresses the app and the support org send from;
	// their messages never open cases (they would loop).
	OwnAddresses []string `yaml:"own_addresses"`
}

// AddressOptions control NormalizeAddress.
type AddressOptions struct {
	// CaseInsensitiveLocal lower-cases the local part (default true). RFC 5321
	// allows case-sensitive local parts but no mainstream provider uses them.
	CaseInsensitiveLocal *bool `yaml:"case_insensitive_local"`
	// StripPlusTags removes "+tag" from the local part (default true).
	StripPlusTags *bool `yaml:"strip_plus_tags"`
	// GmailDotFolding removes dots from gmail.com/googlemail.com local parts
	// and maps googlemail.com to gmail.com (default false).
	GmailDotFolding bool `yaml:"gmail_dot_folding"`
}

// CacheConfig is the address → Contact cache.
type CacheConfig struct {
	// TTL bounds how long a cached address → contact entry is trusted.
	TTL time.Duration `yaml:"ttl"`
	// PollInterval is how often Contact and Account are polled by
	// SystemModstamp to drop entries Salesforce changed.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// ThreadConfig controls how replies find their case.
type ThreadConfig struct {
	// TokenFormat is the token in case subjects; must contain {key}.
	TokenFormat string `yaml:"token_format"`
	// SubjectMatching enables the last resort: same sender, same normalised
	// subject within SubjectWindow (default true).
	SubjectMatching *bool `yaml:"subject_matching"`
	// SubjectWindow is how far back subject matching looks (default 72h).
	SubjectWindow time.Duration `yaml:"subject_window"`
}

// ReopenConfig controls replies to closed cases.
type ReopenConfig struct {
	// Behaviour is "reopen" (within Window, else new linked case) or
	// "new_linked" (always a new case with ParentId).
	Behaviour string `yaml:"behaviour"`
	// Window: a case closed longer ago than this is not reopened (default 14 days).
	Window time.Duration `yaml:"window"`
}

// LoopConfig is the loop breaker per (sender, normalised subject).
type LoopConfig struct {
	// MaxMessages within Window trips the breaker (default 15).
	MaxMessages int `yaml:"max_messages"`
	// Window is the counting window (default 60s).
	Window time.Duration `yaml:"window"`
	// QuietPeriod: a tripped pair resumes once it has been silent this long (default 10m).
	QuietPeriod time.Duration `yaml:"quiet_period"`
}

// ContextConfig selects what the classifier is told about the customer.
// Only the fields named here are ever selected.
type ContextConfig struct {
	// Enabled reads account context from Salesforce (default true).
	Enabled *bool `yaml:"enabled"`
	// AccountNameField (default Name) and TierField (default none) are Account fields.
	AccountNameField string `yaml:"account_name_field"`
	TierField        string `yaml:"tier_field"`
	// RecentCases is how many recent case subjects to read (default 3, 0 = none).
	RecentCases *int `yaml:"recent_cases"`
	// SensitiveFields are never selected, whatever else says so.
	SensitiveFields []string `yaml:"sensitive_fields"`
}

// PrefetchConfig controls the batch look-ups of Stage.Prefetch: what the
// next messages need from Salesforce is asked for in a few queries and kept
// for TTL, so Salesforce API calls per email stay well under one.
type PrefetchConfig struct {
	// Lookahead is how many waiting messages beyond the batch are prefetched
	// for (default 200).
	Lookahead int `yaml:"lookahead"`
	// TTL bounds how long a prefetched answer (including "no contact has this
	// address", "this case is open") is trusted (default 2m). Longer saves
	// calls; shorter notices changes made in Salesforce sooner.
	TTL time.Duration `yaml:"ttl"`
}

func boolp(b bool) *bool { return &b }

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Address.CaseInsensitiveLocal == nil {
		c.Address.CaseInsensitiveLocal = boolp(true)
	}
	if c.Address.StripPlusTags == nil {
		c.Address.StripPlusTags = boolp(true)
	}
	if c.AccountDomainFields == nil {
		c.AccountDomainFields = []string{"Website"}
	}
	if c.FreeMailDomains == nil {
		c.FreeMailDomains = append([]string(nil), DefaultFreeMailDomains...)
	}
	if c.CreateContacts == nil {
		c.CreateContacts = boolp(true)
	}
	if c.ContactCache.TTL == 0 {
		c.ContactCache.TTL = time.Hour
	}
	if c.ContactCache.PollInterval == 0 {
		c.ContactCache.PollInterval = 5 * time.Minute
	}
	if c.Thread.TokenFormat == "" {
		c.Thread.TokenFormat = DefaultThreadTokenFormat
	}
	if c.Thread.SubjectMatching == nil {
		c.Thread.SubjectMatching = boolp(true)
	}
	if c.Thread.SubjectWindow == 0 {
		c.Thread.SubjectWindow = 72 * time.Hour
	}
	if c.Reopen.Behaviour == "" {
		c.Reopen.Behaviour = ReopenWithinWindow
	}
	if c.Reopen.Window == 0 {
		c.Reopen.Window = 14 * 24 * time.Hour
	}
	if c.Loop.MaxMessages == 0 {
		c.Loop.MaxMessages = 15
	}
	if c.Loop.Window == 0 {
		c.Loop.Window = 60 * time.Second
	}
	if c.Loop.QuietPeriod == 0 {
		c.Loop.QuietPeriod = 10 * time.Minute
	}
	if c.SkipLists == nil {
		c.SkipLists = boolp(true)
	}
	if c.Context.Enabled == nil {
		c.Context.Enabled = boolp(true)
	}
	if c.Context.AccountNameField == "" {
		c.Context.AccountNameField = "Name"
	}
	if c.Context.RecentCases == nil {
		n := 3
		c.Context.RecentCases = &n
	}
	if c.Prefetch.Lookahead == 0 {
		c.Prefetch.Lookahead = 200
	}
	if c.Prefetch.TTL == 0 {
		c.Prefetch.TTL = 2 * time.Minute
	}
}

// fieldNameRE is a Salesforce field API name. Field names are put into SOQL
// as identifiers (literals are quoted; identifiers cannot be), so they must
// be validated here.
var fieldNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

// Validate reports every problem, each prefixed with its key path.
func (c *Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	sensitive := map[string]bool{}
	for i, f := range c.Context.SensitiveFields {
		if !fieldNameRE.MatchString(f) {
			add(fmt.Sprintf("context.sensitive_fields[%d]", i), "not a field API name: %q", f)
		}
		sensitive[strings.ToLower(f)] = true
	}
	checkField := func(key, f string) {
		if !fieldNameRE.MatchString(f) {
			add(key, "not a field API name: %q", f)
		} else if sensitive[strings.ToLower(f)] {
			add(key, "%s is listed in context.sensitive_fields and is never selected", f)
		}
	}
	for i, f := range c.AlternateEmailFields {
		checkField(fmt.Sprintf("alternate_email_fields[%d]", i), f)
	}
	if c.AlternateEmailWritable && len(c.AlternateEmailFields) == 0 {
		add("alternate_email_writable", "needs alternate_email_fields")
	}
	for i, f := range c.AccountDomainFields {
		checkField(fmt.Sprintf("account_domain_fields[%d]", i), f)
	}
	for i, d := range c.FreeMailDomains {
		if d == "" || strings.ContainsAny(d, "@ \t/") {
			add(fmt.Sprintf("free_mail_domains[%d]", i), "not a domain: %q", d)
		}
	}
	if c.ContactCache.TTL < 0 {
		add("contact_cache.ttl", "must not be negative")
	}
	if c.ContactCache.PollInterval < 0 {
		add("contact_cache.poll_interval", "must not be negative")
	}
	if strings.Count(c.Thread.TokenFormat, "{key}") != 1 {
		add("thread.token_format", "must contain {key} exactly once, got %q", c.Thread.TokenFormat)
	} else if strings.TrimSpace(strings.Replace(c.Thread.TokenFormat, "{key}", "", 1)) == "" {
		add("thread.token_format", "needs literal text around {key} so a token cannot be mistaken for a word")
	}
	if c.Thread.SubjectWindow < 0 {
		add("thread.subject_window", "must not be negative")
	}
	switch c.Reopen.Behaviour {
	case ReopenWithinWindow, ReopenNever:
	default:
		add("reopen.behaviour", "must be one of reopen, new_linked, got %q", c.Reopen.Behaviour)
	}
	if c.Reopen.Window < 0 {
		add("reopen.window", "must not be negative")
	}
	if c.Loop.MaxMessages < 1 {
		add("loop.max_messages", "must be at least 1, got %d", c.Loop.MaxMessages)
	}
	if c.Loop.Window <= 0 {
		add("loop.window", "must be positive")
	}
	if c.Loop.QuietPeriod <= 0 {
		add("loop.quiet_period", "must be positive")
	}
	for i, a := range c.OwnAddresses {
		if !strings.Contains(a, "@") {
			add(fmt.Sprintf("own_addresses[%d]", i), "not an address: %q", a)
		}
	}
	checkField("context.account_name_field", c.Context.AccountNameField)
	if c.Context.TierField != "" {
		checkField("context.tier_field", c.Context.TierField)
	}
	if c.Context.RecentCases != nil && (*c.Context.RecentCases < 0 || *c.Context.RecentCases > 20) {
		add("context.recent_cases", "must be between 0 and 20, got %d", *c.Context.RecentCases)
	}
	if c.Prefetch.Lookahead < 0 || c.Prefetch.Lookahead > 2000 {
		add("prefetch.lookahead", "must be between 0 and 2000, got %d", c.Prefetch.Lookahead)
	}
	if c.Prefetch.TTL < 0 {
		add("prefetch.ttl", "must not be negative")
	}
	return errs
}
