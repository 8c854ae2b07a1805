package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPDoer is the seam to the network; *http.Client satisfies it.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// maxBody bounds how much of an answer is read (a 2000-record query page
// with long text fields stays well under it).
const maxBody = 64 << 20

// Client talks to one org. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    HTTPDoer
	log     *slog.Logger
	now     func() time.Time
	auth    *authenticator
	metrics *metrics
	budget  *budget

	tokMu sync.Mutex
	sess  *session

	descMu   sync.Mutex
	describe map[string]*DescribeResult
}

// Option configures New.
type Option func(*options)

type options struct {
	http      HTTPDoer
	log       *slog.Logger
	now       func() time.Time
	reg       prometheus.Registerer
	onRefresh func(string)
}

// WithHTTPClient sets the transport seam (default: an *http.Client without
// its own timeout; every call is bounded by Config.Timeout).
func WithHTTPClient(d HTTPDoer) Option { return func(o *options) { o.http = d } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithNow injects the clock (used for JWT exp).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRegisterer registers the client's Prometheus collectors on r.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithOnRefreshToken is called with the new refresh token whenever
// Salesforce rotates it; the caller must persist it (the old one is dead).
// It runs while the client holds its token lock: it must not call the client.
func WithOnRefreshToken(fn func(newToken string)) Option {
	return func(o *options) { o.onRefresh = fn }
}

// New builds a client. It reads the JWT key file but makes no network call:
// the first request (or Authenticate) fetches the token.
func New(ctx context.Context, cfg Config, opts ...Option) (*Client, error) {
	_ = ctx // reserved: New does no network I/O
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.http == nil {
		o.http = &http.Client{}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	cfg.SetDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("salesforce config: %w", errors.Join(errs...))
	}
	auth, err := newAuthenticator(cfg, o.http, o.now, o.onRefresh, o.log)
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	if o.reg != nil {
		if err := m.register(o.reg); err != nil {
			return nil, fmt.Errorf("salesforce: registering metrics: %w", err)
		}
	}
	return &Client{
		cfg:      cfg,
		http:     o.http,
		log:      o.log,
		now:      o.now,
		auth:     auth,
		metrics:  m,
		budget:   &budget{gov: cfg.Governor, m: m, now: o.now},
		describe: map[string]*DescribeResult{},
	}, nil
}

// APIVersion is the REST version in use, e.g. "62.0".
func (c *Client) APIVersion() string { return c.cfg.APIVersion }

// Budget returns the last known API usage and the calls this client made.
func (c *Client) Budget() Budget { return c.budget.snapshot() }

// InstanceURL is the org's REST host from the token response ("" before the
// first token).
func (c *Client) InstanceURL() string {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.sess == nil {
		return ""
	}
	return c.sess.instanceURL
}

// Authenticate fetches a fresh token now (e.g. for `triage check`).
func (c *Client) Authenticate(ctx context.Context) error {
	ctx, cancel := c.withTimeout(ctx, 0)
	defer cancel()
	_, err := c.refresh(ctx, nil, false)
	return err
}

// session returns the current session, fetching one if none.
func (c *Client) session(ctx context.Context) (*session, error) {
	c.tokMu.Lock()
	s := c.sess
	c.tokMu.Unlock()
	if s != nil {
		return s, nil
	}
	return c.refresh(ctx, nil, true)
}

// refresh fetches a new session. With ifMissing it only fetches when there
// is none; with stale it only fetches if the current session is still the
// one that just failed, so N concurrent 401s cost one token call.
func (c *Client) refresh(ctx context.Context, stale *session, ifMissing bool) (*session, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.sess != nil && (ifMissing || (stale != nil && c.sess != stale)) {
		return c.sess, nil
	}
	s, err := c.auth.fetch(ctx)
	if err != nil {
		c.metrics.tokenFetches.WithLabelValues("error").Inc()
		c.log.Warn("salesforce token request failed", "flow", c.cfg.Auth.Flow, "err", err)
		return nil, err
	}
	c.metrics.tokenFetches.WithLabelValues("ok").Inc()
	if !hasScope(s.scope, "api") && s.scope != "" {
		c.log.Warn("salesforce token lacks the api scope; REST calls will fail", "scope", s.scope)
	}
	c.log.Info("salesforce token obtained", "flow", c.cfg.Auth.Flow, "instance_url", s.instanceURL, "scope", s.scope)
	c.sess = s
	return s, nil
}

func hasScope(scopes, want string) bool {
	for _, s := range strings.Fields(scopes) {
		if s == want || s == "full" {
			return true
		}
	}
	return false
}

// CallOption adjusts one call.
type CallOption func(*callOpts)

type callOpts struct {
	critical   bool
	autoAssign string // "", "TRUE", "FALSE" or an AssignmentRule ID
	allowSave  *bool
	timeout    time.Duration
}

// Critical lets the call through the governor up to CriticalShare.
func Critical() CallOption { return func(o *callOpts) { o.critical = true } }

// AutoAssign sends Sforce-Auto-Assign: TRUE or FALSE for this call.
func AutoAssign(on bool) CallOption {
	return func(o *callOpts) {
		o.autoAssign = "FALSE"
		if on {
			o.autoAssign = "TRUE"
		}
	}
}

// AssignmentRule sends Sforce-Auto-Assign: <ruleID>, applying that rule.
func AssignmentRule(ruleID string) CallOption {
	return func(o *callOpts) { o.autoAssign = ruleID }
}

// AllowDuplicateSave sets Sforce-Duplicate-Rule-Header: allowSave=<on> for
// this call, overriding Config.AllowDuplicateSave.
func AllowDuplicateSave(on bool) CallOption { return func(o *callOpts) { o.allowSave = &on } }

// Timeout overrides Config.Timeout for this call.
func Timeout(d time.Duration) CallOption { return func(o *callOpts) { o.timeout = d } }

func (c *Client) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = c.cfg.Timeout
	}
	return context.WithTimeout(ctx, d)
}

// request is one REST call. path is relative to the instance URL and
// starts with /services/.
type request struct {
	method string
	path   string
	query  string // raw, already encoded
	body   any    // marshalled to JSON when non-nil
	opts   []CallOption
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends r with auth, governor, timeout, limit tracking and the
// once-only retry after a 401. Non-2xx answers (300 included) come back as
// *APIError.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	var o callOpts
	for _, opt := range r.opts {
		opt(&o)
	}
	if err := c.budget.admit(o.critical || isCritical(ctx)); err != nil {
		// Debug only: refusals are counted in a metric, and above the
		// threshold every call would log.
		c.log.Debug("salesforce call refused by governor", "method", r.method, "path", r.path, "err", err)
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx, o.timeout)
	defer cancel()

	var payload []byte
	if r.body != nil {
		var err error
		if raw, ok := r.body.(json.RawMessage); ok {
			payload = raw
		} else if payload, err = json.Marshal(r.body); err != nil {
			return nil, &RequestError{Op: r.method + " " + r.path, Reason: "body does not marshal to JSON: " + err.Error()}
		}
	}
	sess, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, sess, r, &o, payload)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized && attempt == 0 {
			// Salesforce gives no expiry: a 401 is how we learn the
			// session ended. Refresh and retry exactly once.
			c.log.Info("salesforce session rejected; refreshing token", "method", r.method, "path", r.path)
			if sess, err = c.refresh(ctx, sess, false); err != nil {
				return nil, err
			}
			continue
		}
		if resp.status < 200 || resp.status > 299 {
			return resp, decodeAPIError(r.method, r.path, resp.status, resp.header, resp.body)
		}
		return resp, nil
	}
}

func (c *Client) send(ctx context.Context, sess *session, r request, o *callOpts, payload []byte) (*response, error) {
	u := sess.instanceURL + r.path
	if r.query != "" {
		u += "?" + r.query
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, &RequestError{Op: r.method + " " + r.path, Reason: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+sess.accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "triage-salesforce/1")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.method != http.MethodGet {
		aa := o.autoAssign
		if aa == "" && c.cfg.AutoAssign != nil {
			aa = "FALSE"
			if *c.cfg.AutoAssign {
				aa = "TRUE"
			}
		}
		if aa != "" {
			req.Header.Set("Sforce-Auto-Assign", aa)
		}
		allow := c.cfg.AllowDuplicateSave
		if o.allowSave != nil {
			allow = *o.allowSave
		}
		if allow {
			req.Header.Set("Sforce-Duplicate-Rule-Header", "allowSave=true")
		} else if o.allowSave != nil {
			req.Header.Set("Sforce-Duplicate-Rule-Header", "allowSave=false")
		}
	}
	start := c.now()
	c.budget.countCall()
	resp, err := c.http.Do(req)
	if err != nil {
		c.metrics.requests.WithLabelValues("error").Inc()
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The caller cancelled: not a Salesforce failure.
			return nil, fmt.Errorf("salesforce: %s %s: %w", r.method, r.path, ctx.Err())
		}
		return nil, &TransportError{Method: r.method, Path: r.path, Err: stripURL(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	c.metrics.duration.Observe(c.now().Sub(start).Seconds())
	c.metrics.requests.WithLabelValues(statusClass(resp.StatusCode)).Inc()
	if used, max, ok := parseLimitInfo(resp.Header.Get("Sforce-Limit-Info")); ok {
		c.budget.observe(used, max)
	}
	if err != nil {
		return nil, &TransportError{Method: r.method, Path: r.path, Err: err}
	}
	c.log.Debug("salesforce call", "method", r.method, "path", r.path, "status", resp.StatusCode, "duration", c.now().Sub(start))
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// stripURL drops the URL net/http puts in its errors: the query string of
// a SOQL call can carry customer data.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// decodeJSON unmarshals a body into dst, wrapping failures as permanent:
// an answer we cannot read will not improve on retry.
func decodeJSON(r request, body []byte, dst any) error {
	if err := json.Unmarshal(body, dst); err != nil {
		return &RequestError{Op: "answer to " + r.method + " " + r.path, Reason: "cannot decode: " + err.Error()}
	}
	return nil
}

func (c *Client) dataPath(rest string) string {
	return "/services/data/v" + c.cfg.APIVersion + "/" + rest
}
